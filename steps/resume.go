package steps

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// Resume is what a run picks up from an interrupted run of the same plan: what its journal says was
// done, checked against what the world shows now (Reconcile). The engine then marks the finished
// steps done without running them, carries over the state they left (fences, promotion, paused
// replay, the commands each host finished) and stops at a confirmation gate before the first step
// it runs.
type Resume struct {
	// Journal is the interrupted run's journal file.
	Journal string
	// Done holds the steps the journal says finished (done or skipped) and the world agrees with.
	Done map[string]bool
	// Progress counts, per step and host, the commands the journal says finished, in order.
	Progress map[string]map[string]int
	// Attempts counts, per CommandID(step, host, i, 0), the attempts of that command that ended (a
	// failed one): the next attempt re-attaches to the one the crash interrupted.
	Attempts map[string]int
	// Fenced, Promoted and Paused are the hosts the finished steps fenced, promoted and paused.
	Fenced, Promoted, Paused map[string]bool
	// Switched is the side the journal's last switch sent users to ("" when none).
	Switched inventory.Side
	// switchedBy is the side each step's switch sent users to, when the journal records it.
	switchedBy map[string]inventory.Side
	// started holds the steps the journal says started running.
	started map[string]bool
	// Interrupted lists, per step that started and did not finish, the commands that started on a
	// host and did not finish: "host: command".
	Interrupted map[string][]string
	// interruptedOn holds, per host, the steps with a command the crash cut there.
	interruptedOn map[string][]string
	// lagMoot holds the steps whose gate's lag conditions are dropped on resume: a reverse-stop the
	// crash cut after it had dropped (part of) the reverse sync, so the link it measures is gone. Its
	// gate had passed before the crash, and the backup is fenced: production still has every write.
	lagMoot map[string]bool
	// Rows is the reconciliation: what the journal says against what the world shows.
	Rows []ResumeRow
	// Unexplained lists the discrepancies nothing in the journal explains; the operator must
	// acknowledge them before the run goes on.
	Unexplained []string
}

// ResumeRow is one line of the reconciliation table.
type ResumeRow struct {
	What    string `json:"what"`
	Journal string `json:"journal"`
	World   string `json:"world"`
	// OK is false for a discrepancy.
	OK bool `json:"ok"`
}

