package ui

import (
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// demoRollbackProof is what the demo balancer prints while it switches back to production.
var demoRollbackProof = []string{
	"wrote candidate upstream (production: 10.0.1.11:8080, 10.0.1.12:8080)",
	"$ sudo nginx -t",
	"nginx: configuration file /etc/nginx/nginx.conf test is successful",
	"$ sudo nginx -s reload",
	"worker pids changed: 1377,1378 → 1420,1421",
}

// toDemoRollingBack goes on from the switch gate: the switch, then alice presses R at the
// pause-replay gate and the engine is half-way through the switch back, its proof arriving.
func toDemoRollingBack(t testing.TB) *script {
	s := toDemoSwitchGate(t)
	s.confirmDemoSwitch()
	s.step("verify-backup-traffic", steps.StatusRunning)
	s.wait(1700 * time.Millisecond)
	s.finish("verify-backup-traffic", 1700*time.Millisecond)
	s.demoReadings(inventory.Backup, demoLinks(0, 1<<10, 0, false), demoV1, nil, 5)
	s.step("pause-replay", steps.StatusWaiting)
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "pause-replay", Gate: &steps.GateState{
		StepID: "pause-replay", Kind: steps.GateConfirm, Prompt: "Pause WAL replay on db-backup, cdn-1, cdn-2 so production's migration does not reach the old app",
		Changes: []string{"on db-backup, cdn-1, cdn-2: SELECT pg_wal_replay_pause()"}, Ready: true,
		Allowed: []steps.DecisionKind{steps.Confirm, steps.Decline, steps.Skip, steps.Abort, steps.Rollback}}})
	s.rollingBack("pause-replay")
	for _, l := range demoRollbackProof {
		s.wait(150 * time.Millisecond)
		s.emit(steps.Event{Kind: steps.EvOutput, StepID: "pause-replay", Host: "lb", Stream: steps.Stdout, Text: l})
	}
	return s
}

// rollingBack is the engine beginning a rollback to production that alice asked for at step id.
func (s *script) rollingBack(id string) {
	s.emit(steps.Event{Kind: steps.EvRollingBack, StepID: id, Text: "rolling back from backup to production (by alice)",
		Change: &steps.Change{From: "backup", To: "production"}})
}

// rollBackAndRedo is a whole rollback at step id's gate, and alice redoing the switch.
func (s *script) rollBackAndRedo(id string) {
	s.rollingBack(id)
	for _, l := range demoRollbackProof {
		s.emit(steps.Event{Kind: steps.EvOutput, StepID: id, Host: "lb", Stream: steps.Stdout, Text: l})
	}
	s.emit(steps.Event{Kind: steps.EvSwitched, StepID: id, Change: &steps.Change{File: s.inv.Balancer.File, From: "backup", To: "production"}})
	s.emit(steps.Event{Kind: steps.EvRolledBack, StepID: id, Text: "rolled back from backup to production (by alice)",
		Change: &steps.Change{From: "backup", To: "production"}})
	r := steps.Decision{Kind: steps.Rollback, By: "alice", StepID: id}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: id, Decision: &r})
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: id, Gate: &steps.GateState{StepID: id, Kind: steps.GateRolledBack,
		Prompt: "Rolled back to production. Switch to backup again and resume?", Ready: true,
		Allowed: []steps.DecisionKind{steps.Confirm, steps.Abort}}})
	c := steps.Decision{Kind: steps.Confirm, By: "alice", StepID: id}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: id, Decision: &c})
	s.emit(steps.Event{Kind: steps.EvOutput, StepID: id, Host: "lb", Stream: steps.Stdout, Text: "$ sudo nginx -s reload"})
	s.emit(steps.Event{Kind: steps.EvSwitched, StepID: id, Change: &steps.Change{File: s.inv.Balancer.File, From: "production", To: "backup"}})
}

