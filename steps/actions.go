package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// execute runs st's action while it keeps taking readings and decisions: an abort or a rollback
// cancels the action (a running command is killed) before it is carried out.
func (e *Engine) execute(ctx context.Context, st *Step) (outcome, error) {
	if err := e.guard(ctx, st); err != nil {
		return outFailed, err
	}
	e.busyMu.Lock()
	clear(e.inflight) // commands of a step stopped earlier (for a rollback) are history
	e.busyMu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outputs := make(chan Event, 256)
	done := make(chan error, 1)
	go func() { done <- safely("step "+st.ID, func() error { return e.do(sctx, st, outputs) }) }()
	var after outcome = outDone
	for {
		select {
		case ev := <-outputs:
			e.emit(ev)
		case err := <-done:
			e.drain(outputs)
			if after != outDone {
				// A switch always says how it ended: its undo may have failed although it was cancelled.
				if err != nil && (st.Action == ActSwitch || !errors.Is(err, context.Canceled)) {
					// How the stopped step ended can matter — a switch whose undo failed leaves nginx
					// elsewhere than the file says: it is said, and kept for the final message.
					e.emit(Event{Kind: EvNotice, StepID: st.ID, Text: "the stopped step ended with: " + err.Error()})
					if after == outAbort {
						e.interrupted += "; it ended with: " + err.Error()
					}
				}
				return after, nil
			}
			if err != nil {
				if ctx.Err() != nil {
					// Cancelled (ctrl-c on a headless run): say what was cut off.
					e.noteInterrupted(st)
					return outAbort, ctx.Err()
				}
				return outFailed, err
			}
			return outDone, nil
		case r := <-e.readings:
			e.apply(r)
		case d := <-e.decisions:
			switch {
			case after != outDone:
				// Already stopping.
			case d.Kind == Abort:
				e.emit(Event{Kind: EvGateDecided, StepID: st.ID, Decision: &d})
				after = outAbort
				e.noteInterrupted(st)
				cancel()
			case d.Kind == Rollback && e.canRollback():
				// The step is stopped first, so nothing it does races the rollback.
				if !e.discardConfirmed(st, d) || (!d.Force && e.askRollback(ctx, st, e.prev)) {
					continue
				}
				cancel()
				e.drainUntil(outputs, done)
				e.emit(Event{Kind: EvGateDecided, StepID: st.ID, Decision: &d})
				d.Force = true
				if !e.rollback(ctx, st, d) {
					return outFailed, fmt.Errorf("step stopped for a rollback that failed; traffic stays on %s", e.live)
				}
				return outRolledBack, nil
			default:
				e.emit(Event{Kind: EvNotice, StepID: st.ID, Text: fmt.Sprintf("%s by %s ignored while %q runs (possible now: abort, rollback after a switch)", d.Kind, d.By, st.Title)})
			}
		}
	}
}

// drainUntil emits the step's output until the step has returned, then what is left: a step that
// prints hundreds of lines after its cancellation must not block on a full channel while the engine
// waits for it.
func (e *Engine) drainUntil(ch chan Event, done <-chan error) {
	for {
		select {
		case ev := <-ch:
			e.emit(ev)
		case <-done:
			e.drain(ch)
			return
		}
	}
}

func (e *Engine) drain(ch chan Event) {
	for {
		select {
		case ev := <-ch:
			e.emit(ev)
		default:
			return
		}
	}
}

