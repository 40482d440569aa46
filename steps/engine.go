package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// ErrAborted is returned by Run when an operator aborted the plan.
var ErrAborted = errors.New("plan aborted by operator")

// Options tune a run.
type Options struct {
	// Parallel bounds how many hosts one step acts on at once (default 10).
	Parallel int
	// AutoApprove confirms each gate as soon as its conditions hold, and fails the run at the first
	// failed step instead of waiting for a decision.
	AutoApprove bool
	// Operator names who drives, for the journal and gate decisions.
	Operator string
	// Emit receives every event, in order, from the engine's goroutine. It must not block for long.
	Emit func(Event)
	// PollEvery is how often readings are taken (default 500ms of the world's clock).
	PollEvery time.Duration
	// FastPollEvery is how often readings are taken while a gate waits for the replication of a
	// database this run fenced (default 20ms): nothing writes there, so its lag reaches zero in
	// milliseconds and every moment of waiting is a moment users cannot write.
	FastPollEvery time.Duration
	// Params are the run parameters given with --set, recorded in the plan-started event.
	Params map[string]string
	// Halt, when set, stops the run at its next gate once halted (see halt.go).
	Halt *Halter
	// Resume, when set, continues an interrupted run (see resume.go).
	Resume *Resume
}

// StepError is returned by Run when a step failed and the run could not go on (with AutoApprove).
type StepError struct {
	StepID string
	Title  string
	// Hosts lists the hosts the step failed on, if it ran on hosts.
	Hosts []string
	Err   error
	// Advice says what the operator should do.
	Advice string
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("step %q (%s) failed", e.StepID, e.Title)
	if len(e.Hosts) > 0 {
		s += fmt.Sprintf(" on %v", e.Hosts)
	}
	s += ": " + e.Err.Error()
	if e.Advice != "" {
		s += "; " + e.Advice
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }

// Engine runs one plan against one world. Create it with New, start it with Run, and feed it the
// operator's decisions with Decide from any goroutine.
type Engine struct {
	inv       *inventory.Inventory
	plan      *Plan
	world     World
	opt       Options
	decisions chan Decision
	readings  chan Readings
	// fast makes the sampler read every FastPollEvery while a gate waits on a fenced database;
	// wake cuts the sampler's current wait short (fastpoll.go).
	fast atomic.Bool
	wake chan struct{}

	// Everything below is owned by the goroutine running Run.
	seq      int64
	started  time.Time
	live     inventory.Side
	prev     inventory.Side // the side before the last switch; "" before any switch
	last     Readings
	downtime time.Duration
	// usersBase is the probe's totals when the run began: the run's own counts are measured from it.
	usersBase ProbeTotals
	streaks   map[string]int
	busy      map[string]bool // hosts running an upgrade command
	fenced    map[string]bool
	promoted  map[string]bool
	paused    map[string]bool // replay paused by this run (readings may be missing or late)
	versions  map[string]string
	// progress counts, per step and host, the commands that completed, so a retry resumes where
	// the failure was instead of running finished commands again.
	progress map[string]map[string]int
	phase    string
	// interrupted describes a step stopped while it ran (abort, cancellation), for the final message.
	interrupted string
	// backupAhead is true while the promoted backup holds users' writes production does not have:
	// from a switch to it until the reverse sync has drained into production.
	backupAhead bool
	busyMu      sync.Mutex
	inflight    map[string]string      // host → the command running there (under busyMu)
	lastCmd     map[string]lastCommand // host → the newest command this run ran there (under busyMu)
	queue       decisionQueue          // decisions not yet taken by the engine: never dropped
	lockNoted   bool                   // the loss of the lock was announced
	discardAsk  string                 // the phrase the last discard question asked the operator to type
	attempts    map[string]int         // CommandID with attempt 0 → attempts so far (under busyMu)
	resumeGated bool                   // the first step of a resumed run got its confirmation gate

	// skippedChecks lists the verification steps an operator skipped, for the finishing gate.
	skippedChecks []string
	totals        ProbeTotals // what the probe saw over the whole run
	// rehearsal is what the rehearse plan measured (rehearse_run.go).
	rehearsal rehearsalState
}

// New returns an engine ready to run plan.
func New(inv *inventory.Inventory, plan *Plan, w World, opt Options) *Engine {
	if opt.Parallel <= 0 {
		opt.Parallel = 10
	}
	if opt.PollEvery <= 0 {
		opt.PollEvery = 500 * time.Millisecond
	}
	if opt.FastPollEvery <= 0 {
		opt.FastPollEvery = 20 * time.Millisecond
	}
	if opt.Emit == nil {
		opt.Emit = func(Event) {}
	}
	if opt.Operator == "" {
		opt.Operator = "operator"
	}
	if w.Clock == nil {
		w.Clock = WallClock{}
	}
	return &Engine{
		inv: inv, plan: plan, world: w, opt: opt,
		decisions: make(chan Decision),
		readings:  make(chan Readings, 1),
		wake:      make(chan struct{}, 1),
		streaks:   map[string]int{},
		busy:      map[string]bool{},
		inflight:  map[string]string{},
		fenced:    map[string]bool{},
		promoted:  map[string]bool{},
		paused:    map[string]bool{},
		versions:  map[string]string{},
		progress:  map[string]map[string]int{},
	}
}

// Decide hands the engine an operator's decision. It never blocks; a decision the current gate does
// not allow is ignored with a notice event.
func (e *Engine) Decide(d Decision) { e.queue.push(d) }

// emit stamps and sends one event.
func (e *Engine) emit(ev Event) {
	e.seq++
	ev.Seq = e.seq
	ev.Time = e.world.Clock.Now()
	ev.Plan = e.plan.Name
	if ev.Phase == "" {
		ev.Phase = e.phase
	}
	if ev.Gate != nil {
		// Consumers keep events; the engine goes on updating its gate.
		g := *ev.Gate
		g.Conditions = slices.Clone(g.Conditions)
		g.Allowed = slices.Clone(g.Allowed)
		g.Prompt, g.Reason = Redact(g.Prompt), Redact(g.Reason)
		g.Changes = redactAll(g.Changes)
		ev.Gate = &g
	}
	if ev.Kind == EvSwitched && ev.Change != nil {
		e.noteSwitch(inventory.Side(ev.Change.To))
	}
	// Everything an event says is shown, printed and journaled: no password written into a command
	// or printed by one goes further.
	ev.Text, ev.Err = Redact(ev.Text), Redact(ev.Err)
	if ev.Summary != nil {
		sum := *ev.Summary
		sum.State, sum.Next = Redact(sum.State), redactAll(sum.Next)
		ev.Summary = &sum
	}
	e.opt.Emit(ev)
}

// redactAll is Redact on each line, in a new slice.
func redactAll(lines []string) []string {
	if lines == nil {
		return nil
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = Redact(l)
	}
	return out
}

// outcome is how one pass over a step ended.
type outcome int

const (
	outDone outcome = iota
	outSkipped
	outRetry      // run the step again (through its gate for wait steps)
	outRolledBack // a rollback happened: wait at the rolled-back gate
	outAbort
	outFailed // with AutoApprove: the run ends
)

// Run executes the plan until it finishes, fails (with AutoApprove), is aborted, or ctx is cancelled.
// It returns nil when every step is done or skipped.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.started = e.world.Clock.Now()
	e.usersBase = e.world.Probe.Stats(time.Second).Totals
	e.emit(Event{Kind: EvPlanStarted, Text: fmt.Sprintf("%s plan on %s", e.plan.Name, e.inv.Name) + paramsText(e.opt.Params), Params: e.opt.Params})
	if side, err := e.world.Balancer.Live(ctx); err == nil {
		e.live = side
	} else {
		e.emit(Event{Kind: EvNotice, Text: "cannot read the live upstream yet: " + err.Error()})
	}
	e.applyResume()
	go e.sample(ctx)
	go e.queue.pump(ctx, e.decisions)

	steps := e.plan.Steps()
	var runErr error
	for i := 0; i < len(steps); {
		st := steps[i]
		if runErr = e.halted(st); runErr != nil {
			break
		}
		if ph := e.plan.Phases[e.plan.PhaseOf(st.ID)].Name; ph != e.phase {
			if e.phase != "" {
				e.emit(Event{Kind: EvPhaseFinished})
			}
			e.phase = ph
			e.emit(Event{Kind: EvPhaseStarted})
		}
		if e.resumeSkip(st) {
			i++
			continue
		}
		out, err := e.step(ctx, e.resumeGate(st))
		switch out {
		case outDone, outSkipped:
			if out == outSkipped {
				e.noteSkipped(st)
			}
			i++
			continue
		case outRolledBack:
			out, err = e.afterRollback(ctx, st)
			if out == outRetry {
				continue // the switch was redone: the interrupted step goes through its gate again
			}
		}
		if ctx.Err() != nil && err == nil {
			err = ctx.Err()
		}
		if out == outAbort && err == nil {
			err = ErrAborted
		}
		runErr = err
		break
	}
	if runErr == nil {
		runErr = e.confirmSkipped(ctx)
	}
	e.finish(runErr)
	return runErr
}

