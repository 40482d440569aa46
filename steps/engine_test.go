package steps

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/inventory"
)

func TestAutoApproveRunsBothPlans(t *testing.T) {
	for _, plan := range PlanNames() {
		t.Run(plan, func(t *testing.T) {
			f := newFakeWorld(testInventory())
			r := startRun(t, f, plan, true)
			ev, err := r.finished()
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if ev.Summary.Status != StatusDone || ev.Summary.Live != inventory.Production {
				t.Fatalf("summary = %+v, want done and live production", ev.Summary)
			}
			for _, h := range []string{"app-p1", "app-p2", "app-b1"} {
				if f.versionOf(h) != "2.0" {
					t.Errorf("%s version = %q, want 2.0", h, f.versionOf(h))
				}
			}
			if f.dbState("paused") {
				t.Error("replay left paused")
			}
		})
	}
}

func TestReadonlyOrder(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, true)
	if _, err := r.finished(); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, ev := range r.seen {
		if ev.Kind == EvStepFinished && ev.Status == StatusDone {
			order = append(order, ev.StepID)
		}
	}
	want := []string{"preflight", "sync", "switch-to-backup", "pause-replay",
		"upgrade-production", "migrate-production", "verify-production-direct", "switch-to-production",
		"verify-production-traffic", "resume-replay", "resync", "upgrade-backup", "verify-backup-direct"}
	if !slices.Equal(order, want) {
		t.Fatalf("steps done in order\n %v\nwant\n %v", order, want)
	}
	// The migration runs once, on the first production app, after the upgrade of every production host.
	cmds := f.commands()
	mig := slices.Index(cmds, "app-p1: shop-migrate up")
	if mig < 0 || slices.Contains(cmds, "app-p2: shop-migrate up") {
		t.Fatalf("migration not run exactly once on app-p1: %v", cmds)
	}
	if slices.Index(cmds, "app-p2: start shop") > mig {
		t.Fatalf("migration ran before app-p2 was upgraded: %v", cmds)
	}
}

func TestGateWaitsForConfirmation(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, false)
	g := r.confirmUntil("switch-to-backup")
	if !g.Allows(Confirm) || g.Allows(Retry) {
		t.Fatalf("switch gate allows %v", g.Allowed)
	}
	if !slices.Contains(g.Changes, "+     server 10.0.1.1:80; # app-b1") || !slices.Contains(g.Changes, "-     server 10.0.0.1:80; # app-p1") {
		t.Fatalf("switch gate does not show the upstream diff: %q", g.Changes)
	}
	// Decline keeps the engine at the same gate and changes nothing.
	r.decide("switch-to-backup", Decline)
	r.waitFor("declined gate", func(ev Event) bool {
		return ev.Kind == EvGateWaiting && ev.StepID == "switch-to-backup" && ev.Gate.Declined
	})
	if f.side() != inventory.Production {
		t.Fatal("declined switch happened")
	}
	// A decision meant for another step is ignored.
	r.decide("pause-replay", Confirm)
	r.waitFor("ignored notice", func(ev Event) bool { return ev.Kind == EvNotice && strings.Contains(ev.Text, "no longer waiting") })
	r.decide("switch-to-backup", Confirm)
	r.waitFor("switched", func(ev Event) bool { return ev.Kind == EvSwitched })
	if f.side() != inventory.Backup {
		t.Fatal("confirmed switch did not happen")
	}
	r.gate("pause-replay", GateConfirm)
	r.decide("pause-replay", Abort)
	ev, err := r.finished()
	if !errors.Is(err, ErrAborted) || ev.Summary.Status != StatusAborted {
		t.Fatalf("abort: err %v status %v", err, ev.Summary.Status)
	}
	if !strings.Contains(ev.Summary.State, "traffic to backup") {
		t.Fatalf("summary does not say where traffic is: %q", ev.Summary.State)
	}
}