// do carries out st's action. It runs on its own goroutine: it reports through out and must not touch
// engine state except through the busy set.
func (e *Engine) do(ctx context.Context, st *Step, out chan<- Event) error {
	w := e.world
	host := ""
	if len(st.Hosts) > 0 {
		host = st.Hosts[0]
	}
	say := func(h, text string) { out <- Event{Kind: EvOutput, StepID: st.ID, Host: h, Stream: Stdout, Text: text} }
	switch st.Action {
	case ActPreflight:
		return e.preflight(ctx, st, out)
	case ActWaitSync, ActVerifyTraffic:
		return nil // the gate's conditions were the work
	case ActSwitch:
		return e.doSwitch(ctx, st, out)
	case ActRun:
		return e.runCommands(ctx, st, out)
	case ActVerifyDirect:
		return e.verifyDirect(ctx, st, out)
	case ActPauseReplay, ActResumeReplay:
		for _, h := range st.Hosts {
			var err error
			if st.Action == ActPauseReplay {
				say(h, "pausing WAL replay")
				err = w.DB.PauseReplay(ctx, h)
			} else {
				say(h, "resuming WAL replay")
				err = w.DB.ResumeReplay(ctx, h)
			}
			if err != nil {
				return &hostsError{hosts: []string{h}, err: err}
			}
		}
		return nil
	case ActFence:
		say(host, "fencing writes: default_transaction_read_only = on, ending open write transactions")
		return w.DB.Fence(ctx, host)
	case ActUnfence:
		say(host, "lifting the write fence")
		return w.DB.Unfence(ctx, host)
	case ActPromote:
		say(host, "promoting to primary")
		err := w.DB.Promote(ctx, host)
		if errors.Is(err, ErrNotStandby) {
			// The goal holds: the preflight saw a standby, so this run (an earlier attempt that
			// reported an error) or someone by hand promoted it. The engine must know it is a primary.
			say(host, "already a primary (promoted by an earlier attempt, or by hand): counted as done")
			return nil
		}
		return err
	case ActCapture:
		say(host, "creating publication and logical slot for the reverse sync")
		return w.DB.StartCapture(ctx, host)
	case ActReverseStart:
		say(st.To, "subscribing to "+st.From+"'s captured changes")
		return w.DB.StartReverseSync(ctx, st.From, st.To)
	case ActAdvanceSeq:
		say(st.To, "advancing sequences past "+st.From+"'s values")
		return w.DB.AdvanceSequences(ctx, st.From, st.To)
	case ActReverseStop:
		say(st.To, "dropping the reverse sync")
		return w.DB.StopReverseSync(ctx, st.From, st.To)
	}
	if isRehearseAction(st.Action) {
		return e.doRehearse(ctx, st, out)
	}
	return fmt.Errorf("step %q has unknown action %q", st.ID, st.Action)
}

// doSwitch switches the balancer from the step's goroutine; the engine records the result when the
// step finishes (see switchTo for the synchronous form rollbacks use).
func (e *Engine) doSwitch(ctx context.Context, st *Step, out chan<- Event) error {
	bal := e.inv.Balancer.Host
	ch, err := e.world.Balancer.Switch(ctx, st.Side, func(line string) {
		out <- Event{Kind: EvOutput, StepID: st.ID, Host: bal, Stream: Stdout, Text: line}
	})
	if err != nil {
		return fmt.Errorf("switch to %s: %w", st.Side, err)
	}
	ch.From, ch.To = string(st.Side.Other()), string(st.Side)
	out <- Event{Kind: EvSwitched, StepID: st.ID, Change: &ch, Text: fmt.Sprintf("balancer now sends traffic to %s", st.Side)}
	return nil
}

// switchTo switches the balancer on the engine's goroutine (rollbacks and redoing a switch).
func (e *Engine) switchTo(ctx context.Context, st *Step) error {
	out := make(chan Event, 64)
	errc := make(chan error, 1)
	go func() { errc <- safely("the switch", func() error { return e.doSwitch(ctx, st, out) }) }()
	for {
		select {
		case ev := <-out:
			e.emit(ev)
		case err := <-errc:
			e.drain(out)
			return err
		}
	}
}

// noteSwitch records a switch the engine saw in an event it emits.
func (e *Engine) noteSwitch(to inventory.Side) {
	if to != e.live {
		e.prev, e.live = e.live, to
	}
	if to == inventory.Backup && e.promoted[e.inv.Sides.Backup.Database] {
		// Users write to the promoted backup from now on: production lacks those writes until the
		// reverse sync has drained them.
		e.backupAhead = true
	}
}