// step takes one step through its gate, runs it, and handles a failure.
func (e *Engine) step(ctx context.Context, st *Step) (outcome, error) {
	retried := false
	for {
		// A wait step's duration is its wait; a confirmed step's starts at the confirmation.
		start := e.world.Clock.Now()
		if needsGate(st) && !(retried && len(st.Gate.Conditions) == 0) {
			e.emit(Event{Kind: EvStepStarted, StepID: st.ID, Status: StatusWaiting})
			// A retry was already the operator's confirmation; the conditions still have to hold.
			d, err := e.gate(ctx, st, GateConfirm, "", retried)
			switch {
			case errors.Is(err, errGateTimeout):
				if out, ferr := e.failed(ctx, st, err, 0); out != outRetry {
					return out, ferr
				}
				retried = true
				continue
			case err != nil:
				return outAbort, err
			}
			switch d.Kind {
			case Skip:
				e.emit(Event{Kind: EvStepFinished, StepID: st.ID, Status: StatusSkipped})
				return outSkipped, nil
			case Abort:
				e.emit(Event{Kind: EvStepFinished, StepID: st.ID, Status: StatusAborted})
				return outAbort, nil
			case Rollback:
				return outRolledBack, nil
			}
		}
		if st.Gate.Confirm {
			start = e.world.Clock.Now()
		}
		e.emit(Event{Kind: EvStepStarted, StepID: st.ID, Status: StatusRunning})
		out, err := e.execute(ctx, st)
		dur := e.world.Clock.Now().Sub(start)
		switch out {
		case outDone:
			e.record(st)
			e.emit(Event{Kind: EvStepFinished, StepID: st.ID, Status: StatusDone, Duration: dur})
			return outDone, nil
		case outAbort:
			e.emit(Event{Kind: EvStepFinished, StepID: st.ID, Status: StatusAborted, Duration: dur, Err: errString(err)})
			return outAbort, err
		case outRolledBack:
			e.emit(Event{Kind: EvStepFinished, StepID: st.ID, Status: StatusFailed, Duration: dur, Err: "interrupted by a rollback"})
			return outRolledBack, nil
		}
		out, ferr := e.failed(ctx, st, err, dur)
		if out != outRetry {
			return out, ferr
		}
		retried = true
	}
}