func TestConfirmRefusedUntilConditionsHold(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("switch-to-backup")
	f.mu.Lock()
	f.lag = 10 << 20
	f.mu.Unlock()
	g := r.waitFor("switch gate not ready", func(ev Event) bool {
		return ev.Kind == EvGateWaiting && ev.StepID == "switch-to-backup" && !ev.Gate.Ready
	}).Gate
	if c := g.Conditions[1]; c.OK || c.Value != "10.0 MiB behind" {
		t.Fatalf("lag condition = %+v", c)
	}
	r.decide("switch-to-backup", Confirm)
	r.waitFor("refusal", func(ev Event) bool { return ev.Kind == EvNotice && strings.Contains(ev.Text, "cannot confirm yet") })
	if f.side() != inventory.Production {
		t.Fatal("switched while the standby was behind")
	}
	f.mu.Lock()
	f.lag = 0
	f.mu.Unlock()
	r.gate("switch-to-backup", GateConfirm)
	r.decide("switch-to-backup", Confirm)
	r.waitFor("switched", func(ev Event) bool { return ev.Kind == EvSwitched })
}

func TestWaitStepCannotBeConfirmedButPassesWhenConditionsHold(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.lag = 10 << 20
	inv := f.inv
	inv.Thresholds.Timeout = 0 // wait for ever
	r := startRun(t, f, PlanReadonly, false)
	r.waitFor("sync waiting", func(ev Event) bool { return ev.Kind == EvGateWaiting && ev.StepID == "sync" })
	r.decide("sync", Confirm)
	r.waitFor("refusal", func(ev Event) bool {
		return ev.Kind == EvNotice && strings.Contains(ev.Text, "confirm is not possible")
	})
	f.mu.Lock()
	f.lag = 100
	f.mu.Unlock()
	d := r.waitFor("sync passes", func(ev Event) bool { return ev.Kind == EvGateDecided && ev.StepID == "sync" })
	if d.Decision.By != "conditions" {
		t.Fatalf("decided by %q", d.Decision.By)
	}
}