// ReadResume reads every event of the journal at path (all the runs it records: the interrupted one
// and earlier resumes) into a Resume for plan.
func ReadResume(path string, plan *Plan) (*Resume, error) {
	evs, err := ReadJournal(path)
	if err != nil {
		return nil, err
	}
	r := &Resume{Journal: path, Done: map[string]bool{}, Progress: map[string]map[string]int{}, Attempts: map[string]int{},
		Fenced: map[string]bool{}, Promoted: map[string]bool{}, Paused: map[string]bool{}, Interrupted: map[string][]string{},
		switchedBy: map[string]inventory.Side{}, started: map[string]bool{}, lagMoot: map[string]bool{}}
	running := map[string]map[string]string{} // step → host → command started, not finished
	for _, ev := range evs {
		if ev.Plan != "" && ev.Plan != plan.Name {
			return nil, fmt.Errorf("%s records plan %q, not %q; pass --plan %s to resume it", path, ev.Plan, plan.Name, ev.Plan)
		}
		switch ev.Kind {
		case EvSwitched, EvRolledBack:
			if ev.Change != nil {
				r.Switched = inventory.Side(ev.Change.To)
				if ev.Kind == EvSwitched {
					r.switchedBy[ev.StepID] = r.Switched
				}
			}
		case EvOutput:
			if strings.HasPrefix(ev.Text, "$ ") && ev.Host != "" {
				if running[ev.StepID] == nil {
					running[ev.StepID] = map[string]string{}
				}
				running[ev.StepID][ev.Host] = strings.TrimPrefix(ev.Text, "$ ")
			}
		case EvCommandFinished:
			delete(running[ev.StepID], ev.Host)
			p := r.Progress[ev.StepID]
			if p == nil {
				p = map[string]int{}
				r.Progress[ev.StepID] = p
			}
			if ev.Status == StatusDone {
				p[ev.Host]++
			} else {
				r.Attempts[CommandID(ev.StepID, ev.Host, p[ev.Host], 0)]++
			}
		case EvStepStarted:
			if ev.Status == StatusRunning {
				r.started[ev.StepID] = true
			}
		case EvStepFinished:
			delete(running, ev.StepID)
			if ev.Status != StatusDone && ev.Status != StatusSkipped {
				continue
			}
			r.Done[ev.StepID] = true
			if ev.Status == StatusSkipped {
				continue
			}
			st := plan.Step(ev.StepID)
			if st == nil {
				continue
			}
			for _, h := range st.Hosts {
				switch st.Action {
				case ActFence:
					r.Fenced[h] = true
				case ActUnfence:
					delete(r.Fenced, h)
				case ActPauseReplay:
					r.Paused[h] = true
				case ActResumeReplay:
					delete(r.Paused, h)
				case ActPromote:
					r.Promoted[h] = true
				case ActRun:
					if r.Promoted[h] {
						delete(r.Promoted, h)
						delete(r.Fenced, h)
					}
				}
			}
		}
	}
	r.interruptedOn = map[string][]string{}
	for step, hosts := range running {
		for h, cmd := range hosts {
			r.Interrupted[step] = append(r.Interrupted[step], h+": "+cmd)
			r.interruptedOn[h] = append(r.interruptedOn[h], step)
		}
		slices.Sort(r.Interrupted[step])
	}
	return r, nil
}

// Finished reports whether the plan's every step is done: nothing left to resume.
func (r *Resume) Finished(plan *Plan) bool {
	for _, st := range plan.Steps() {
		if !r.Done[st.ID] {
			return false
		}
	}
	return true
}