// runCommands runs the step's commands on its hosts, in parallel up to the limit unless the step is
// serial, each host's commands in order. A retry resumes every host at the command that failed.
func (e *Engine) runCommands(ctx context.Context, st *Step, out chan<- Event) error {
	e.busyMu.Lock()
	prog := e.progress[st.ID]
	if prog == nil {
		prog = map[string]int{}
		e.progress[st.ID] = prog
	}
	e.busyMu.Unlock()
	limit := e.opt.Parallel
	if st.Serial {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	var firstErr error
	stop := false
	for _, hc := range st.Exec {
		mu.Lock()
		halt := stop && st.Serial
		mu.Unlock()
		if halt {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := safely("commands on "+hc.Host, func() error { return e.runHost(ctx, st, hc, prog, out) })
			if err != nil {
				mu.Lock()
				failed = append(failed, hc.Host)
				if firstErr == nil {
					firstErr = err
				}
				stop = true
				mu.Unlock()
			}
		}()
		if st.Serial {
			wg.Wait()
		}
	}
	wg.Wait()
	if firstErr != nil {
		sort.Strings(failed)
		return &hostsError{hosts: failed, err: firstErr}
	}
	return nil
}

// noteInterrupted records, for the final message, the step being stopped while it runs and the
// commands it had in flight: they may be left half-done.
func (e *Engine) noteInterrupted(st *Step) {
	e.busyMu.Lock()
	defer e.busyMu.Unlock()
	note := fmt.Sprintf("step %q (%s) was stopped while it ran", st.ID, st.Title)
	var cmds []string
	for _, h := range slices.Sorted(maps.Keys(e.inflight)) {
		cmds = append(cmds, fmt.Sprintf("`%s` on %s", e.inflight[h], h))
	}
	if len(cmds) > 0 {
		note += "; these commands were killed and may be half-done: " + strings.Join(cmds, ", ") + "; check those hosts before you run the step again"
	}
	e.interrupted = note
}

func (e *Engine) runHost(ctx context.Context, st *Step, hc HostCommands, prog map[string]int, out chan<- Event) error {
	upgrading := st.Action == ActRun && e.inv.SideOf(hc.Host) != "" && e.isApp(hc.Host)
	e.busyMu.Lock()
	start := prog[hc.Host]
	if upgrading {
		e.busy[hc.Host] = true
	}
	e.busyMu.Unlock()
	defer func() {
		e.busyMu.Lock()
		delete(e.busy, hc.Host)
		e.busyMu.Unlock()
	}()
	for i := start; i < len(hc.Commands); i++ {
		cmd := hc.Commands[i]
		out <- Event{Kind: EvOutput, StepID: st.ID, Host: hc.Host, Stream: Stdout, Text: "$ " + cmd}
		e.busyMu.Lock()
		e.inflight[hc.Host] = cmd
		e.noteCommand(hc.Host, st.ID, cmd, false)
		e.busyMu.Unlock()
		began := e.world.Clock.Now()
		err := e.runOn(ctx, st, hc.Host, i, cmd, func(s Stream, line string) {
			out <- Event{Kind: EvOutput, StepID: st.ID, Host: hc.Host, Stream: s, Text: line}
		})
		out <- timed(commandFinished(ctx, st, hc.Host, cmd, err), e.world.Clock.Now().Sub(began), err)
		if err != nil {
			e.busyMu.Lock()
			e.noteCommand(hc.Host, st.ID, cmd, true)
			e.busyMu.Unlock()
			// A command cut off by cancellation stays in inflight for noteInterrupted.
			if ctx.Err() == nil {
				e.busyMu.Lock()
				delete(e.inflight, hc.Host)
				e.busyMu.Unlock()
			}
			return err
		}
		e.busyMu.Lock()
		delete(e.inflight, hc.Host)
		prog[hc.Host] = i + 1
		e.busyMu.Unlock()
	}
	return nil
}

func (e *Engine) isApp(host string) bool {
	for _, s := range []inventory.Side{inventory.Production, inventory.Backup} {
		for _, a := range e.inv.Sides.Get(s).Apps {
			if a == host {
				return true
			}
		}
	}
	return false
}

// hostsError is a step failure on some of its hosts.
type hostsError struct {
	hosts []string
	err   error
}

func (h *hostsError) Error() string { return h.err.Error() }
func (h *hostsError) Unwrap() error { return h.err }

// verifyDirect checks that every host answers with the expected version, retrying for a while since
// a freshly restarted application may need a moment.
func (e *Engine) verifyDirect(ctx context.Context, st *Step, out chan<- Event) error {
	deadline := e.world.Clock.Now().Add(30 * time.Second)
	for {
		var bad []string
		for _, h := range st.Hosts {
			c, err := e.world.Probe.Check(ctx, h)
			switch {
			case err != nil:
				bad = append(bad, h+": "+err.Error())
			case !c.OK:
				bad = append(bad, h+": "+c.Err)
			case st.Version != "" && c.Version == "" && c.VersionNote != "":
				bad = append(bad, fmt.Sprintf("%s: reports no version (%s), want %q; check upgrade.verify (its %s)", h, c.VersionNote, st.Version, st.VersionSource))
			case st.Version != "" && c.Version != st.Version:
				bad = append(bad, fmt.Sprintf("%s: reports version %q, want %q", h, c.Version, st.Version))
			default:
				e.busyMu.Lock()
				e.versions[h] = c.Version
				e.busyMu.Unlock()
				v := "version " + c.Version
				if st.Version == "" {
					v = "healthy; version not checked"
				}
				out <- Event{Kind: EvOutput, StepID: st.ID, Host: h, Stream: Stdout, Text: fmt.Sprintf("%s %s → %d, %s (%s)", "GET", st.Path, c.Status, v, c.Latency.Round(time.Millisecond))}
			}
		}
		if len(bad) == 0 {
			return nil
		}
		if e.world.Clock.Now().After(deadline) {
			return fmt.Errorf("direct check failed: %s", strings.Join(bad, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.world.Clock.After(time.Second):
		}
		st = &Step{ID: st.ID, Hosts: failedHosts(bad), Version: st.Version, Path: st.Path, VersionSource: st.VersionSource}
	}
}

func failedHosts(bad []string) []string {
	out := make([]string, len(bad))
	for i, b := range bad {
		out[i], _, _ = strings.Cut(b, ":")
	}
	return out
}

// stepError turns a step's failure into what the operator needs: which hosts and what to do.
func (e *Engine) stepError(st *Step, err error) *StepError {
	se := &StepError{StepID: st.ID, Title: st.Title, Err: err}
	var he *hostsError
	if errors.As(err, &he) {
		se.Hosts = he.hosts
	}
	var xe *ExitError
	keys := "retry (r), skip (s) or abort (a)"
	switch {
	case errors.Is(err, ErrConnectionLost):
		se.Advice = "the command may have half-run: check the host by hand; pitstop never re-runs it by itself"
		keys = "then retry (r) or skip (s)"
	case errors.As(err, &xe):
		se.Advice = fmt.Sprintf("read the output of %s above and fix the cause on the host", xe.Host)
		keys = "then retry (r)"
	case errors.Is(err, ErrRefused):
		se.Advice = "nothing was changed"
		keys = "then retry (r)"
	case errors.Is(err, errGateTimeout):
		se.Advice = "find out why the condition does not hold"
		keys = "then retry (r) to wait again, or abort (a)"
	case st.Action == ActSwitch:
		se.Advice = "the previous upstream stays live; fix the balancer"
		keys = "then retry (r)"
	default:
		se.Advice = "fix the cause"
	}
	if e.opt.AutoApprove {
		// Nobody is at a keyboard: say where things stand instead of which key to press.
		se.Advice += "; " + e.state()
		return se
	}
	se.Advice += ", " + keys
	if e.canRollback() {
		se.Advice += fmt.Sprintf("; R rolls traffic back to %s", e.prev)
	}
	return se
}
