package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// errGateTimeout is wrapped when a gate's conditions did not hold in time.
var errGateTimeout = errors.New("conditions did not hold in time")

// gate waits at st until a decision it allows arrives. For GateConfirm it returns Confirm without
// asking when the step needs no confirmation and its conditions hold, and Confirm under AutoApprove as
// soon as they hold. A Rollback decision is carried out here before gate returns it.
//
// approved means the operator already confirmed (by asking for a retry): the gate only waits for
// its conditions.
func (e *Engine) gate(ctx context.Context, st *Step, kind GateKind, reason string, approved bool) (Decision, error) {
	g := &GateState{StepID: st.ID, Kind: kind, Reason: reason}
	switch kind {
	case GateConfirm:
		g.Prompt = st.Title
		g.Changes = e.changes(ctx, st)
		g.Allowed = []DecisionKind{Confirm, Decline, Skip, Abort}
		if !st.Gate.Confirm {
			g.Allowed = []DecisionKind{Skip, Abort}
		}
	case GateFailed:
		g.Prompt = "Failed: " + st.Title
		g.Allowed = []DecisionKind{Retry, Skip, Abort}
	case GateRolledBack:
		g.Prompt = fmt.Sprintf("Rolled back to %s. Switch to %s again and resume?", e.live, e.prev)
		g.Changes = e.upstreamDiff(ctx, e.prev)
		g.Allowed = []DecisionKind{Confirm, Abort}
	case GateFinish:
		g.Prompt = fmt.Sprintf("Finish with %d skipped check%s?", len(e.skippedChecks), plural(len(e.skippedChecks)))
		g.Reason = "never verified: " + strings.Join(e.skippedChecks, "; ") + ". Confirm to finish the plan that way (recorded with your name), or abort"
		g.Allowed = []DecisionKind{Confirm, Abort}
	}
	if e.canRollback() && kind != GateRolledBack && kind != GateFinish {
		g.Allowed = append(g.Allowed, Rollback)
	}
	var conds []Condition
	if kind == GateConfirm {
		conds = e.withLock(st, st.Gate.Conditions)
		for _, c := range conds {
			delete(e.streaks, c.key())
		}
	}
	var timeout <-chan time.Time
	if kind == GateConfirm && len(conds) > 0 && st.Gate.Timeout > 0 {
		timeout = e.world.Clock.After(st.Gate.Timeout)
		g.Deadline = e.world.Clock.Now().Add(st.Gate.Timeout)
	}
	opened := e.world.Clock.Now()
	if e.fencedLag(conds) {
		defer e.fastReadings()()
	}
	e.evaluate(g, conds, false)
	e.emit(Event{Kind: EvGateWaiting, StepID: st.ID, Gate: g})
	for {
		if g.Ready && kind == GateConfirm && (!st.Gate.Confirm || e.opt.AutoApprove || approved) {
			by := "conditions"
			switch {
			case approved:
				by = e.opt.Operator + " (retry)"
			case st.Gate.Confirm:
				by = "auto-approve"
			}
			d := Decision{Kind: Confirm, By: by, StepID: st.ID}
			e.emit(Event{Kind: EvGateDecided, StepID: st.ID, Decision: &d})
			return d, nil
		}
		select {
		case <-ctx.Done():
			return Decision{}, ctx.Err()
		case <-e.opt.Halt.Done():
			return Decision{}, e.halted(st)
		case <-timeout:
			if g.Ready {
				// The conditions hold and wait for the operator; only conditions that do not hold time out.
				timeout = e.world.Clock.After(st.Gate.Timeout)
				g.Deadline = e.world.Clock.Now().Add(st.Gate.Timeout)
				continue
			}
			return Decision{}, fmt.Errorf("%w: waited %s; %s", errGateTimeout, st.Gate.Timeout, e.unmet(g))
		case r := <-e.readings:
			e.apply(r)
			// Only a reading begun since the gate opened counts towards a streak: one begun before
			// may predate what the step before changed (a fence, a pause).
			if e.evaluate(g, conds, r.taken.IsZero() || !r.taken.Before(opened)) {
				e.emit(Event{Kind: EvGateWaiting, StepID: st.ID, Gate: g})
			}
		case d := <-e.decisions:
			if d.StepID != "" && d.StepID != st.ID {
				e.emit(Event{Kind: EvNotice, StepID: st.ID, Text: fmt.Sprintf("ignored %s by %s: it was meant for step %q, which is no longer waiting", d.Kind, d.By, d.StepID)})
				continue
			}
			if !g.Allows(d.Kind) {
				e.emit(Event{Kind: EvNotice, StepID: st.ID, Text: fmt.Sprintf("%s is not possible here (allowed: %v)", d.Kind, g.Allowed)})
				continue
			}
			switch d.Kind {
			case Confirm:
				if !g.Ready {
					e.emit(Event{Kind: EvNotice, StepID: st.ID, Text: "cannot confirm yet: " + e.unmet(g)})
					continue
				}
			case Decline:
				g.Declined = true
				e.emit(Event{Kind: EvGateDecided, StepID: st.ID, Decision: &d})
				e.emit(Event{Kind: EvGateWaiting, StepID: st.ID, Gate: g})
				continue
			case Rollback:
				if !e.rollback(ctx, st, d) {
					continue
				}
			}
			e.emit(Event{Kind: EvGateDecided, StepID: st.ID, Decision: &d})
			return d, nil
		}
	}
}