func TestSyncTimeoutFailsWithClearMessage(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.lag = 10 << 20
	r := startRun(t, f, PlanReadonly, true)
	ev, err := r.finished()
	var se *StepError
	if !errors.As(err, &se) || se.StepID != "sync" {
		t.Fatalf("err = %v, want a StepError for sync", err)
	}
	for _, want := range []string{"did not hold", "lag db-p→db-b", "10.0 MiB behind", "traffic to production"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if ev.Summary.Status != StatusFailed {
		t.Fatalf("status %v", ev.Summary.Status)
	}
}

func TestStandbyNotStreamingFailsPreflight(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.stream = false
	r := startRun(t, f, PlanReadonly, true)
	_, err := r.finished()
	if err == nil || !strings.Contains(err.Error(), "db-b is not streaming") {
		t.Fatalf("err = %v", err)
	}
}

func TestStepFailureRetryResumesAtFailedCommand(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.failRun["install"] = []error{&ExitError{Host: "app-p2", Command: "install shop", Status: 100}}
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("upgrade-production")
	r.decide("upgrade-production", Confirm)
	g := r.gate("upgrade-production", GateFailed)
	if !g.Allows(Retry) || !g.Allows(Skip) || !g.Allows(Rollback) {
		t.Fatalf("failed gate allows %v", g.Allowed)
	}
	if !strings.Contains(g.Reason, "exited with status 100") {
		t.Fatalf("reason %q", g.Reason)
	}
	r.decide("upgrade-production", Retry)
	r.waitFor("upgrade done", func(ev Event) bool {
		return ev.Kind == EvStepFinished && ev.StepID == "upgrade-production" && ev.Status == StatusDone
	})
	// Each host ran "stop shop" once: the retry resumed at the failed command.
	for _, h := range []string{"app-p1", "app-p2"} {
		if n := count(f.commands(), h+": stop shop"); n != 1 {
			t.Errorf("%s ran stop %d times, want 1", h, n)
		}
	}
	if n := count(f.commands(), "app-p1: install shop") + count(f.commands(), "app-p2: install shop"); n != 3 {
		t.Errorf("install ran %d times in all, want 3 (one failure, one retry)", n)
	}
}

func TestConnectionLostIsNotRetriedAutomatically(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.failRun["install"] = []error{fmt.Errorf("app-p1: %w", ErrConnectionLost)}
	r := startRun(t, f, PlanReadonly, true)
	_, err := r.finished()
	var se *StepError
	if !errors.As(err, &se) || se.StepID != "upgrade-production" || !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(se.Advice, "half-run") {
		t.Fatalf("advice %q", se.Advice)
	}
	if n := count(f.commands(), "app-p1: install shop") + count(f.commands(), "app-p2: install shop"); n != 2 {
		t.Fatalf("install ran %d times, want 2 (never re-run)", n)
	}
}

func TestSkipStep(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("pause-replay")
	r.decide("pause-replay", Skip)
	r.waitFor("skipped", func(ev Event) bool {
		return ev.Kind == EvStepFinished && ev.StepID == "pause-replay" && ev.Status == StatusSkipped
	})
	if f.dbState("paused") || f.dbState("called pause db-b") {
		t.Fatal("skipped step ran")
	}
}

func TestRollbackThenRedo(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("switch-to-backup")
	r.decide("switch-to-backup", Rollback) // nothing to roll back before a switch
	r.waitFor("notice", func(ev Event) bool {
		return ev.Kind == EvNotice && strings.Contains(ev.Text, "rollback is not possible")
	})
	r.decide("switch-to-backup", Confirm)
	r.confirmUntil("pause-replay")
	r.decide("pause-replay", Rollback)
	r.waitFor("rolled back", func(ev Event) bool { return ev.Kind == EvRolledBack })
	if f.side() != inventory.Production {
		t.Fatalf("live = %s after rollback", f.side())
	}
	rg := r.gate("pause-replay", GateRolledBack)
	if !rg.Allows(Confirm) || !rg.Allows(Abort) || rg.Allows(Skip) {
		t.Fatalf("rolled-back gate allows %v", rg.Allowed)
	}
	r.decide("pause-replay", Confirm)
	r.waitFor("switched again", func(ev Event) bool { return ev.Kind == EvSwitched && ev.Change.To == "backup" })
	r.gate("pause-replay", GateConfirm)
	if f.side() != inventory.Backup {
		t.Fatal("redo did not switch back to backup")
	}
}

func TestRollbackAsksWhenPreviousSideIsFailing(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("pause-replay")
	f.mu.Lock()
	f.down["app-p2"] = true
	f.mu.Unlock()
	r.decide("pause-replay", Rollback)
	ask := r.waitFor("rollback-ask", func(ev Event) bool { return ev.Kind == EvRollbackAsk })
	if !strings.Contains(ask.Text, "app-p2: connection refused") {
		t.Fatalf("ask %q", ask.Text)
	}
	if f.side() != inventory.Backup {
		t.Fatal("rolled back without asking")
	}
	r.eng.Decide(Decision{Kind: Rollback, By: "tester", StepID: "pause-replay", Force: true})
	r.waitFor("rolled back", func(ev Event) bool { return ev.Kind == EvRolledBack })
	if f.side() != inventory.Production {
		t.Fatal("forced rollback did not happen")
	}
	r.gate("pause-replay", GateRolledBack)
	r.decide("pause-replay", Abort)
	if _, err := r.finished(); !errors.Is(err, ErrAborted) {
		t.Fatalf("err %v", err)
	}
}

func TestRollbackWhileStepRunsCancelsIt(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.block = make(chan struct{})
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("upgrade-production")
	r.decide("upgrade-production", Confirm)
	r.waitFor("install running", func(ev Event) bool { return ev.Kind == EvOutput && strings.Contains(ev.Text, "running install") })
	r.eng.Decide(Decision{Kind: Rollback, By: "tester", Force: true})
	r.waitFor("interrupted", func(ev Event) bool {
		return ev.Kind == EvStepFinished && ev.StepID == "upgrade-production" && strings.Contains(ev.Err, "rollback")
	})
	if !slices.ContainsFunc(r.seen, func(ev Event) bool { return ev.Kind == EvRolledBack }) {
		t.Fatal("no rolled-back event before the step ended")
	}
	r.gate("upgrade-production", GateRolledBack)
	if f.side() != inventory.Production {
		t.Fatal("not rolled back")
	}
}

func TestSwitchFailureKeepsPreviousAndAllowsRetry(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.failSwitch = errors.New("nginx -t failed: host not found in upstream")
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("switch-to-backup")
	r.decide("switch-to-backup", Confirm)
	g := r.gate("switch-to-backup", GateFailed)
	if !strings.Contains(g.Reason, "previous upstream stays live") || g.Allows(Rollback) {
		t.Fatalf("failed switch gate: %q allows %v", g.Reason, g.Allowed)
	}
	f.mu.Lock()
	f.failSwitch = nil
	f.mu.Unlock()
	r.decide("switch-to-backup", Retry)
	r.waitFor("switched", func(ev Event) bool { return ev.Kind == EvSwitched })
}

func TestCancellationStopsRun(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.block = make(chan struct{})
	r := startRun(t, f, PlanReadonly, true)
	r.waitFor("install running", func(ev Event) bool { return ev.Kind == EvOutput && strings.Contains(ev.Text, "running install") })
	r.cancel()
	ev, err := r.finished()
	if err == nil || ev.Summary.Status != StatusAborted {
		t.Fatalf("err %v status %v", err, ev.Summary.Status)
	}
}

func TestReadingsCarryBadges(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("upgrade-production")
	ev := r.waitFor("paused badge", func(ev Event) bool {
		return ev.Kind == EvReadings && slices.Contains(ev.Readings.Hosts["db-b"].Badges, BadgePaused)
	})
	if ev.Readings.Live != inventory.Backup {
		t.Fatalf("live %s", ev.Readings.Live)
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestSkippedSwitchNeverUpgradesTheLiveSide: an operator who skips a failed switch still cannot
// upgrade production while users are on it: the upgrade's gate waits for
// the balancer to send users to the backup, refuses a confirmation, and fails after the timeout.
func TestSkippedSwitchNeverUpgradesTheLiveSide(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.failSwitch = errors.New("nginx -t failed: host not found in upstream")
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("switch-to-backup")
	r.decide("switch-to-backup", Confirm)
	r.gate("switch-to-backup", GateFailed)
	r.decide("switch-to-backup", Skip)
	r.confirmUntil("pause-replay")
	r.decide("pause-replay", Confirm)
	ev := r.waitFor("the upgrade's gate", func(ev Event) bool {
		return ev.Kind == EvGateWaiting && ev.StepID == "upgrade-production" && ev.Gate.Kind == GateConfirm
	})
	var live *ConditionState
	for i, c := range ev.Gate.Conditions {
		if c.Kind == CondLive {
			live = &ev.Gate.Conditions[i]
		}
	}
	if live == nil || live.OK || live.Side != inventory.Backup || !strings.Contains(live.Value, "production") {
		t.Fatalf("upgrade-production's gate conditions %+v: want an unmet 'users on backup' condition showing production live", ev.Gate.Conditions)
	}
	r.decide("upgrade-production", Confirm)
	r.waitFor("the refusal", func(ev Event) bool {
		return ev.Kind == EvNotice && ev.StepID == "upgrade-production" && strings.Contains(ev.Text, "cannot confirm yet")
	})
	g := r.gate("upgrade-production", GateFailed)
	if !strings.Contains(g.Reason, "the balancer sends users to backup") {
		t.Errorf("failed gate reason %q does not name the live-side condition", g.Reason)
	}
	for _, c := range f.commands() {
		if strings.Contains(c, "app-p") && strings.Contains(c, "shop") { // upgrade commands, not the preflight's `true`
			t.Errorf("ran %q on a production app host while users were on production", c)
		}
	}
}

// TestRollbackAsksWhenBackupTookWrites: in the reverse-sync plan the promoted backup takes users'
// writes once it is live; production lacks them until the reverse sync, so a rollback asks first and
// says why, and happens only when forced.
func TestRollbackAsksWhenBackupTookWrites(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReverseSync, false)
	r.confirmUntil("unfence-production")
	r.decide("unfence-production", Rollback)
	ask := r.waitFor("rollback-ask", func(ev Event) bool { return ev.Kind == EvRollbackAsk })
	for _, want := range []string{"db-b was promoted", "writes", "db-p does not have", "type: discard "} {
		if !strings.Contains(ask.Text, want) {
			t.Errorf("ask %q lacks %q", ask.Text, want)
		}
	}
	if strings.Contains(ask.Text, "failing its checks") {
		t.Errorf("ask %q blames healthy hosts", ask.Text)
	}
	if f.side() != inventory.Backup {
		t.Fatal("rolled back without asking")
	}
	// Force alone does not discard the backup's writes: the operator types the phrase naming them.
	r.eng.Decide(Decision{Kind: Rollback, By: "tester", StepID: "unfence-production", Force: true})
	ask = r.waitFor("discard question", func(ev Event) bool { return ev.Kind == EvRollbackAsk && strings.Contains(ev.Text, "type: discard ") })
	if f.side() != inventory.Backup {
		t.Fatal("rolled back away from the backup's writes on Force alone")
	}
	phrase := ask.Text[strings.Index(ask.Text, "type: ")+len("type: "):]
	r.eng.Decide(Decision{Kind: Rollback, By: "tester", StepID: "unfence-production", Force: true, Discard: phrase})
	r.waitFor("discard recorded", func(ev Event) bool {
		return ev.Kind == EvNotice && strings.Contains(ev.Text, "tester typed \""+phrase+"\"")
	})
	r.waitFor("rolled back", func(ev Event) bool { return ev.Kind == EvRolledBack })
	if f.side() != inventory.Production {
		t.Fatal("forced rollback did not happen")
	}
}

// TestReadonlyRollbackDoesNotAsk: in the readonly plan the backup is a read-only standby, so a
// rollback to a healthy production loses nothing and happens at once.
func TestReadonlyRollbackDoesNotAsk(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("pause-replay")
	r.decide("pause-replay", Rollback)
	ev := r.waitFor("rolled back or asked", func(ev Event) bool { return ev.Kind == EvRolledBack || ev.Kind == EvRollbackAsk })
	if ev.Kind != EvRolledBack {
		t.Fatalf("readonly rollback asked: %q", ev.Text)
	}
}

// TestAdapterPanicFailsTheStep: a panic in an adapter while a step runs becomes the step's error
// (named as a bug, with where it happened); the engine stays in charge and can be aborted.
func TestAdapterPanicFailsTheStep(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.panicOn = "install"
	r := startRun(t, f, PlanReadonly, true)
	ev, err := r.finished()
	if err == nil || !strings.Contains(err.Error(), "pitstop bug: commands on app-p") || !strings.Contains(err.Error(), "adapter bug on app-p") {
		t.Fatalf("Run: %v; want the panic as the step's error", err)
	}
	if ev.Summary == nil || ev.Summary.Status != StatusFailed {
		t.Fatalf("summary %+v, want failed", ev.Summary)
	}
}

// TestParallelLimit: a step on several hosts runs on at most Options.Parallel of them at once, and one
// at a time when the inventory asks for it.
func TestParallelLimit(t *testing.T) {
	apps := []string{"app-p1", "app-p2", "app-p3", "app-p4"}
	for _, tc := range []struct {
		name     string
		parallel int
		serial   bool
		want     int
	}{{"parallel 2", 2, false, 2}, {"parallel 10", 10, false, 4}, {"one at a time", 10, true, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			inv := testInventory()
			for i, h := range apps[2:] {
				inv.Hosts[h] = &inventory.Host{SSH: "local", Serve: fmt.Sprintf("10.0.0.%d:80", i+3)}
			}
			inv.Sides.Production.Apps = apps
			inv.Upgrade.OneAtATime = tc.serial
			f := newFakeWorld(inv)
			r := startRunWith(t, f, PlanReadonly, Options{AutoApprove: true, Parallel: tc.parallel})
			if _, err := r.finished(); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.maxInstalling != tc.want {
				t.Errorf("at most %d installs ran at once, want %d", f.maxInstalling, tc.want)
			}
			if tc.serial {
				var order []string
				for _, c := range f.ran {
					if strings.Contains(c, "install") && strings.HasPrefix(c, "app-p") {
						order = append(order, strings.SplitN(c, ":", 2)[0])
					}
				}
				if !slices.Equal(order, apps) {
					t.Errorf("one at a time ran installs on %v, want the inventory's order %v", order, apps)
				}
			}
		})
	}
}

// TestAbortWhileStepRuns: aborting while an upgrade command runs stops the step at once, and the final
// summary names the commands that were killed and may be half-done, and that users are on the backup.
func TestAbortWhileStepRuns(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.block = make(chan struct{})
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("upgrade-production")
	r.decide("upgrade-production", Confirm)
	installing := map[string]bool{}
	r.waitFor("install running on both hosts", func(ev Event) bool {
		if ev.Kind == EvOutput && strings.Contains(ev.Text, "running install") {
			installing[ev.Host] = true
		}
		return len(installing) == 2
	})
	r.eng.Decide(Decision{Kind: Abort, By: "tester"})
	ev, err := r.finished()
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("Run: %v, want ErrAborted", err)
	}
	next := strings.Join(ev.Summary.Next, "\n")
	for _, want := range []string{`step "upgrade-production"`, "`install shop` on app-p1", "`install shop` on app-p2", "half-done", "pitstop switch -i test.yaml --to production", "pg_wal_replay_resume()"} {
		if !strings.Contains(next, want) {
			t.Errorf("summary's next lacks %q:\n%s", want, next)
		}
	}
}