// record notes what a finished step changed in the databases, for the badges and the final state.
func (e *Engine) record(st *Step) {
	for _, h := range st.Hosts {
		switch st.Action {
		case ActFence:
			e.fenced[h] = true
		case ActUnfence:
			delete(e.fenced, h)
		case ActPauseReplay:
			e.paused[h] = true
		case ActResumeReplay:
			delete(e.paused, h)
		case ActPromote:
			e.promoted[h] = true
		case ActWaitSync:
			if st.ID == "reverse-drain" {
				e.backupAhead = false // production has every write of the backup
			}
		case ActRun:
			if e.promoted[h] {
				delete(e.promoted, h) // rebuilt as a standby
				delete(e.fenced, h)
			}
		}
	}
}

// needsGate reports whether st waits before running: for a confirmation or for live conditions.
func needsGate(st *Step) bool { return st.Gate.Confirm || len(st.Gate.Conditions) > 0 }

// failed reports a failed step and waits for what to do about it.
func (e *Engine) failed(ctx context.Context, st *Step, err error, dur time.Duration) (outcome, error) {
	serr := e.stepError(st, err)
	e.emit(Event{Kind: EvStepFinished, StepID: st.ID, Status: StatusFailed, Duration: dur, Err: serr.Error()})
	if ctx.Err() != nil {
		return outAbort, ctx.Err()
	}
	if e.opt.AutoApprove {
		return outFailed, serr
	}
	d, gerr := e.gate(ctx, st, GateFailed, serr.Err.Error()+"; "+serr.Advice, false)
	if gerr != nil {
		return outAbort, gerr
	}
	switch d.Kind {
	case Retry:
		return outRetry, nil
	case Skip:
		e.emit(Event{Kind: EvStepFinished, StepID: st.ID, Status: StatusSkipped})
		return outSkipped, nil
	case Rollback:
		return outRolledBack, nil
	}
	return outAbort, nil
}