// canRollback reports whether there is a previous upstream to go back to.
func (e *Engine) canRollback() bool { return e.prev != "" && e.prev != e.live }

// rollback restores the previous upstream when d allows it, and reports whether it happened. When the
// previous side fails its direct checks and d is not forced, it asks (EvRollbackAsk) instead.
func (e *Engine) rollback(ctx context.Context, st *Step, d Decision) bool {
	to, from := e.prev, e.live
	if !e.discardConfirmed(st, d) {
		return false
	}
	e.emit(Event{Kind: EvRollingBack, StepID: st.ID, Change: &Change{From: string(from), To: string(to)}, Text: fmt.Sprintf("rolling back from %s to %s (by %s)", from, to, d.By)})
	if !d.Force && e.askRollback(ctx, st, to) {
		return false
	}
	if err := e.switchTo(ctx, &Step{ID: st.ID, Side: to}); err != nil {
		e.emit(Event{Kind: EvNotice, StepID: st.ID, Text: fmt.Sprintf("rollback to %s FAILED: %v; traffic stays on %s", to, err, e.live)})
		return false
	}
	e.emit(Event{Kind: EvRolledBack, StepID: st.ID, Change: &Change{From: string(from), To: string(to)}, Text: fmt.Sprintf("rolled back from %s to %s (by %s)", from, to, d.By)})
	return true
}

// askRollback asks the operator (EvRollbackAsk) before a rollback to side `to` that would hurt users,
// and reports whether it asked: when to's app hosts fail their direct checks, or when the side users
// leave holds writes `to` does not have (a promoted backup that took writes since the switch).
func (e *Engine) askRollback(ctx context.Context, st *Step, to inventory.Side) bool {
	var why []string
	if bad := e.unhealthy(ctx, to); len(bad) > 0 {
		why = append(why, fmt.Sprintf("%s is failing its checks (%s); users would get errors there", to, strings.Join(bad, "; ")))
	}
	if from := e.live; from != to {
		fromDB, toDB := e.inv.Sides.Get(from).Database, e.inv.Sides.Get(to).Database
		switch {
		case e.promoted[fromDB]:
			why = append(why, fmt.Sprintf("%s was promoted and has taken users' writes since the switch; %s does not have them until the reverse sync has caught up and the writes are fenced, so after a rollback users would not see them and both databases could take writes", fromDB, toDB))
		case e.promoted[toDB]:
			why = append(why, fmt.Sprintf("%s was promoted and no longer follows %s: it lacks every write %s took since the switch back, so users would not see them", toDB, fromDB, fromDB))
		}
		paused := e.paused[toDB]
		for _, l := range e.last.Lags {
			paused = paused || (l.To == toDB && l.Paused)
		}
		if paused {
			why = append(why, fmt.Sprintf("WAL replay is paused on %s: users would read data as of the pause, without %s's writes since", toDB, fromDB))
		}
	}
	if len(why) == 0 {
		return false
	}
	e.emit(Event{Kind: EvRollbackAsk, StepID: st.ID, Text: strings.Join(why, ". ") + ". Roll back anyway?"})
	return true
}