// TestBackupAheadAdvice: a reverse-sync run that stops while the promoted backup holds users' writes
// production lacks must not advise switching users to production or rebuilding the backup.
func TestBackupAheadAdvice(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.failRun["install"] = []error{errors.New("exit status 100")}
	r := startRun(t, f, PlanReverseSync, true)
	ev, err := r.finished()
	if err == nil {
		t.Fatal("the run did not fail")
	}
	next := strings.Join(ev.Summary.Next, "\n")
	if !strings.Contains(next, "db-b holds users' writes that db-p does not have") || !strings.Contains(next, "do NOT send users to production") {
		t.Errorf("next does not warn that the backup is ahead:\n%s", next)
	}
	for _, bad := range []string{"pitstop switch", "rebuild it as a standby", "rebuild-standby"} {
		if strings.Contains(next, bad) {
			t.Errorf("next advises %q although that would lose the backup's writes:\n%s", bad, next)
		}
	}
}

// TestRollbackToAStaleSideAsks: after the switch back, rolling back to the backup asks first — in
// reverse-sync it was promoted and lacks production's new writes; in readonly its replay is paused.
func TestRollbackToAStaleSideAsks(t *testing.T) {
	for plan, gate := range map[string]string{PlanReverseSync: "reverse-stop", PlanReadonly: "resume-replay"} {
		t.Run(plan, func(t *testing.T) {
			f := newFakeWorld(testInventory())
			r := startRun(t, f, plan, false)
			r.confirmUntil(gate)
			r.decide(gate, Rollback)
			ask := r.waitFor("rollback-ask", func(ev Event) bool { return ev.Kind == EvRollbackAsk || ev.Kind == EvRolledBack })
			if ask.Kind != EvRollbackAsk || !strings.Contains(ask.Text, "db-b") {
				t.Fatalf("rollback to the stale backup did not ask: %s %q", ask.Kind, ask.Text)
			}
			if f.side() != inventory.Production {
				t.Fatal("rolled back without asking")
			}
		})
	}
}

