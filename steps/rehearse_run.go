package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// rehearsalState is what the rehearse plan measured so far; its steps run one after another on the
// step goroutine, the mutex only keeps the race detector honest.
type rehearsalState struct {
	mu        sync.Mutex
	migration *MigrationReport
	upgrade   time.Duration
	upgraded  bool
}

// isRehearseAction reports whether a is one of the rehearse plan's own actions.
func isRehearseAction(a Action) bool {
	switch a {
	case ActRehearseCheck, ActRehearseInspect, ActRehearseMigrate, ActRehearseUpgrade, ActRehearseSmoke, ActRehearsePredict:
		return true
	}
	return false
}

// doRehearse carries out one of the rehearse plan's own actions.
func (e *Engine) doRehearse(ctx context.Context, st *Step, out chan<- Event) error {
	rh := e.world.Rehearsal
	if rh == nil {
		return fmt.Errorf("the %s plan needs the copy's adapter: run it with pitstop rehearse -i %s", PlanRehearse, e.inv.Source)
	}
	host := ""
	if len(st.Hosts) > 0 {
		host = st.Hosts[0]
	}
	say := func(h, text string) { out <- Event{Kind: EvOutput, StepID: st.ID, Host: h, Stream: Stdout, Text: text} }
	measured := func(m Measurement) { out <- Event{Kind: EvMeasured, StepID: st.ID, Measure: &m} }
	r := &e.inv.Rehearsal
	switch st.Action {
	case ActRehearseCheck:
		for _, h := range st.Hosts {
			if err := e.world.Hosts.Run(ctx, h, "true", func(Stream, string) {}); err != nil {
				return &hostsError{hosts: []string{h}, err: fmt.Errorf("%s unreachable: %w", h, err)}
			}
			say(h, "reachable")
		}
		if err := rh.Check(ctx); err != nil {
			return err
		}
		say(r.Host, fmt.Sprintf("%s is free for the copy and nothing listens on %s", r.DataDir, r.ListenAddr()))
		return nil
	case ActRehearseInspect:
		info, err := rh.Inspect(ctx)
		if err != nil {
			return err
		}
		say(host, fmt.Sprintf("copy: PostgreSQL %s, %s, %d tables, listening on %s", info.Version, Bytes(info.Bytes), info.Tables, r.ListenAddr()))
		measured(Measurement{Copy: &info})
		if !info.Primary {
			return errors.New("the copy is still in recovery: it must run as a standalone primary; check standby.signal and the log in " + r.DataDir + "/postgres.log")
		}
		return nil
	case ActRehearseUpgrade:
		start := e.world.Clock.Now()
		err := e.runCommands(ctx, st, out)
		took := e.world.Clock.Now().Sub(start)
		if err != nil {
			return err
		}
		e.rehearsal.mu.Lock()
		e.rehearsal.upgrade, e.rehearsal.upgraded = took, true
		e.rehearsal.mu.Unlock()
		say(host, "upgrade commands took "+secs(took))
		measured(Measurement{Upgrade: took})
		return nil
	case ActRehearseMigrate:
		return e.rehearseMigrate(ctx, st, rh, out, say, measured)
	case ActRehearseSmoke:
		return rh.Smoke(ctx, host, func(line string) { say(host, line) })
	case ActRehearsePredict:
		e.rehearsal.mu.Lock()
		mig, up, upgraded := e.rehearsal.migration, e.rehearsal.upgrade, e.rehearsal.upgraded
		e.rehearsal.mu.Unlock()
		if mig == nil {
			return errors.New("nothing to predict from: the migration was not measured (skipped?)")
		}
		preds := Predict(e.inv, *mig, up, upgraded, st.Overheads)
		for _, p := range preds {
			say(r.Host, p.String())
			if p.Note != "" {
				say(r.Host, "  "+p.Note)
			}
		}
		for _, l := range LockFindings(*mig) {
			say(r.Host, l)
		}
		measured(Measurement{Predictions: preds})
		if problems := Limits(e.inv, st.For, preds, *mig); len(problems) > 0 {
			return errors.New(strings.Join(problems, "; "))
		}
		return nil
	}
	return fmt.Errorf("step %q has unknown action %q", st.ID, st.Action)
}

// rehearseMigrate runs the migration on the copy while its locks are sampled, and reports what it
// did even when it failed.
func (e *Engine) rehearseMigrate(ctx context.Context, st *Step, rh Rehearsal, out chan<- Event, say func(h, text string), measured func(Measurement)) error {
	w, err := rh.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watch the copy's locks: %w", err)
	}
	start := e.world.Clock.Now()
	runErr := e.runCommands(ctx, st, out)
	took := e.world.Clock.Now().Sub(start)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	rep, werr := w.Stop(sctx)
	rep.Duration = took
	host := st.Hosts[0]
	say(host, fmt.Sprintf("migration took %s; WAL written %s; %d lock samples every %s", secs(took), Bytes(rep.WALBytes), rep.Samples, rep.SampleEvery))
	for _, l := range LockFindings(rep) {
		say(host, l)
	}
	measured(Measurement{Migration: &rep})
	if runErr != nil {
		return runErr
	}
	if werr != nil {
		return fmt.Errorf("the migration finished, but its effect on the copy could not be read: %w", werr)
	}
	e.rehearsal.mu.Lock()
	e.rehearsal.migration = &rep
	e.rehearsal.mu.Unlock()
	return nil
}

