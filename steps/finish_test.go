package steps

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/inventory"
)

// skipSyncThenConfirmUntilFinish skips the sync wait (a check) while replication lags, lets it catch
// up, confirms every gate after, and returns the finishing gate.
func skipSyncThenConfirmUntilFinish(t *testing.T) (*run, *GateState) {
	t.Helper()
	f := newFakeWorld(testInventory())
	f.lag = 10 << 20
	r := startRun(t, f, PlanReadonly, false)
	r.waitFor("sync gate", func(ev Event) bool { return ev.Kind == EvGateWaiting && ev.StepID == "sync" })
	r.decide("sync", Skip)
	r.waitFor("sync skipped", func(ev Event) bool {
		return ev.Kind == EvStepFinished && ev.StepID == "sync" && ev.Status == StatusSkipped
	})
	f.mu.Lock()
	f.lag = 0
	f.mu.Unlock()
	for {
		ev := r.waitFor("a gate to confirm", func(ev Event) bool {
			return ev.Kind == EvGateWaiting && ev.Gate.Ready && ev.Gate.Allows(Confirm)
		})
		if ev.Gate.Kind == GateFinish {
			return r, ev.Gate
		}
		r.decide(ev.StepID, Confirm)
	}
}

// TestSkippedCheckNeedsConfirmingToFinish: a plan that skipped a verification stops at a finishing
// gate that names it; only a confirmation ends it done ("finished with 1 skipped check"), an abort
// ends it aborted, so the exit code says whether someone accepted the unverified end.
func TestSkippedCheckNeedsConfirmingToFinish(t *testing.T) {
	for _, tc := range []struct {
		decision DecisionKind
		status   Status
	}{{Confirm, StatusDone}, {Abort, StatusAborted}} {
		t.Run(string(tc.decision), func(t *testing.T) {
			r, g := skipSyncThenConfirmUntilFinish(t)
			if !strings.Contains(g.Prompt, "1 skipped check") || !strings.Contains(g.Reason, "Wait until") && !strings.Contains(g.Reason, "sync") {
				t.Errorf("finishing gate: prompt %q, reason %q", g.Prompt, g.Reason)
			}
			if g.Allows(Skip) || g.Allows(Rollback) || !g.Allows(Abort) {
				t.Errorf("finishing gate allows %v", g.Allowed)
			}
			r.decide(g.StepID, tc.decision)
			ev, err := r.finished()
			if ev.Summary.Status != tc.status {
				t.Fatalf("status %s, want %s (err %v)", ev.Summary.Status, tc.status, err)
			}
			if len(ev.Summary.SkippedChecks) != 1 {
				t.Errorf("summary's skipped checks = %q", ev.Summary.SkippedChecks)
			}
			switch tc.decision {
			case Confirm:
				if err != nil || !strings.Contains(ev.Text, "finished with 1 skipped check ") {
					t.Errorf("confirmed: err %v, text %q", err, ev.Text)
				}
			case Abort:
				if !errors.Is(err, ErrAborted) {
					t.Errorf("aborted at the finishing gate: err %v", err)
				}
			}
			var tl Tally
			for _, e := range r.seen {
				tl.Add(e)
			}
			lines := strings.Join(tl.Lines(nil), "\n")
			if !strings.Contains(lines, "skipped: sync (1 check never verified") {
				t.Errorf("tally lines:\n%s", lines)
			}
			if tc.decision == Confirm && !strings.Contains(lines, "confirmed by tester") {
				t.Errorf("tally does not say who confirmed:\n%s", lines)
			}
		})
	}
}

// TestAutoApproveNeverFinishesWithSkippedChecks: headless, nobody can confirm, so skipped checks fail
// the plan (auto-approve itself never skips).
func TestAutoApproveNeverFinishesWithSkippedChecks(t *testing.T) {
	f := newFakeWorld(testInventory())
	p, err := Build(f.inv, PlanReadonly)
	if err != nil {
		t.Fatal(err)
	}
	e := New(f.inv, p, f.ports(), Options{AutoApprove: true})
	e.noteSkipped(p.Step("sync"))
	if err := e.confirmSkipped(t.Context()); err == nil || !strings.Contains(err.Error(), "1 skipped check") {
		t.Fatalf("confirmSkipped under auto-approve = %v", err)
	}
}

// TestRollbackSaysItBeganAndEnded: a rollback is announced before the switch's output (so the
// cockpit can show it in progress) and both events carry the sides.
func TestRollbackSaysItBeganAndEnded(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("pause-replay")
	r.decide("pause-replay", Rollback)
	r.waitFor("rolled back", func(ev Event) bool { return ev.Kind == EvRolledBack })
	var kinds []Kind
	for _, ev := range r.seen {
		switch ev.Kind {
		case EvRollingBack, EvRolledBack:
			if ev.Change == nil || ev.Change.From != string(inventory.Backup) || ev.Change.To != string(inventory.Production) {
				t.Errorf("%s carries change %+v, want backup → production", ev.Kind, ev.Change)
			}
			kinds = append(kinds, ev.Kind)
		case EvSwitched:
			if len(kinds) > 0 {
				kinds = append(kinds, ev.Kind)
			}
		}
	}
	if !slices.Equal(kinds, []Kind{EvRollingBack, EvSwitched, EvRolledBack}) {
		t.Errorf("rollback events %v, want rolling-back, switched, rolled-back", kinds)
	}
}