// Reconcile compares what the journal says with the world: the balancer (its file and where probes
// are served), paused replay, promotion and the reverse sync (from the replication links), and each
// app host's health and version. A step the journal says is done but whose effect the world does not
// show is a discrepancy nothing explains: it is listed, and not counted as done. A step the crash cut
// after its effect was in the world (a switch, paused or resumed replay, the reverse sync's
// subscription) counts as done. A promotion or a reverse-stop the crash cut runs again, whatever of it
// reached the world: both are safe to repeat.
func (r *Resume) Reconcile(ctx context.Context, inv *inventory.Inventory, plan *Plan, w World) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	row := func(what, journal, world string, ok bool) {
		r.Rows = append(r.Rows, ResumeRow{What: what, Journal: journal, World: world, OK: ok})
		if !ok {
			r.Unexplained = append(r.Unexplained, fmt.Sprintf("%s: the journal says %s, the world shows %s", what, journal, world))
		}
	}
	// The balancer.
	wantLive := r.Switched
	if wantLive == "" {
		wantLive = inventory.Production
	}
	live, err := w.Balancer.Live(ctx)
	switch {
	case err != nil:
		row("balancer file", "users on "+string(wantLive), "unreadable: "+err.Error(), false)
	default:
		row("balancer file", "users on "+string(wantLive), "users on "+string(live), live == wantLive)
	}
	if w.Probe != nil {
		stats := w.Probe.Stats(2 * time.Second)
		if side := inv.SideOfAddr(stats.LastUpstream); side != "" {
			row("traffic (probes)", "served by "+string(wantLive), "served by "+string(side), side == wantLive)
		}
	}
	// Replication: paused replay, promotion, the reverse sync.
	lags, lerr := w.DB.Replication(ctx)
	paused, physical, logical := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, l := range lags {
		if l.Kind == Logical {
			logical[l.From+"→"+l.To] = true
			continue
		}
		physical[l.To] = l.Streaming || l.Err == ""
		paused[l.To] = l.Paused
	}
	for _, h := range inv.Standbys() {
		if lerr != nil {
			row("replay on "+h, pausedWord(r.Paused[h]), "unreadable: "+lerr.Error(), false)
			continue
		}
		if promote := r.cutStep(plan, h, ActPromote); promote != nil {
			// The crash cut the promotion: it went through or not. The step runs again either way,
			// and finds a primary done ("already a primary").
			row(h, "step "+promote.ID+" was promoting it when the run stopped",
				map[bool]string{true: "still a standby: the step promotes it", false: "a primary: the promotion went through; the step finds it done"}[physical[h]], true)
			continue
		}
		if r.Promoted[h] {
			if rebuild := r.rebuildCut(plan, h); rebuild != "" && physical[h] {
				// The crash cut the rebuild, which went on without Pitstop: a standby again is what
				// it does. The step re-attaches to the command to learn how it ended.
				row(h, "promoted to a primary; step "+rebuild+" was rebuilding it when the run stopped", "a standby again: the rebuild went on; its step learns how it ended", true)
				continue
			}
			row(h, "promoted to a primary", map[bool]string{true: "still a standby", false: "no longer a standby"}[physical[h]], !physical[h])
			continue
		}
		row("replay on "+h, pausedWord(r.Paused[h]), pausedWord(paused[h]), paused[h] == r.Paused[h])
	}
	for _, st := range plan.Steps() {
		if st.Action == ActReverseStart && r.Done[st.ID] {
			link := st.From + "→" + st.To
			stopped := false
			for _, s2 := range plan.Steps() {
				stopped = stopped || (s2.Action == ActReverseStop && r.Done[s2.ID])
			}
			if stop := r.cutStep(plan, "", ActReverseStop); stop != nil && !stopped {
				// The crash cut the step dropping it: it is running, or gone in part or in full.
				// The step runs again and drops what is left (each part is skipped when gone).
				world := "running: the step drops it"
				if !logical[link] && lerr == nil {
					world = "not running: the step drops what is left, without its lag check (that held before the crash, and " + st.From + " is fenced)"
					r.lagMoot[stop.ID] = true
				}
				row("reverse sync "+link, "stopping: step "+stop.ID+" was dropping it when the run stopped", world, true)
				continue
			}
			want := !stopped
			row("reverse sync "+link, map[bool]string{true: "running", false: "dropped"}[want], map[bool]string{true: "running", false: "not running"}[logical[link]], logical[link] == want || lerr != nil)
		}
	}
	fr, canRead := w.DB.(FenceReader)
	for _, h := range inv.HostNames() {
		if inv.Host(h) == nil || inv.Host(h).Postgres == "" {
			continue
		}
		if !canRead {
			if r.Fenced[h] {
				row("fence on "+h, "fenced read-only", "not read back (this database cannot tell; check default_transaction_read_only)", true)
			}
			continue
		}
		fenced, err := fr.Fenced(ctx, h)
		journal := map[bool]string{true: "fenced read-only", false: "not fenced"}[r.Fenced[h]]
		switch {
		case err != nil:
			if r.Fenced[h] {
				row("fence on "+h, journal, "unreadable: "+err.Error(), true)
			}
		case fenced && !r.Fenced[h]:
			// A fence step the crash cut, or a fence from elsewhere: the plan's own fence steps set
			// and lift it again as they come.
			row("fence on "+h, journal, "fenced read-only (default_transaction_read_only = on)", r.cutStep(plan, h, ActFence, ActUnfence) != nil)
		case r.Fenced[h] && fenced:
			row("fence on "+h, journal, "fenced read-only (default_transaction_read_only = on)", true)
		case r.Fenced[h] && r.rebuildCut(plan, h) != "":
			// The crash cut the rebuild of this (fenced, promoted) database: a standby again, or on
			// its way, is what the rebuild makes of it.
			row("fence on "+h, journal, "not a fenced primary: the rebuild made it a standby, or is making it one", true)
		case r.Fenced[h]:
			// Lifted by hand since? Then the plan's assumption (no writes reach it) no longer holds.
			row("fence on "+h, journal, "NOT fenced: writes may have reached it since", false)
		}
	}
	// App hosts.
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		for _, h := range inv.Sides.Get(side).Apps {
			c, err := w.Probe.Check(ctx, h)
			switch {
			case err != nil:
				row("app "+h, "", "not answering: "+err.Error(), true)
			case !c.OK:
				row("app "+h, "", "failing: "+c.Err, true)
			default:
				row("app "+h, "", "healthy, version "+orUnknown(c.Version), true)
			}
		}
	}
	// Commands the crash interrupted: the run re-attaches to them (detached runners) to learn how
	// they ended, and runs nothing a host already finished.
	for _, step := range slices.Sorted(maps.Keys(r.Interrupted)) {
		for _, hc := range r.Interrupted[step] {
			row("step "+step, "command started, not finished: "+hc, "re-attached when the step resumes: it is not run again", true)
		}
	}
	// A switch the journal counts as done but the balancer does not show is not done. A step cut
	// by the crash after its effect was in the world (the switch journaled, replay paused on every
	// host) is done: it is not run again.
	for _, st := range plan.Steps() {
		switch {
		case st.Action == ActSwitch && err == nil && r.Done[st.ID] && st.Side != live && r.Switched == st.Side:
			delete(r.Done, st.ID)
		case st.Action == ActSwitch && err == nil && !r.Done[st.ID] && r.switchedBy[st.ID] == st.Side && live == st.Side:
			r.Done[st.ID] = true
			row("step "+st.ID, "switch to "+string(st.Side)+" journaled, the step not finished", "users on "+string(live)+": counted as done", true)
		case (st.Action == ActPauseReplay || st.Action == ActResumeReplay) && lerr == nil && !r.Done[st.ID] && r.started[st.ID] && len(st.Hosts) > 0:
			all := true
			for _, h := range st.Hosts {
				all = all && paused[h] == (st.Action == ActPauseReplay)
			}
			if all {
				r.Done[st.ID] = true
				row("step "+st.ID, "started, not finished", "every host "+pausedWord(st.Action == ActPauseReplay)+": counted as done", true)
			}
		case st.Action == ActReverseStart && lerr == nil && !r.Done[st.ID] && r.started[st.ID] && logical[st.From+"→"+st.To]:
			// The subscription was created before the crash (the step then waits for it to reach the
			// slot): creating it again would fail.
			r.Done[st.ID] = true
			row("step "+st.ID, "started, not finished", "reverse sync "+st.From+"→"+st.To+" running: counted as done", true)
		}
	}
}