// LockFindings describes the migration's locks, rewrites and new tables in lines for the operator.
func LockFindings(m MigrationReport) []string {
	var out []string
	for _, l := range m.Locks {
		effect := "blocks neither reads nor writes"
		switch {
		case l.BlocksReads():
			effect = "blocks reads and writes"
		case l.BlocksWrites():
			effect = "blocks writes"
		}
		line := fmt.Sprintf("lock: %s %s held %s (%s)", l.Table, ModeName(l.Mode), secs(l.Longest), effect)
		if l.Total > l.Longest+m.SampleEvery {
			line += fmt.Sprintf(", %s in all", secs(l.Total))
		}
		if q := oneLine(l.Query, 100); q != "" {
			line += " by: " + q
		}
		out = append(out, line)
	}
	for _, r := range m.Rewritten {
		size := fmt.Sprintf("%s before, %s after", Bytes(r.Before), Bytes(r.After))
		if r.Before == 0 && r.After == 0 {
			size = "empty"
		}
		out = append(out, fmt.Sprintf("rewritten: %s (new file; %s)", r.Table, size))
	}
	for _, t := range m.NewTables {
		out = append(out, "new table: "+t)
	}
	if len(m.Locks) == 0 && len(m.Rewritten) == 0 {
		out = append(out, "no table lock seen and no table rewritten")
	}
	return out
}

// oneLine puts a statement on one line of at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

// ModeName turns pg_locks' AccessExclusiveLock into ACCESS EXCLUSIVE, as LOCK TABLE spells it.
func ModeName(mode string) string {
	m := strings.TrimSuffix(mode, "Lock")
	var b strings.Builder
	for i, r := range m {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// Predict gives each plan's predicted write-refusal window from the measured migration and
// upgrade, plus the plan's switch and gate overheads: ov's when an earlier run on this setup measured
// them, else defaults measured on the lab.
func Predict(inv *inventory.Inventory, mig MigrationReport, upgrade time.Duration, upgraded bool, ov *Overheads) []Prediction {
	up := WindowPart{Name: "upgrade", Duration: upgrade, Measured: upgraded}
	switches := WindowPart{Name: "switches", Duration: defaultOverheads[PlanReadonly]}
	if ov != nil {
		switches = WindowPart{Name: "switches", Duration: ov.Readonly, Measured: true}
	}
	ro := Prediction{Plan: PlanReadonly, Parts: []WindowPart{
		{Name: "migration", Duration: mig.Duration, Measured: true},
		up,
		switches,
	}}
	var notes []string
	if !upgraded {
		notes = append(notes, "the upgrade was not rehearsed (no rehearsal.app): add its time to the window")
	}
	if ov != nil {
		notes = append(notes, "switches and gates as measured in "+ov.From)
	} else {
		notes = append(notes, "switches and gates: the default measured on the lab (no finished readonly run of this inventory in the journal directory)")
	}
	ro.Note = strings.Join(notes, "; ")
	rs := Prediction{Plan: PlanReverseSync, Parts: []WindowPart{
		{Name: "fences, promotion and switches", Duration: defaultOverheads[PlanReverseSync]},
	}, Note: "the migration and the upgrade run while the promoted backup takes writes, so they are not in this window"}
	out := []Prediction{ro}
	if len(inv.ReverseSync.Rebuild) > 0 {
		out = append(out, rs)
	}
	for i := range out {
		for _, p := range out[i].Parts {
			out[i].Window += p.Duration
		}
	}
	return out
}

// String is the prediction as the operator reads it, e.g. "readonly: writes refused for about
// 41 s (migration 38 s, upgrade 2.1 s, switches 0.1 s)".
func (p Prediction) String() string {
	var parts []string
	for _, w := range p.Parts {
		s := w.Name + " " + secs(w.Duration)
		if !w.Measured && w.Name == "upgrade" {
			s = "upgrade not rehearsed"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%s: writes refused for about %s (%s)", p.Plan, secs(p.Window), strings.Join(parts, ", "))
}

// Limits are the rehearsal's gates: the predicted window of plan within thresholds.max_window, and
// no lock that blocks reads held longer than rehearsal.max_read_block.
func Limits(inv *inventory.Inventory, plan string, preds []Prediction, mig MigrationReport) []string {
	var out []string
	if plan == "" {
		plan = PlanReadonly
	}
	if max := inv.Thresholds.MaxWindow; max > 0 {
		for _, p := range preds {
			if p.Plan == plan && p.Window > max {
				out = append(out, fmt.Sprintf("the %s plan would refuse writes for about %s, more than thresholds.max_window %s: make the migration shorter (see the locks and rewrites above) or raise the limit", p.Plan, secs(p.Window), max))
			}
		}
	}
	if max := inv.Rehearsal.MaxReadBlock; max > 0 {
		for _, l := range mig.Locks {
			if l.BlocksReads() && l.Longest > max {
				out = append(out, fmt.Sprintf("the migration held %s on %s for %s, more than rehearsal.max_read_block %s: reads of %s wait that long wherever it runs", ModeName(l.Mode), l.Table, secs(l.Longest), max, l.Table))
			}
		}
	}
	return out
}

// secs writes d in seconds the way the predictions do: "41 s", "2.1 s", "0.05 s".
func secs(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 10:
		return fmt.Sprintf("%.0f s", s)
	case s >= 0.1 || s == 0:
		return fmt.Sprintf("%.1f s", s)
	default:
		return fmt.Sprintf("%.2f s", s)
	}
}