// unhealthy checks side's app hosts directly and describes each failing one.
func (e *Engine) unhealthy(ctx context.Context, side inventory.Side) []string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	apps := e.inv.Sides.Get(side).Apps
	res := make([]string, len(apps))
	done := make(chan struct{}, len(apps))
	for i, h := range apps {
		go func() {
			defer func() { done <- struct{}{} }()
			var c HostCheck
			err := safely("checking "+h, func() (err error) { c, err = e.world.Probe.Check(ctx, h); return err })
			switch {
			case err != nil:
				res[i] = h + ": " + err.Error()
			case !c.OK:
				res[i] = h + ": " + c.Err
			}
		}()
	}
	for range apps {
		<-done
	}
	var bad []string
	for _, r := range res {
		if r != "" {
			bad = append(bad, r)
		}
	}
	return bad
}

// evaluate recomputes g's conditions from the newest readings and reports whether anything changed.
// counting is false for the first evaluation, which must not count a reading twice.
func (e *Engine) evaluate(g *GateState, conds []Condition, counting bool) bool {
	if len(conds) == 0 {
		changed := !g.Ready
		g.Ready = true
		return changed
	}
	states := make([]ConditionState, len(conds))
	ready := true
	for i, c := range conds {
		states[i] = e.check(c, counting)
		ready = ready && states[i].OK
	}
	changed := g.Ready != ready || len(states) != len(g.Conditions)
	for i := range states {
		if !changed && (states[i].OK != g.Conditions[i].OK || states[i].Value != g.Conditions[i].Value) {
			changed = true
		}
	}
	g.Conditions, g.Ready = states, ready
	return changed
}

// unmet lists the conditions that do not hold.
func (e *Engine) unmet(g *GateState) string {
	var out []string
	for _, c := range g.Conditions {
		if !c.OK {
			out = append(out, c.Label+" (now "+c.Value+")")
		}
	}
	if len(out) == 0 {
		return "all conditions hold"
	}
	return "not holding: " + strings.Join(out, "; ")
}

func (c Condition) key() string {
	return fmt.Sprintf("%s/%s/%s/%d/%s", c.Kind, c.From, c.To, c.MaxBytes, c.Side)
}