// rebuildCut returns the step of plan whose commands (reverse_sync.rebuild) the crash cut on host h,
// or "".
func (r *Resume) rebuildCut(plan *Plan, h string) string {
	for _, id := range r.interruptedOn[h] {
		if st := plan.Step(id); st != nil && st.Action == ActRun && !r.Done[id] {
			return id
		}
	}
	return ""
}

// cutStep returns the step of plan with one of the actions acts that the crash cut (started, not
// finished) and that acts on host h ("": any host), or nil.
func (r *Resume) cutStep(plan *Plan, h string, acts ...Action) *Step {
	for _, st := range plan.Steps() {
		if slices.Contains(acts, st.Action) && r.started[st.ID] && !r.Done[st.ID] && (h == "" || slices.Contains(st.Hosts, h)) {
			return st
		}
	}
	return nil
}

func pausedWord(p bool) string {
	if p {
		return "paused"
	}
	return "replaying"
}

// Table formats the reconciliation for a terminal or the log: one row a line.
func (r *Resume) Table() []string {
	w1, w2 := len("what"), len("the journal says")
	for _, row := range r.Rows {
		w1, w2 = max(w1, len(row.What)), max(w2, len(row.Journal))
	}
	out := []string{fmt.Sprintf("  %-*s  %-*s  %s", w1, "what", w2, "the journal says", "the world shows")}
	for _, row := range r.Rows {
		mark := " "
		if !row.OK {
			mark = "✗"
		}
		out = append(out, fmt.Sprintf("%s %-*s  %-*s  %s", mark, w1, row.What, w2, row.Journal, row.World))
	}
	return out
}

