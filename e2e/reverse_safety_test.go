package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Port bases of the reverse-sync safety tests (issue 9).
const (
	baseCaptureGap  = 19800
	baseReverseSkip = 19900
)

// Observation 6: a write that reached the promoted backup between its promotion and the start of the
// capture was never replicated back. Now the capture reads the WAL in between and the plan stops,
// naming the table, before any user is sent there.
func TestCaptureGapStopsThePlan(t *testing.T) {
	l := startLab(t, baseCaptureGap, false)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReverseSync, stopConfirming: func(ev steps.Event) bool {
		return ev.Kind == steps.EvGateWaiting && ev.StepID == "capture-backup"
	}})
	r.waitFor("the capture gate", 2*time.Minute, gateOf(steps.GateConfirm, "capture-backup"))
	// A cron job on the backup side writes to the freshly promoted database.
	l.sql(t, "db-backup", "INSERT INTO items (name) VALUES ('written-by-a-cron-job')")
	r.decide("capture-backup", steps.Confirm)
	g := r.waitFor("the failed capture", 30*time.Second, gateOf(steps.GateFailed, "capture-backup")).Gate
	for _, want := range []string{"writes reached the promoted backup before the capture started", "items", "docs/safety.md#capture-gap"} {
		if !strings.Contains(g.Reason, want) {
			t.Errorf("failed capture's reason lacks %q: %s", want, g.Reason)
		}
	}
	r.decide("capture-backup", steps.Abort)
	if err := r.wait(30 * time.Second); !errors.Is(err, steps.ErrAborted) {
		t.Errorf("run after abort: %v", err)
	}
	if got := upstreamFile(t, l); got != l.Inv.Upstream(inventory.Production) {
		t.Errorf("users were switched to the backup")
	}
}

// Observation 5: skipping the drain step, switching back and skipping the stop step led to the
// rebuild of a backup that still held writes production lacked. Now, with the drain skipped, the
// switch back is refused, whatever was skipped, and users stay on the backup with their writes.
func TestReverseSyncSkipsNeverRebuildABackupAhead(t *testing.T) {
	l := startLab(t, baseReverseSkip, false)
	load := startLoad(t, l)
	settle(time.Second)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReverseSync, stopConfirming: func(ev steps.Event) bool {
		return ev.Kind == steps.EvGateWaiting && ev.StepID == "fence-backup"
	}})
	// The reverse sync stops applying, so production falls behind the backup for good.
	r.waitFor("the fence-backup gate", 3*time.Minute, gateOf(steps.GateConfirm, "fence-backup"))
	l.sql(t, "db-prod", "ALTER SUBSCRIPTION pitstop_reverse DISABLE")
	settle(2 * time.Second)
	r.decide("fence-backup", steps.Confirm)
	r.waitFor("the drain gate", time.Minute, func(ev steps.Event) bool {
		return ev.Kind == steps.EvGateWaiting && ev.StepID == "reverse-drain"
	})
	r.decide("reverse-drain", steps.Skip)
	r.waitFor("the advance-sequences gate", time.Minute, gateOf(steps.GateConfirm, "advance-sequences"))
	r.decide("advance-sequences", steps.Confirm)
	r.waitFor("the switch-back gate", time.Minute, func(ev steps.Event) bool {
		return ev.Kind == steps.EvGateWaiting && ev.StepID == "switch-to-production" && ev.Gate.Ready
	})
	r.decide("switch-to-production", steps.Confirm)
	g := r.waitFor("the refused switch back", time.Minute, gateOf(steps.GateFailed, "switch-to-production")).Gate
	if !strings.Contains(g.Reason, "refused") || !strings.Contains(g.Reason, "db-backup holds users' writes that db-prod does not have") {
		t.Errorf("switch back after a skipped drain: %s", g.Reason)
	}
	r.decide("switch-to-production", steps.Skip)
	r.waitFor("the verify step", time.Minute, func(ev steps.Event) bool {
		return ev.Kind == steps.EvGateWaiting && ev.StepID == "verify-production-traffic"
	})
	r.decide("verify-production-traffic", steps.Skip)
	r.waitFor("the reverse-stop gate", time.Minute, func(ev steps.Event) bool { return ev.Kind == steps.EvGateWaiting && ev.StepID == "reverse-stop" })
	r.decide("reverse-stop", steps.Skip)
	r.waitFor("the rebuild gate", time.Minute, func(ev steps.Event) bool { return ev.Kind == steps.EvGateWaiting && ev.StepID == "rebuild-backup" })
	r.decide("rebuild-backup", steps.Confirm)
	settle(2 * time.Second)
	if out := r.output("rebuild-backup", "$ "); len(out) > 0 {
		t.Errorf("the backup that holds users' writes was rebuilt: %v", out)
	}
	r.decide("rebuild-backup", steps.Abort)
	r.wait(30 * time.Second)
	sum := r.summary()
	next := strings.Join(sum.Next, "\n")
	if !strings.Contains(next, "do NOT send users to production") {
		t.Errorf("next does not warn that the backup is ahead:\n%s", next)
	}
	// Outside the run, `pitstop switch` refuses too; only the typed phrase naming the amount discards.
	r.world.Close()
	if _, err := l.switchTo(t, inventory.Production, live.SwitchOptions{}); !errors.Is(err, steps.ErrRefused) ||
		!strings.Contains(err.Error(), "db-backup was promoted and holds users' writes that db-prod does not have") {
		t.Errorf("switch to production away from the backup's writes: %v", err)
	}
	var asked, recorded string
	if _, err := l.switchTo(t, inventory.Production, live.SwitchOptions{DiscardBackupWrites: true, Operator: "alice",
		Confirm: func(prompt, want string) bool { asked = want; return true }, Record: func(s string) { recorded += s + "\n" }}); err != nil {
		t.Errorf("switch with the discard typed: %v", err)
	}
	if !strings.HasPrefix(asked, "discard ") || !strings.Contains(asked, "bytes") || !strings.Contains(recorded, "alice typed") {
		t.Errorf("discard phrase %q, record %q", asked, recorded)
	}
	rep := load.Stop()
	s := logLoad(t, rep)
	t.Logf("figures: %d failed reads of %d", s.FailedReads, s.Reads)
}