// check evaluates one condition against the newest readings.
func (e *Engine) check(c Condition, counting bool) ConditionState {
	cs := ConditionState{Condition: c}
	switch c.Kind {
	case CondLag:
		cs.Label = fmt.Sprintf("lag %s→%s ≤ %s for %d reading(s)", c.From, c.To, Bytes(c.MaxBytes), c.Readings)
		l, ok := e.lag(c.From, c.To)
		switch {
		case !ok:
			cs.Value = "no reading yet"
			e.streaks[c.key()] = 0
		case !l.Streaming:
			cs.Value = "not streaming"
			if l.Err != "" {
				cs.Value += ": " + l.Err
			}
			e.streaks[c.key()] = 0
		case l.Paused:
			// Paused replay is never in sync, however few bytes are waiting: readers there see data
			// as of the pause.
			cs.Value = PausedText(l.To)
			e.streaks[c.key()] = 0
		case l.Replay > c.MaxBytes:
			cs.Value = Bytes(l.Replay) + " behind"
			e.streaks[c.key()] = 0
		default:
			// Only readings taken while the gate waits count: the one from before it opened may
			// predate what the step before changed (a fence, a pause).
			if counting {
				e.streaks[c.key()]++
			}
			n := e.streaks[c.key()]
			cs.Value = fmt.Sprintf("%s behind, %d/%d", Bytes(l.Replay), min(n, c.Readings), c.Readings)
			cs.OK = n >= c.Readings
		}
	case CondSuccess:
		st := e.last.Probe
		cs.Label = fmt.Sprintf("probe success ≥ %.1f%% over %s", c.MinSuccess, c.Window)
		cs.Value = fmt.Sprintf("%.1f%% of %d", st.Success(), st.Requests)
		cs.OK = st.Requests > 0 && st.Success() >= c.MinSuccess
		if st.Requests == 0 {
			cs.Value = "no probe requests yet"
		}
	case CondUpstream:
		cs.Label = fmt.Sprintf("every probe over %s served by %s", c.Window, c.Side)
		st := e.world.Probe.Stats(c.Window)
		on, off := 0, 0
		for addr, n := range st.Upstreams {
			if e.inv.SideOfAddr(addr) == c.Side {
				on += n
			} else {
				off += n
			}
		}
		cs.Value = fmt.Sprintf("%d on %s, %d elsewhere", on, c.Side, off)
		cs.OK = on > 0 && off == 0
	case CondLock:
		cs = e.checkLock(cs)
	case CondLive:
		cs.Label = fmt.Sprintf("the balancer sends users to %s", c.Side)
		cs.Value = "live: " + string(e.live)
		if e.live == "" {
			cs.Value = "live side unknown"
		}
		cs.OK = e.live == c.Side
		// The file is a belief; the probes' upstream header is what users get.
		if served := ServedSide(e.inv, e.world.Probe.Stats(2*time.Second)); cs.OK && served != "" && served != c.Side {
			cs.OK = false
			cs.Value = fmt.Sprintf("the upstream file names %s but users are served by %s", e.live, served)
		}
	}
	return cs
}

// lag returns the newest reading of the link from→to.
func (e *Engine) lag(from, to string) (Lag, bool) {
	for _, l := range e.last.Lags {
		if l.From == from && l.To == to {
			return l, true
		}
	}
	return Lag{}, false
}

// changes lists what confirming st will change, for the gate.
func (e *Engine) changes(ctx context.Context, st *Step) []string {
	switch st.Action {
	case ActSwitch:
		out := e.upstreamDiff(ctx, st.Side)
		for _, hc := range st.Exec {
			for _, c := range hc.Commands {
				out = append(out, "then "+hc.Host+": "+c)
			}
		}
		return out
	case ActRun, ActRehearseUpgrade, ActRehearseMigrate:
		var out []string
		for _, hc := range st.Exec {
			for _, c := range hc.Commands {
				out = append(out, hc.Host+": "+c)
			}
		}
		return out
	case ActReverseStart, ActAdvanceSeq, ActReverseStop:
		return []string{DatabaseAction(st)}
	case ActPreflight, ActWaitSync, ActVerifyTraffic, ActVerifyDirect, ActRehearseCheck, ActRehearseInspect, ActRehearseSmoke, ActRehearsePredict:
		return nil
	}
	return []string{onHosts(st)}
}

// diffLines is a line diff of two short files: unchanged lines prefixed "  ", removed "- ", added "+ ".
func diffLines(before, after string) []string {
	a := strings.Split(strings.TrimRight(before, "\n"), "\n")
	b := strings.Split(strings.TrimRight(after, "\n"), "\n")
	// Longest common subsequence; upstream files are a few lines long.
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, "  "+a[i])
			i++
			j++
		case i < len(a) && (j == len(b) || dp[i+1][j] >= dp[i][j+1]):
			out = append(out, "- "+a[i])
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
	}
	return out
}

// Bytes formats n bytes for people: 512 B, 12.3 KiB, 4.0 MiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