// applyResume carries the interrupted run's state into the engine and shows the reconciliation.
func (e *Engine) applyResume() {
	r := e.opt.Resume
	if r == nil {
		return
	}
	for step, p := range r.Progress {
		e.progress[step] = map[string]int{}
		for h, n := range p {
			e.progress[step][h] = n
		}
	}
	e.attempts = map[string]int{}
	for k, n := range r.Attempts {
		e.attempts[k] = n
	}
	for h := range r.Fenced {
		e.fenced[h] = true
	}
	for h := range r.Promoted {
		e.promoted[h] = true
	}
	for h := range r.Paused {
		e.paused[h] = true
	}
	if e.live == inventory.Backup {
		e.prev = inventory.Production
		if e.promoted[e.inv.Sides.Backup.Database] {
			e.backupAhead = true
		}
	} else if r.Switched != "" {
		e.prev = inventory.Backup
	}
	// The notice comes first, then the table line by line (to the output pane, the headless output and
	// the journal): the cockpit opens a section of its own for the resumed run at the notice.
	text := fmt.Sprintf("%s %s: %d steps finished before; what the journal says and what the world shows follows in the output", ResumeNoticePrefix, r.Journal, len(r.Done))
	if len(r.Unexplained) > 0 {
		text += fmt.Sprintf("; %d discrepancies nothing explains (✗): confirming the next gate acknowledges them", len(r.Unexplained))
	}
	e.emit(Event{Kind: EvNotice, Text: text})
	for _, l := range r.Table() {
		e.emit(Event{Kind: EvOutput, Stream: Stdout, Text: l})
	}
	for _, u := range r.Unexplained {
		e.emit(Event{Kind: EvOutput, Stream: Stderr, Text: "UNEXPLAINED: " + u})
	}
}

// ResumeNoticePrefix starts the notice a resumed run emits before its reconciliation table.
const ResumeNoticePrefix = "resuming the run recorded in"

// resumeSkip reports whether st was finished by the interrupted run, and then says so.
func (e *Engine) resumeSkip(st *Step) bool {
	r := e.opt.Resume
	if r == nil || !r.Done[st.ID] {
		return false
	}
	e.record(st)
	e.emit(Event{Kind: EvStepFinished, StepID: st.ID, Status: StatusDone, Text: "finished by the interrupted run (" + r.Journal + "); not run again"})
	return true
}

// resumeGate returns the first step a resumed run runs with a confirmation gate of its own, so that
// the operator sees the reconciliation before anything changes (--auto-approve confirms it).
// A step whose lag conditions the reconciliation found moot (lagMoot) runs without them.
func (e *Engine) resumeGate(st *Step) *Step {
	if e.opt.Resume == nil {
		return st
	}
	if e.opt.Resume.lagMoot[st.ID] {
		c := *st
		c.Gate.Conditions = slices.DeleteFunc(slices.Clone(st.Gate.Conditions), func(cond Condition) bool { return cond.Kind == CondLag })
		st = &c
	}
	if e.resumeGated {
		return st
	}
	e.resumeGated = true
	c := *st
	c.Gate.Confirm = true
	c.Title = "Resume: " + st.Title
	if len(e.opt.Resume.Unexplained) > 0 {
		c.Title = "Resume (acknowledging the ✗ discrepancies in the output): " + st.Title
	}
	return &c
}