// afterRollback waits at the rolled-back gate: confirming redoes the switch that was rolled back and
// resumes at st; anything else stops the run.
func (e *Engine) afterRollback(ctx context.Context, st *Step) (outcome, error) {
	for {
		d, err := e.gate(ctx, st, GateRolledBack, fmt.Sprintf("traffic is back on %s; confirm to switch to %s again and resume at %q, or abort", e.live, e.prev, st.Title), false)
		if err != nil {
			return outAbort, err
		}
		if d.Kind != Confirm {
			return outAbort, nil
		}
		to := e.prev
		if err := e.switchGuard(ctx, to, false); err != nil {
			e.emit(Event{Kind: EvNotice, StepID: st.ID, Text: err.Error()})
			continue
		}
		if err := e.switchTo(ctx, &Step{ID: st.ID, Side: to}); err != nil {
			e.emit(Event{Kind: EvNotice, StepID: st.ID, Text: fmt.Sprintf("switching again to %s failed: %v", to, err)})
			continue
		}
		return outRetry, nil
	}
}

// finish emits the plan's last events.
func (e *Engine) finish(err error) {
	// One last reading, so the final screen shows the hosts as they are now, not as they were
	// during the last step.
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.apply(TakeReadings(rctx, e.world, e.inv, e.opt.PollEvery))
	if e.phase != "" {
		e.emit(Event{Kind: EvPhaseFinished})
	}
	status := StatusDone
	switch {
	case errors.Is(err, ErrAborted), errors.Is(err, context.Canceled), errors.Is(err, ErrHalted):
		status = StatusAborted
	case err != nil:
		status = StatusFailed
	}
	sum := &Summary{Status: status, Elapsed: e.world.Clock.Now().Sub(e.started), Downtime: e.downtime, Live: e.live, State: e.state(), SkippedChecks: e.skippedChecks,
		Users: e.totals}
	if status != StatusDone {
		sum.Next = append(e.next(rctx), e.appsLeft(rctx)...)
	}
	ev := Event{Kind: EvPlanFinished, Status: status, Duration: sum.Elapsed, Summary: sum, Err: errString(err)}
	switch status {
	case StatusDone:
		ev.Text = fmt.Sprintf("plan %s finished%s in %s; %s", e.plan.Name, skippedChecks(len(sum.SkippedChecks)), sum.Elapsed.Round(time.Second), sum.Users.UsersSaw())
	default:
		ev.Text = fmt.Sprintf("plan %s %s after %s; %s", e.plan.Name, status, sum.Elapsed.Round(time.Second), sum.Users.UsersSaw())
	}
	e.emit(ev)
}

