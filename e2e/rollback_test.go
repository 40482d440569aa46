package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// switchedTo matches the event of a switch (or rollback) that made side live.
func switchedTo(side inventory.Side) func(steps.Event) bool {
	return func(ev steps.Event) bool {
		return ev.Kind == steps.EvSwitched && ev.Change != nil && ev.Change.To == string(side)
	}
}

// TestOneKeyRollback drives the readonly plan as an operator would: every gate confirmed until the
// switch to the backup, then one rollback decision. Users are back on production — the load generator
// sees X-Upstream = the production app, the engine emits EvRolledBack — and aborting leaves production
// live and the standby streaming.
func TestOneKeyRollback(t *testing.T) {
	l := startLab(t, baseRollback, false)
	load := startLoad(t, l)
	settle(time.Second)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly, stopConfirming: switchedTo(inventory.Backup)})

	r.waitFor("the switch to backup", time.Minute, switchedTo(inventory.Backup))
	// The plan verifies users reach the backup, then waits for a confirmation to pause replay.
	g := r.waitFor("the pause-replay gate", time.Minute, gateOf(steps.GateConfirm, "pause-replay")).Gate
	if !g.Allows(steps.Rollback) {
		t.Fatalf("the gate after the switch does not allow a rollback: %v", g.Allowed)
	}
	onBackup := len(servedBy(load.Requests(), "read", l.Back))
	if onBackup == 0 {
		t.Fatalf("no read was served by the backup before the rollback")
	}
	pressed := time.Now()
	r.decide("pause-replay", steps.Rollback)
	rb := r.waitFor("rolled-back", 30*time.Second, is(steps.EvRolledBack, "pause-replay"))
	if !strings.Contains(rb.Text, "from backup to production") {
		t.Errorf("rolled-back event says %q", rb.Text)
	}
	ag := r.waitFor("the rolled-back gate", 10*time.Second, gateOf(steps.GateRolledBack, "pause-replay")).Gate
	if !ag.Allows(steps.Abort) {
		t.Fatalf("rolled-back gate allows %v", ag.Allowed)
	}
	settle(time.Second)
	r.decide("pause-replay", steps.Abort)
	if err := r.wait(30 * time.Second); !errors.Is(err, steps.ErrAborted) {
		t.Fatalf("Run after abort: %v, want ErrAborted", err)
	}
	rep := load.Stop()
	logLoad(t, rep)
	assertNoFailedReads(t, rep)

	// The probes: from some moment after the key press on, every read was served by production.
	at, err := rep.ServedFrom(pressed, rep.End, l.Prod)
	if err != nil {
		t.Fatalf("after the rollback: %v", err)
	}
	t.Logf("rollback: every read served by production %s after the decision (%d reads had been served by the backup)",
		at.Sub(pressed).Round(time.Millisecond), onBackup)
	if at.After(rb.Time) {
		t.Errorf("reads reached production only at %s, after the engine reported the rollback at %s",
			at.Format("15:04:05.000"), rb.Time.Format("15:04:05.000"))
	}
	if sum := r.summary(); sum.Status != steps.StatusAborted || sum.Live != inventory.Production {
		t.Errorf("summary %+v, want aborted with production live", sum)
	}
	if got, want := upstreamFile(t, l), l.Inv.Upstream(inventory.Production); got != want {
		t.Errorf("upstream file after the rollback:\n%s\nwant:\n%s", got, want)
	}
	l.assertVersion(t, "app-p1", "v1")
	l.assertStreaming(t, 10*time.Second)
}
