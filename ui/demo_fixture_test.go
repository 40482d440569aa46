package ui

import (
	"slices"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/demo"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// demoShop is the inventory `pitstop demo` runs on (three replication links: db-backup, cdn-1 and
// cdn-2 stream from db-prod) and its built-in plan.
func demoShop(t testing.TB, plan string) (*inventory.Inventory, *steps.Plan) {
	t.Helper()
	inv, err := demo.Inventory()
	if err != nil {
		t.Fatalf("demo inventory: %v", err)
	}
	p, err := steps.Build(inv, plan)
	if err != nil {
		t.Fatalf("building plan %s for the demo shop: %v", plan, err)
	}
	return inv, p
}

// demoLinks are the demo shop's three physical links, each replay backlog as given, all streaming.
func demoLinks(backup, cdn1, cdn2 int64, paused bool) []steps.Lag {
	var out []steps.Lag
	for _, l := range []struct {
		to     string
		replay int64
	}{{"db-backup", backup}, {"cdn-1", cdn1}, {"cdn-2", cdn2}} {
		lag := steps.Lag{From: "db-prod", To: l.to, Kind: steps.Physical, Streaming: true,
			Sent: l.replay / 5, Write: l.replay / 4, Flush: l.replay / 3, Replay: l.replay, Paused: paused}
		if paused && l.replay > 0 {
			lag.Delay, lag.HasDelay = 21*time.Second, true
		}
		out = append(out, lag)
	}
	return out
}

// demoReadings emits one reading of the demo shop: users served by live, every host healthy at
// version with the given badges (the backup database and the replicas are standbys).
func (s *script) demoReadings(live inventory.Side, lags []steps.Lag, version map[string]string, badges map[string][]steps.Badge, refused int) {
	hosts := map[string]steps.HostState{}
	for _, h := range s.inv.HostNames() {
		if h == s.inv.Balancer.Host {
			continue
		}
		st := steps.HostState{Version: version[h], Healthy: true, Badges: badges[h]}
		if (h == "db-backup" || h == "cdn-1" || h == "cdn-2") && !slices.Contains(st.Badges, steps.BadgePromoted) {
			st.Badges = append([]steps.Badge{steps.BadgeStandby}, st.Badges...)
		}
		hosts[h] = st
	}
	app := s.inv.Sides.Get(live).Apps[0]
	s.emit(steps.Event{Kind: steps.EvReadings, Readings: &steps.Readings{
		Lags: lags,
		Probe: steps.ProbeStats{Window: 5 * time.Second, Requests: 100, P50: 4600 * time.Microsecond, P99: 11 * time.Millisecond,
			LastUpstream: s.inv.Hosts[app].Serve, Version: version[app], Writes: 5, WritesRefused: refused},
		Live:  live,
		Hosts: hosts,
	}})
}

var demoV1 = map[string]string{"app-p1": "2.3.1", "app-p2": "2.3.1", "app-b1": "2.3.1", "app-b2": "2.3.1"}

// demoSwitchChanges is what the engine lists at the demo shop's switch to backup.
var demoSwitchChanges = []string{
	"  # Pitstop switches this upstream between the sides by rewriting its server lines only.",
	"  upstream shop_backend {",
	"-     server 10.0.1.11:8080; # app-p1",
	"-     server 10.0.1.12:8080; # app-p2",
	"+     server 10.0.2.11:8080; # app-b1",
	"+     server 10.0.2.12:8080; # app-b2",
	"  }",
	"then lb: sudo nginx -t",
	"then lb: sudo nginx -s reload",
}

// demoSwitchGate is the gate in front of the demo shop's switch to backup, as the engine emits it.
func demoSwitchGate() *steps.GateState {
	return &steps.GateState{
		StepID: "switch-to-backup", Kind: steps.GateConfirm, Prompt: "Switch the balancer to backup",
		Changes: demoSwitchChanges,
		Conditions: []steps.ConditionState{
			{Condition: steps.Condition{Kind: steps.CondSuccess}, Label: "probe success ≥ 99.0% over 5s", OK: true, Value: "100.0% of 100"},
			{Condition: steps.Condition{Kind: steps.CondLag, From: "db-prod", To: "db-backup"}, Label: "lag db-prod→db-backup ≤ 64.0 KiB for 1 reading(s)", OK: true, Value: "3.9 KiB behind, 1/1"},
		},
		Ready:    true,
		Allowed:  []steps.DecisionKind{steps.Confirm, steps.Decline, steps.Skip, steps.Abort},
		Deadline: t0.Add(10 * time.Minute),
	}
}

// toDemoSwitchGate fabricates a demo run up to its first gate that changes something.
func toDemoSwitchGate(t testing.TB) *script {
	inv, plan := demoShop(t, steps.PlanReadonly)
	s := newScript(inv)
	s.plan = plan
	s.emit(steps.Event{Kind: steps.EvPlanStarted})
	s.phase("Preflight")
	s.step("preflight", steps.StatusRunning)
	s.demoReadings(inventory.Production, demoLinks(6<<10, 17<<10, 2<<10, false), demoV1, nil, 0)
	s.wait(100 * time.Millisecond)
	s.finish("preflight", 100*time.Millisecond)
	s.phase("Sync backup")
	s.step("sync", steps.StatusRunning)
	for _, kib := range []int64{9, 7, 5, 4} {
		s.wait(500 * time.Millisecond)
		s.demoReadings(inventory.Production, demoLinks(kib<<10, 17<<10, 2<<10, false), demoV1, nil, 0)
	}
	s.finish("sync", 2*time.Second)
	s.phase("Switch to backup")
	s.step("switch-to-backup", steps.StatusWaiting)
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "switch-to-backup", Gate: demoSwitchGate()})
	return s
}

