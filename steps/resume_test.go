package steps

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pitstop-ops/pitstop/inventory"
)

// TestResumeAfterACrash: a run "crashes" in the middle of the production upgrade (its journal stops
// there, as with kill -9). A new engine resuming from that journal reconciles it with the world, does
// not run again what finished (the switch, the pause), runs the rest, and finishes the plan.
func TestResumeAfterACrash(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.block = make(chan struct{})
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var crashed atomic.Bool
	p, _ := Build(f.inv, PlanReadonly)
	done := make(chan struct{})
	e := New(f.inv, p, f.ports(), Options{AutoApprove: true, PollEvery: 5e6, Emit: func(ev Event) {
		if crashed.Load() {
			return
		}
		j.Write(ev)
		if ev.Kind == EvOutput && strings.Contains(ev.Text, "running install") {
			crashed.Store(true) // nothing after this reaches the journal
			close(done)
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Run(ctx) }()
	<-done
	cancel()
	<-errc
	j.Close()
	f.mu.Lock()
	f.block = nil
	pauses := countCalls(f.dbCalls, "pause db-b")
	f.mu.Unlock()

	r, err := ReadResume(path, p)
	if err != nil {
		t.Fatal(err)
	}
	r.Reconcile(context.Background(), f.inv, p, f.ports())
	for _, id := range []string{"preflight", "sync", "switch-to-backup", "pause-replay"} {
		if !r.Done[id] {
			t.Errorf("step %s not counted as done", id)
		}
	}
	if r.Done["upgrade-production"] || len(r.Interrupted["upgrade-production"]) == 0 {
		t.Errorf("upgrade-production: done %v, interrupted %v", r.Done["upgrade-production"], r.Interrupted)
	}
	if len(r.Unexplained) != 0 {
		t.Errorf("unexplained: %v\n%s", r.Unexplained, strings.Join(r.Table(), "\n"))
	}
	table := strings.Join(r.Table(), "\n")
	for _, want := range []string{"balancer file", "users on backup", "replay on db-b", "paused"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}

	run := finishResumed(t, f, PlanReadonly, r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := countCalls(f.dbCalls, "pause db-b"); n != pauses {
		t.Errorf("replay paused %d times in all, want %d: the resumed run paused again", n, pauses)
	}
	if f.live != "production" || f.paused {
		t.Errorf("end: live %s, paused %v", f.live, f.paused)
	}
	var gated, notAgain bool
	for _, e := range run.seen {
		if e.Kind == EvGateDecided && e.StepID == "upgrade-production" {
			gated = true
		}
		if e.Kind == EvStepFinished && e.StepID == "switch-to-backup" && strings.Contains(e.Text, "not run again") {
			notAgain = true
		}
		if e.Kind == EvSwitched && e.Change.To == "backup" {
			t.Errorf("the resumed run switched to the backup again")
		}
	}
	if !gated || !notAgain {
		t.Errorf("gate before the first resumed step %v; switch-to-backup marked not run again %v", gated, notAgain)
	}
}

func countCalls(calls []string, c string) int {
	n := 0
	for _, x := range calls {
		if x == c {
			n++
		}
	}
	return n
}

// TestReconcileFlagsADiscrepancy: the journal says users are on the backup, the balancer shows
// production: shown, unexplained, and the switch is not counted as done.
func TestReconcileFlagsADiscrepancy(t *testing.T) {
	f := newFakeWorld(testInventory())
	p, _ := Build(f.inv, PlanReadonly)
	r := &Resume{Done: map[string]bool{"preflight": true, "sync": true, "switch-to-backup": true}, Switched: "backup",
		Progress: map[string]map[string]int{}, Attempts: map[string]int{}, Fenced: map[string]bool{}, Promoted: map[string]bool{},
		Paused: map[string]bool{}, Interrupted: map[string][]string{}, switchedBy: map[string]inventory.Side{}, started: map[string]bool{}}
	r.Reconcile(context.Background(), f.inv, p, f.ports())
	if len(r.Unexplained) == 0 || !strings.Contains(r.Unexplained[0], "balancer file: the journal says users on backup, the world shows users on production") {
		t.Errorf("unexplained %v", r.Unexplained)
	}
	if r.Done["switch-to-backup"] {
		t.Errorf("a switch the balancer does not show is counted as done")
	}
}

// TestReconcileAcceptsARebuildCutByTheCrash: the reverse-sync plan was killed while rebuild-backup
// re-created the promoted backup as a standby; the rebuild went on without Pitstop. The backup being a
// standby again is what the interrupted command does, not a discrepancy, and the resumed run
// re-attaches to the command instead of running it again. Without the cut rebuild in the journal, the
// same world is a discrepancy.
func TestReconcileAcceptsARebuildCutByTheCrash(t *testing.T) {
	for _, tc := range []struct {
		name          string
		cut           bool
		wantUnexplain bool
	}{
		{"rebuild cut by the crash", true, false},
		{"no rebuild started", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWorld(testInventory())
			p, _ := Build(f.inv, PlanReverseSync)
			j, path := journalUntil(t, p, "rebuild-backup", nil)
			if tc.cut {
				j.Write(Event{Kind: EvStepStarted, StepID: "rebuild-backup", Status: StatusRunning})
				j.Write(Event{Kind: EvOutput, StepID: "rebuild-backup", Host: "db-b", Text: "$ rebuild-standby"})
			}
			j.Close()
			r, err := ReadResume(path, p)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Promoted["db-b"] {
				t.Fatalf("the journal's promotion of db-b is not carried: %v", r.Promoted)
			}
			r.Reconcile(context.Background(), f.inv, p, f.ports()) // the fake's db-b streams: a standby
			if got := len(r.Unexplained) > 0; got != tc.wantUnexplain {
				t.Fatalf("unexplained %v, want some: %t\n%s", r.Unexplained, tc.wantUnexplain, strings.Join(r.Table(), "\n"))
			}
			if !tc.cut {
				return
			}
			if table := strings.Join(r.Table(), "\n"); !strings.Contains(table, "a standby again") {
				t.Errorf("the table does not say why db-b is a standby:\n%s", table)
			}
			finishResumed(t, f, PlanReverseSync, r)
		})
	}
}

// TestResumeAfterReverseStartCut: the reverse-sync plan was killed while reverse-start waited for its
// new subscription to reach the backup's slot. The subscription runs: the step counts as done and is
// not run again (creating the subscription a second time fails), and the resumed run finishes.
func TestResumeAfterReverseStartCut(t *testing.T) {
	f := newFakeWorld(testInventory())
	p, _ := Build(f.inv, PlanReverseSync)
	j, path := journalUntil(t, p, "reverse-start", nil)
	j.Write(Event{Kind: EvStepStarted, StepID: "reverse-start", Status: StatusRunning})
	j.Close()
	// The world as the interrupted run left it: users on the promoted backup, the subscription made.
	f.mu.Lock()
	f.live, f.promoted, f.reverse = inventory.Backup, true, true
	for _, h := range f.inv.Sides.Production.Apps {
		f.version[h] = f.inv.Upgrade.Version
	}
	f.mu.Unlock()
	r, err := ReadResume(path, p)
	if err != nil {
		t.Fatal(err)
	}
	r.Reconcile(context.Background(), f.inv, p, f.ports())
	if !r.Done["reverse-start"] || len(r.Unexplained) > 0 {
		t.Fatalf("reverse-start done %v, unexplained %v\n%s", r.Done["reverse-start"], r.Unexplained, strings.Join(r.Table(), "\n"))
	}
	finishResumed(t, f, PlanReverseSync, r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := countCalls(f.dbCalls, "reverse-start db-b>db-p"); n != 0 {
		t.Errorf("the reverse sync was started %d times by the resumed run, want 0", n)
	}
}

// TestResumeAfterAQuickStepCut: the reverse-sync plan killed inside one of its quick database steps,
// which took effect in the world or not before the crash (the journal has the step started, not
// finished). Either way the reconciliation shows nothing unexplained, the resumed run does the step
// again (it is safe to repeat: a promoted backup is found promoted, sequences already advanced are left
// alone, what is left of the reverse sync is dropped) and finishes.
func TestResumeAfterAQuickStepCut(t *testing.T) {
	for _, tc := range []struct {
		step string
		// done: the step's effect reached the world before the crash.
		done bool
		// call is the database call the step makes.
		call string
		// table is what the reconciliation must say.
		table string
	}{
		{"promote-backup", false, "promote db-b", "still a standby: the step promotes it"},
		{"promote-backup", true, "promote db-b", "a primary: the promotion went through"},
		// The fake does not keep sequences: advanced or not, the world looks the same to it.
		{"advance-sequences", false, "advance db-b>db-p", "reverse sync db-b→db-p"},
		{"reverse-stop", false, "reverse-stop db-b>db-p", "stopping: step reverse-stop was dropping it"},
		{"reverse-stop", true, "reverse-stop db-b>db-p", "stopping: step reverse-stop was dropping it"},
	} {
		t.Run(fmt.Sprintf("%s, done %t", tc.step, tc.done), func(t *testing.T) {
			f := newFakeWorld(testInventory())
			p, _ := Build(f.inv, PlanReverseSync)
			// The world as the steps before left it.
			f.mu.Lock()
			j, path := journalUntil(t, p, tc.step, func(st *Step) {
				switch st.Action {
				case ActSwitch:
					f.live = st.Side
				case ActPromote:
					f.promoted = true
				case ActReverseStart:
					f.reverse = true
				case ActRun:
					for _, h := range st.Hosts {
						f.version[h] = f.inv.Upgrade.Version
					}
				}
			})
			j.Write(Event{Kind: EvStepStarted, StepID: tc.step, Status: StatusRunning})
			j.Close()
			if tc.done {
				switch tc.step {
				case "promote-backup":
					f.promoted = true
				case "reverse-stop":
					f.reverse = false
				}
			}
			f.mu.Unlock()
			r, err := ReadResume(path, p)
			if err != nil {
				t.Fatal(err)
			}
			r.Reconcile(context.Background(), f.inv, p, f.ports())
			table := strings.Join(r.Table(), "\n")
			if len(r.Unexplained) > 0 || r.Done[tc.step] || !strings.Contains(table, tc.table) {
				t.Fatalf("unexplained %v, %s done %t, want none, false, and %q in the table:\n%s", r.Unexplained, tc.step, r.Done[tc.step], tc.table, table)
			}
			finishResumed(t, f, PlanReverseSync, r)
			f.mu.Lock()
			defer f.mu.Unlock()
			if n := countCalls(f.dbCalls, tc.call); n != 1 {
				t.Errorf("%s called %d times by the resumed run, want 1 (%v)", tc.call, n, f.dbCalls)
			}
			if f.promoted || f.reverse || f.live != inventory.Production {
				t.Errorf("at the end: backup promoted %t, reverse sync %t, users on %s", f.promoted, f.reverse, f.live)
			}
		})
	}
}

// fenceDB is the fake database that can also tell whether a host is fenced, as PostgreSQL can.
type fenceDB struct {
	fakeDB
	fenced map[string]bool
}

func (d fenceDB) Fenced(_ context.Context, h string) (bool, error) { return d.fenced[h], nil }

// TestReconcileReadsFences: the fences a journal records are held against the world when the database
// can read them: a fence still set agrees; one lifted since (by hand) is a discrepancy nothing explains;
// a fence set by a step the crash cut is explained by that step.
func TestReconcileReadsFences(t *testing.T) {
	for _, tc := range []struct {
		name          string
		fenceDone     bool // fence-production finished in the journal (else it only started)
		worldFenced   bool
		wantUnexplain bool
		wantRow       string
	}{
		{"fence set and still there", true, true, false, "fenced read-only (default_transaction_read_only = on)"},
		{"fence lifted by hand since", true, false, true, "NOT fenced: writes may have reached it since"},
		{"fence step cut by the crash, fence set", false, true, false, "fenced read-only (default_transaction_read_only = on)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWorld(testInventory())
			p, _ := Build(f.inv, PlanReverseSync)
			path := filepath.Join(t.TempDir(), "j.jsonl")
			j, _, err := OpenJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"preflight", "sync"} {
				j.Write(Event{Kind: EvStepFinished, StepID: id, Status: StatusDone})
			}
			j.Write(Event{Kind: EvStepStarted, StepID: "fence-production", Status: StatusRunning})
			if tc.fenceDone {
				j.Write(Event{Kind: EvStepFinished, StepID: "fence-production", Status: StatusDone})
			}
			j.Close()
			r, err := ReadResume(path, p)
			if err != nil {
				t.Fatal(err)
			}
			w := f.ports()
			w.DB = fenceDB{fakeDB{f}, map[string]bool{"db-p": tc.worldFenced}}
			r.Reconcile(context.Background(), f.inv, p, w)
			table := strings.Join(r.Table(), "\n")
			if got := len(r.Unexplained) > 0; got != tc.wantUnexplain {
				t.Errorf("unexplained %v, want some: %t\n%s", r.Unexplained, tc.wantUnexplain, table)
			}
			if !strings.Contains(table, "fence on db-p") || !strings.Contains(table, tc.wantRow) {
				t.Errorf("the table has no fence row saying %q:\n%s", tc.wantRow, table)
			}
		})
	}
}

// journalUntil opens a journal in a temporary directory and records every step of p before the step
// stop as done (a switch with its switched event), calling each, if given, for each of those steps so
// that the test can make the world match. It returns the open journal and its path.
func journalUntil(t *testing.T, p *Plan, stop string, each func(st *Step)) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Steps() {
		if st.ID == stop {
			break
		}
		if st.Action == ActSwitch {
			j.Write(Event{Kind: EvSwitched, StepID: st.ID, Change: &Change{From: string(st.Side.Other()), To: string(st.Side)}})
		}
		j.Write(Event{Kind: EvStepFinished, StepID: st.ID, Status: StatusDone})
		if each != nil {
			each(st)
		}
	}
	return j, path
}

// finishResumed runs plan on f with auto-approval, resuming r, and fails the test unless it finishes.
func finishResumed(t *testing.T, f *fakeWorld, plan string, r *Resume) *run {
	t.Helper()
	run := startRunWith(t, f, plan, Options{AutoApprove: true, Resume: r})
	ev, err := run.finished()
	if err != nil || ev.Status != StatusDone {
		t.Fatalf("resumed run: %v, %s", err, ev.Status)
	}
	return run
}