// TestResumeAndRebuildWaitForUsersOnProduction: resuming replay (readonly) and stopping the reverse
// sync and rebuilding the backup (reverse-sync) act on the backup's database, so each waits until
// users are on production.
func TestResumeAndRebuildWaitForUsersOnProduction(t *testing.T) {
	inv := testInventory()
	for plan, ids := range map[string][]string{PlanReadonly: {"resume-replay"}, PlanReverseSync: {"reverse-stop", "rebuild-backup"}} {
		p, err := Build(inv, plan)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			st := p.Step(id)
			if st == nil || !slices.ContainsFunc(st.Gate.Conditions, func(c Condition) bool { return c.Kind == CondLive && c.Side == inventory.Production }) {
				t.Errorf("%s/%s does not wait for users on production: %+v", plan, id, st)
			}
		}
	}
}

// TestPromoteRetryAfterAFalseFailure: a promotion that happened but reported an error is retried; the
// retry finds a primary, counts the step as done, and the engine knows the backup is promoted (so a
// rollback asks, and the final state says so).
func TestPromoteRetryAfterAFalseFailure(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.promoteErr = errors.New("check promotion: connection reset")
	r := startRun(t, f, PlanReverseSync, false)
	r.confirmUntil("promote-backup")
	r.decide("promote-backup", Confirm)
	r.gate("promote-backup", GateFailed)
	r.decide("promote-backup", Retry)
	r.waitFor("promote done", func(ev Event) bool {
		return ev.Kind == EvStepFinished && ev.StepID == "promote-backup" && ev.Status == StatusDone
	})
	r.confirmUntil("unfence-production")
	r.decide("unfence-production", Rollback)
	ask := r.waitFor("rollback-ask", func(ev Event) bool { return ev.Kind == EvRollbackAsk || ev.Kind == EvRolledBack })
	if ask.Kind != EvRollbackAsk || !strings.Contains(ask.Text, "db-b was promoted") {
		t.Fatalf("after the retried promotion the engine does not know db-b is promoted: %s %q", ask.Kind, ask.Text)
	}
}