// toDemoRolledBack goes on from the switch gate: the switch, then a rollback from the pause-replay
// gate, which leaves the engine waiting at its ROLLED BACK gate.
func toDemoRolledBack(t testing.TB) *script {
	s := toDemoSwitchGate(t)
	s.confirmDemoSwitch()
	s.wait(1700 * time.Millisecond)
	s.demoReadings(inventory.Backup, demoLinks(0, 1<<10, 0, false), demoV1, nil, 5)
	s.step("pause-replay", steps.StatusWaiting)
	r := steps.Decision{Kind: steps.Rollback, By: "alice", StepID: "pause-replay"}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "pause-replay", Decision: &r})
	s.emit(steps.Event{Kind: steps.EvRolledBack, StepID: "pause-replay", Text: "rolled back from backup to production (by alice)",
		Change: &steps.Change{File: s.inv.Balancer.File, From: "backup", To: "production"}})
	s.demoReadings(inventory.Production, demoLinks(1<<10, 2<<10, 0, false), demoV1, nil, 5)
	back := append([]string(nil), demoSwitchChanges[:8]...) // a rolled-back gate lists the diff only
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "pause-replay", Gate: &steps.GateState{
		StepID: "pause-replay", Kind: steps.GateRolledBack,
		Prompt:  "Rolled back to production. Switch to backup again and resume?",
		Reason:  `traffic is back on production; confirm to switch to backup again and resume at "Pause WAL replay on db-backup, cdn-1, cdn-2 so production's migration does not reach the old app", or abort`,
		Changes: back, Ready: true, Allowed: []steps.DecisionKind{steps.Confirm, steps.Abort}}})
	return s
}