// toDemoFinishedWithSkips is a whole demo run that went off its straight path: a rollback and a
// redo at the pause, a retried upgrade, a declined switch back, two verifications skipped, and alice
// confirming at the finishing gate that the plan ends without them.
func toDemoFinishedWithSkips(t testing.TB) *script {
	s := toDemoSwitchGate(t)
	s.confirmDemoSwitch()
	s.step("verify-backup-traffic", steps.StatusRunning)
	s.finish("verify-backup-traffic", time.Second)
	s.step("pause-replay", steps.StatusWaiting)
	s.rollBackAndRedo("pause-replay")
	s.step("pause-replay", steps.StatusRunning)
	s.output("db-backup", "pausing WAL replay", steps.Stdout)
	s.finish("pause-replay", 100*time.Millisecond)
	s.phase("Upgrade production")
	s.step("upgrade-production", steps.StatusRunning)
	s.output("app-p1", "E: Sub-process /usr/bin/dpkg returned an error code (1)", steps.Stderr)
	s.emit(steps.Event{Kind: steps.EvStepFinished, StepID: "upgrade-production", Status: steps.StatusFailed, Duration: 6 * time.Second, Err: "command exited with status 100 on app-p1"})
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "upgrade-production", Gate: &steps.GateState{StepID: "upgrade-production", Kind: steps.GateFailed,
		Prompt: "Failed: Upgrade production app hosts to 2.4.0", Ready: true, Allowed: []steps.DecisionKind{steps.Retry, steps.Skip, steps.Abort, steps.Rollback}}})
	r := steps.Decision{Kind: steps.Retry, By: "alice", StepID: "upgrade-production"}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "upgrade-production", Decision: &r})
	s.step("upgrade-production", steps.StatusRunning)
	s.output("app-p1", "Setting up shop (2.4.0) ...", steps.Stdout)
	s.wait(20 * time.Second)
	s.finish("upgrade-production", 20*time.Second)
	for _, id := range []string{"migrate-production", "verify-production-direct"} {
		s.step(id, steps.StatusRunning)
		s.wait(time.Second)
		s.finish(id, time.Second)
	}
	s.phase("Switch back")
	s.step("switch-to-production", steps.StatusWaiting)
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "switch-to-production", Gate: &steps.GateState{StepID: "switch-to-production", Kind: steps.GateConfirm,
		Prompt: "Switch the balancer to production", Ready: true, Allowed: []steps.DecisionKind{steps.Confirm, steps.Decline, steps.Skip, steps.Abort, steps.Rollback}}})
	n := steps.Decision{Kind: steps.Decline, By: "alice", StepID: "switch-to-production"}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-to-production", Decision: &n})
	y := steps.Decision{Kind: steps.Confirm, By: "alice", StepID: "switch-to-production"}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-to-production", Decision: &y})
	s.step("switch-to-production", steps.StatusRunning)
	s.emit(steps.Event{Kind: steps.EvSwitched, StepID: "switch-to-production", Change: &steps.Change{File: s.inv.Balancer.File, From: "backup", To: "production"}})
	s.finish("switch-to-production", time.Second)
	skipped := []string{"verify-production-traffic", "resync"}
	for _, id := range skipped {
		s.step(id, steps.StatusWaiting)
		s.emit(steps.Event{Kind: steps.EvStepFinished, StepID: id, Status: steps.StatusSkipped})
	}
	s.step("resume-replay", steps.StatusRunning)
	s.finish("resume-replay", time.Second)
	for _, id := range []string{"upgrade-backup", "verify-backup-direct"} {
		s.step(id, steps.StatusRunning)
		s.finish(id, 5*time.Second)
	}
	titles := []string{s.plan.Step(skipped[0]).Title, s.plan.Step(skipped[1]).Title}
	v2 := map[string]string{"app-p1": "2.4.0", "app-p2": "2.4.0", "app-b1": "2.4.0", "app-b2": "2.4.0"}
	s.demoReadings(inventory.Production, demoLinks(1<<10, 2<<10, 1<<10, false), v2, nil, 0)
	s.evs[len(s.evs)-1].Readings.Totals = steps.ProbeTotals{FailedReads: 3, RefusedWrites: 27}
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "finish", Gate: &steps.GateState{StepID: "finish", Kind: steps.GateFinish,
		Prompt: "Finish with 2 skipped checks?", Ready: true, Allowed: []steps.DecisionKind{steps.Confirm, steps.Abort}}})
	c := steps.Decision{Kind: steps.Confirm, By: "alice", StepID: "finish"}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "finish", Decision: &c})
	s.wait(time.Minute)
	s.emit(steps.Event{Kind: steps.EvPlanFinished, Status: steps.StatusDone, Duration: s.now.Sub(t0),
		Text: "plan readonly finished with 2 skipped checks", Summary: &steps.Summary{Status: steps.StatusDone, Elapsed: s.now.Sub(t0),
			Downtime: 1500 * time.Millisecond, Live: inventory.Production, State: "balancer sends traffic to production", SkippedChecks: titles}})
	return s
}