// state says in words where the balancer and databases are left.
func (e *Engine) state() string {
	s := "balancer sends traffic to " + string(e.live)
	if e.live == "" {
		s = "balancer state unknown"
	}
	for _, l := range e.last.Lags {
		if l.Paused {
			s += fmt.Sprintf("; WAL replay is PAUSED on %s (resume it before the next sync)", l.To)
		}
		if l.Kind == Logical {
			s += fmt.Sprintf("; reverse sync %s is still running", l.Link())
		}
	}
	for _, h := range e.inv.HostNames() {
		if e.fenced[h] {
			s += fmt.Sprintf("; %s is FENCED read-only", h)
		}
		if e.promoted[h] {
			s += fmt.Sprintf("; %s was promoted to a primary", h)
		}
	}
	return s
}

// next says what to do about each thing a plan that did not finish leaves half-way: a command cut off,
// users on the backup, paused replay, a fence, a promoted backup, a running reverse sync.
func (e *Engine) next(ctx context.Context) []string {
	var out []string
	if e.interrupted != "" {
		out = append(out, e.interrupted)
	}
	prod, back := e.inv.Sides.Production.Database, e.inv.Sides.Backup.Database
	switch {
	case e.backupAhead:
		out = append(out, e.backupAheadNext(prod, back))
	case e.live == inventory.Backup:
		out = append(out, e.onBackupNext(ctx))
	}
	for _, l := range e.last.Lags {
		if l.Paused {
			if e.live == inventory.Backup && e.inv.SideOf(l.To) == inventory.Backup {
				// Resuming now would bring production's migration to the old app users are on.
				out = append(out, fmt.Sprintf("replay PAUSED on %s, which users read now: resume it only once users are back on production (in psql on %s run SELECT pg_wal_replay_resume();)", l.To, l.To))
				continue
			}
			out = append(out, PausedText(l.To))
		}
		if l.Kind == Logical {
			stop := &Step{Action: ActReverseStop, From: l.From, To: l.To}
			out = append(out, fmt.Sprintf("the reverse sync %s is still running: when %s has every write of %s, %s", l.Link(), l.To, l.From, DatabaseAction(stop)))
		}
	}
	for _, h := range e.inv.HostNames() { // fences first: users cannot write while one is up
		if e.fenced[h] && e.promoted[h] && e.live != e.inv.SideOf(h) {
			// A fenced promoted backup after the switch back: lifting its fence would let two
			// primaries take writes.
			out = append(out, fmt.Sprintf("%s is fenced read-only and users are not on it: leave the fence until it is rebuilt as a standby; lifting it would let two primaries take writes", h))
			continue
		}
		if e.fenced[h] {
			out = append(out, fmt.Sprintf("%s is fenced read-only: once users should write there again, in psql on %s run %s;", h, h, DatabaseAction(&Step{Action: ActUnfence})))
		}
	}
	for _, h := range e.inv.HostNames() {
		if e.promoted[h] && !(e.backupAhead && h == back) {
			what := fmt.Sprintf("%s is a primary now, no longer a standby: rebuild it as a standby of %s before the next run", h, e.inv.Sides.Production.Database)
			if cmds := e.inv.ReverseSync.Rebuild; len(cmds) > 0 && h == e.inv.Sides.Backup.Database {
				var exp []string
				for _, c := range cmds {
					exp = append(exp, e.inv.Expand(c, h))
				}
				what += " (reverse_sync.rebuild, on " + h + ": " + strings.Join(exp, " && ") + ")"
			}
			out = append(out, what)
		}
	}
	return e.forDemo(out)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