// toDemoUpgrading fabricates a demo run upgrading production from backup: replay paused on every
// standby (their backlog growing, with a time lag), app-p1 down and app-p2 down mid-upgrade.
func toDemoUpgrading(t testing.TB) *script {
	s := toDemoSwitchGate(t)
	s.confirmDemoSwitch()
	s.step("pause-replay", steps.StatusRunning)
	s.wait(time.Second)
	s.finish("pause-replay", time.Second)
	s.phase("Upgrade production")
	s.step("upgrade-production", steps.StatusRunning)
	badges := map[string][]steps.Badge{"app-p1": {steps.BadgeDown}, "app-p2": {steps.BadgeUpgrading, steps.BadgeDown},
		"db-backup": {steps.BadgePaused}, "cdn-1": {steps.BadgePaused}, "cdn-2": {steps.BadgePaused}}
	for i := range 6 {
		s.wait(500 * time.Millisecond)
		kib := int64(8 + 5*i)
		s.demoReadings(inventory.Backup, demoLinks(kib<<10, kib<<10, kib<<10, true), demoV1, badges, 5)
		s.output("app-p1", "Unpacking shop (2.4.0) over (2.3.1) ...", steps.Stdout)
	}
	return s
}

// toDemoReverseCatchup fabricates a reverse-sync demo run waiting for db-prod to catch up with the
// promoted db-backup through the logical reverse sync, whose replay has a time lag.
func toDemoReverseCatchup(t testing.TB) *script {
	inv, plan := demoShop(t, steps.PlanReverseSync)
	s := newScript(inv)
	s.plan = plan
	s.emit(steps.Event{Kind: steps.EvPlanStarted})
	for _, st := range plan.Steps() {
		if st.ID == "reverse-catchup" {
			break
		}
		s.step(st.ID, steps.StatusRunning)
		s.wait(time.Second)
		if st.ID == "switch-to-backup" {
			s.emit(steps.Event{Kind: steps.EvSwitched, StepID: st.ID, Change: &steps.Change{File: inv.Balancer.File, From: "production", To: "backup"}})
		}
		s.finish(st.ID, time.Second)
	}
	v2 := map[string]string{"app-p1": "2.4.0", "app-p2": "2.4.0", "app-b1": "2.3.1", "app-b2": "2.3.1"}
	lags := []steps.Lag{
		{From: "db-backup", To: "db-prod", Kind: steps.Logical, Streaming: true, Sent: 2 << 10, Write: 3 << 10, Flush: 3 << 10,
			Replay: 48 << 10, Delay: 3200 * time.Millisecond, HasDelay: true},
		{From: "db-backup", To: "cdn-1", Kind: steps.Physical, Streaming: true},
		{From: "db-backup", To: "cdn-2", Kind: steps.Physical, Streaming: true},
	}
	s.demoReadings(inventory.Backup, lags, v2, map[string][]steps.Badge{"db-backup": {steps.BadgePromoted}}, 0)
	s.step("reverse-catchup", steps.StatusWaiting)
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "reverse-catchup", Gate: &steps.GateState{
		StepID: "reverse-catchup", Kind: steps.GateConfirm, Prompt: "Wait until db-prod has caught up with db-backup",
		Conditions: []steps.ConditionState{{Condition: steps.Condition{Kind: steps.CondLag, From: "db-backup", To: "db-prod"},
			Label: "lag db-backup→db-prod ≤ 64.0 KiB for 5 reading(s)", Value: "48.0 KiB behind, 0/5"}},
		Allowed: []steps.DecisionKind{steps.Skip, steps.Abort, steps.Rollback}, Deadline: s.now.Add(10 * time.Minute)}})
	return s
}

// confirmDemoSwitch goes on from the switch gate: alice confirms, and the switch to backup runs 1.3 s.
func (s *script) confirmDemoSwitch() {
	d := steps.Decision{Kind: steps.Confirm, By: "alice", StepID: "switch-to-backup"}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-to-backup", Decision: &d})
	s.step("switch-to-backup", steps.StatusRunning)
	s.wait(1300 * time.Millisecond)
	s.emit(steps.Event{Kind: steps.EvSwitched, StepID: "switch-to-backup", Change: &steps.Change{File: s.inv.Balancer.File, From: "production", To: "backup"}})
	s.finish("switch-to-backup", 1300*time.Millisecond)
}
