package ui

import (
	"fmt"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// t0 is the fixture's engine clock at plan start; fixedNow is the header clock in tests.
var (
	t0       = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	fixedNow = func() time.Time { return time.Date(2026, 3, 1, 10, 7, 30, 0, time.UTC) }
)

// fixtureInventory builds a hand-made topology: appsPerSide app hosts on each side, a primary on
// production, a standby on backup and one read-only replica on backup.
func fixtureInventory(appsPerSide int) *inventory.Inventory {
	inv := &inventory.Inventory{
		Name:     "shop",
		Balancer: inventory.Balancer{Host: "lb", Upstream: "shop", File: "/etc/nginx/conf.d/shop-upstream.conf"},
		Hosts:    map[string]*inventory.Host{"lb": {SSH: "local"}},
		Upgrade:  inventory.Upgrade{Version: "2.0.0"},
	}
	for i := 1; i <= appsPerSide; i++ {
		p, b := fmt.Sprintf("app-p%d", i), fmt.Sprintf("app-b%d", i)
		inv.Hosts[p] = &inventory.Host{SSH: "local", Serve: fmt.Sprintf("127.0.0.%d:8080", 10+i)}
		inv.Hosts[b] = &inventory.Host{SSH: "local", Serve: fmt.Sprintf("127.0.1.%d:8080", 10+i)}
		inv.Sides.Production.Apps = append(inv.Sides.Production.Apps, p)
		inv.Sides.Backup.Apps = append(inv.Sides.Backup.Apps, b)
	}
	for _, h := range []string{"db-p", "db-b", "db-r"} {
		inv.Hosts[h] = &inventory.Host{SSH: "local", Postgres: "host=" + h}
	}
	inv.Sides.Production.Database = "db-p"
	inv.Sides.Backup.Database = "db-b"
	inv.Sides.Backup.Replicas = []string{"db-r"}
	inv.Defaults()
	return inv
}

// fixturePlan is a small read-only-style plan over inv.
func fixturePlan(inv *inventory.Inventory) *steps.Plan {
	prod := inv.Sides.Production.Apps
	return &steps.Plan{Name: "readonly", Inventory: inv.Name, Phases: []*steps.Phase{
		{Name: "Preflight", Steps: []*steps.Step{{ID: "preflight", Title: "Reach every host and read the world", Action: steps.ActPreflight}}},
		{Name: "Sync backup", Steps: []*steps.Step{{ID: "sync", Title: "Wait until db-b has caught up with db-p", Action: steps.ActWaitSync}}},
		{Name: "Switch to backup", Steps: []*steps.Step{
			{ID: "switch-backup", Title: "Switch traffic to backup", Action: steps.ActSwitch, Side: inventory.Backup, Gate: steps.Gate{Confirm: true}},
			{ID: "verify-backup", Title: "Check users are served by backup", Action: steps.ActVerifyTraffic, Side: inventory.Backup},
			{ID: "pause-replay", Title: "Pause WAL replay on db-b", Action: steps.ActPauseReplay, Hosts: []string{"db-b"}, Gate: steps.Gate{Confirm: true}},
		}},
		{Name: "Upgrade production", Steps: []*steps.Step{
			{ID: "upgrade-production", Title: "Upgrade production app hosts to 2.0.0", Action: steps.ActRun, Hosts: prod, Gate: steps.Gate{Confirm: true}},
			{ID: "verify-production", Title: "Check production reports 2.0.0", Action: steps.ActVerifyDirect, Hosts: prod},
		}},
		{Name: "Switch back", Steps: []*steps.Step{
			{ID: "switch-production", Title: "Switch traffic to production", Action: steps.ActSwitch, Side: inventory.Production, Gate: steps.Gate{Confirm: true}},
			{ID: "verify-production-traffic", Title: "Check users are served by production", Action: steps.ActVerifyTraffic, Side: inventory.Production},
		}},
		{Name: "Re-sync backup", Steps: []*steps.Step{
			{ID: "resume-replay", Title: "Resume WAL replay on db-b", Action: steps.ActResumeReplay, Hosts: []string{"db-b"}, Gate: steps.Gate{Confirm: true}},
		}},
	}}
}

// script fabricates an engine event stream on a fake clock.
type script struct {
	inv  *inventory.Inventory
	plan *steps.Plan
	now  time.Time
	seq  int64
	evs  []steps.Event
}

func newScript(inv *inventory.Inventory) *script {
	return &script{inv: inv, plan: fixturePlan(inv), now: t0}
}

func (s *script) wait(d time.Duration) { s.now = s.now.Add(d) }

func (s *script) emit(ev steps.Event) {
	s.seq++
	ev.Seq, ev.Time, ev.Plan = s.seq, s.now, s.plan.Name
	s.evs = append(s.evs, ev)
}

// readings emits one reading with the given live side, replay backlog and host badges.
func (s *script) readings(live inventory.Side, replay int64, paused bool, version map[string]string, badges map[string][]steps.Badge) {
	hosts := map[string]steps.HostState{}
	for _, h := range s.inv.HostNames() {
		if h == "lb" {
			continue
		}
		hosts[h] = steps.HostState{Version: version[h], Healthy: true, Badges: badges[h]}
	}
	up := s.inv.Hosts[s.inv.Sides.Get(live).Apps[0]].Serve
	s.emit(steps.Event{Kind: steps.EvReadings, Readings: &steps.Readings{
		Lags: []steps.Lag{
			{From: "db-p", To: "db-b", Kind: steps.Physical, Streaming: true, Sent: 0, Write: replay / 4, Flush: replay / 2, Replay: replay, Paused: paused},
			{From: "db-p", To: "db-r", Kind: steps.Physical, Streaming: true},
		},
		Probe: steps.ProbeStats{Window: 5 * time.Second, Requests: 100, Failed: 0, P50: 3 * time.Millisecond, P99: 21 * time.Millisecond,
			LastUpstream: up, Version: version[s.inv.Sides.Get(live).Apps[0]], Writes: 5},
		Live:  live,
		Hosts: hosts,
	}})
}

func (s *script) output(host, text string, stream steps.Stream) {
	s.emit(steps.Event{Kind: steps.EvOutput, Host: host, Text: text, Stream: stream})
}

func (s *script) step(id string, status steps.Status) {
	s.emit(steps.Event{Kind: steps.EvStepStarted, StepID: id, Status: status})
}

func (s *script) finish(id string, d time.Duration) {
	s.emit(steps.Event{Kind: steps.EvStepFinished, StepID: id, Status: steps.StatusDone, Duration: d})
}

func (s *script) phase(name string) {
	s.emit(steps.Event{Kind: steps.EvPhaseStarted, Phase: name})
}

var (
	v1 = map[string]string{"app-p1": "1.4.2", "app-p2": "1.4.2", "app-b1": "1.4.2", "app-b2": "1.4.2"}
	v2 = map[string]string{"app-p1": "2.0.0", "app-p2": "2.0.0", "app-b1": "1.4.2", "app-b2": "1.4.2"}
	// standby marks the backup database and the replica.
	standby = map[string][]steps.Badge{"db-b": {steps.BadgeStandby}, "db-r": {steps.BadgeStandby}}
)

// switchGate returns the gate in front of the switch to backup, as the engine emits it.
func switchGate(ready bool, inv *inventory.Inventory) *steps.GateState {
	value := "12.0 KiB behind, 2/5"
	if ready {
		value = "0 B behind, 5/5"
	}
	return &steps.GateState{
		StepID: "switch-backup", Kind: steps.GateConfirm, Prompt: "Switch traffic to backup",
		Changes: []string{
			"lb: " + inv.Balancer.File,
			"-    server 127.0.0.11:8080; # app-p1",
			"-    server 127.0.0.12:8080; # app-p2",
			"+    server 127.0.1.11:8080; # app-b1",
			"+    server 127.0.1.12:8080; # app-b2",
		},
		Conditions: []steps.ConditionState{
			{Condition: steps.Condition{Kind: steps.CondLag, From: "db-p", To: "db-b"}, Label: "lag db-p→db-b ≤ 64.0 KiB for 5 reading(s)", OK: ready, Value: value},
			{Condition: steps.Condition{Kind: steps.CondSuccess}, Label: "probe success ≥ 99.0% over 5s", OK: true, Value: "100.0%"},
		},
		Ready:   ready,
		Allowed: []steps.DecisionKind{steps.Confirm, steps.Decline, steps.Skip, steps.Abort},
	}
}

// toSwitchGate fabricates a run up to the ready gate in front of the switch to backup.
func toSwitchGate(inv *inventory.Inventory) *script {
	s := newScript(inv)
	s.emit(steps.Event{Kind: steps.EvPlanStarted, Text: "readonly plan on shop"})
	s.phase("Preflight")
	s.step("preflight", steps.StatusRunning)
	s.readings(inventory.Production, 48<<10, false, v1, standby)
	s.output("lb", "nginx: configuration file /etc/nginx/nginx.conf test is successful", steps.Stdout)
	s.output("db-p", "primary, 2 standbys streaming", steps.Stdout)
	s.output("app-p1", "warning: disk 81% full", steps.Stderr)
	s.wait(1500 * time.Millisecond)
	s.finish("preflight", 1500*time.Millisecond)
	s.phase("Sync backup")
	s.step("sync", steps.StatusRunning)
	for i, lag := range []int64{40 << 10, 32 << 10, 20 << 10, 12 << 10, 4 << 10, 0} {
		s.wait(500 * time.Millisecond)
		s.readings(inventory.Production, lag, false, v1, standby)
		_ = i
	}
	s.finish("sync", 3*time.Second)
	s.phase("Switch to backup")
	s.step("switch-backup", steps.StatusWaiting)
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "switch-backup", Gate: switchGate(true, inv)})
	return s
}

// toFinished fabricates a whole run through to its end, with a switch and a switch back.
func toFinished(inv *inventory.Inventory) *script {
	s := toSwitchGate(inv)
	d := steps.Decision{Kind: steps.Confirm, By: "alice", StepID: "switch-backup"}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-backup", Decision: &d})
	s.step("switch-backup", steps.StatusRunning)
	s.wait(400 * time.Millisecond)
	s.emit(steps.Event{Kind: steps.EvSwitched, StepID: "switch-backup", Change: &steps.Change{File: inv.Balancer.File, From: "production", To: "backup"}})
	s.finish("switch-backup", 400*time.Millisecond)
	s.readings(inventory.Backup, 0, false, v1, standby)
	for _, id := range []string{"verify-backup", "pause-replay"} {
		s.step(id, steps.StatusRunning)
		s.wait(time.Second)
		s.finish(id, time.Second)
	}
	paused := map[string][]steps.Badge{"db-b": {steps.BadgeStandby, steps.BadgePaused}, "db-r": {steps.BadgeStandby}}
	s.phase("Upgrade production")
	s.step("upgrade-production", steps.StatusRunning)
	for _, h := range inv.Sides.Production.Apps {
		s.output(h, "systemctl stop shop", steps.Stdout)
		s.output(h, "installing shop 2.0.0", steps.Stdout)
	}
	s.wait(20 * time.Second)
	s.finish("upgrade-production", 20*time.Second)
	s.step("verify-production", steps.StatusRunning)
	s.wait(time.Second)
	s.finish("verify-production", time.Second)
	s.readings(inventory.Backup, 96<<10, true, v2, paused)
	s.phase("Switch back")
	s.step("switch-production", steps.StatusRunning)
	s.emit(steps.Event{Kind: steps.EvSwitched, StepID: "switch-production", Change: &steps.Change{File: inv.Balancer.File, From: "backup", To: "production"}})
	s.finish("switch-production", 300*time.Millisecond)
	s.step("verify-production-traffic", steps.StatusRunning)
	s.wait(2 * time.Second)
	s.finish("verify-production-traffic", 2*time.Second)
	s.phase("Re-sync backup")
	s.step("resume-replay", steps.StatusRunning)
	s.finish("resume-replay", 200*time.Millisecond)
	s.readings(inventory.Production, 0, false, v2, standby)
	s.wait(time.Minute)
	s.emit(steps.Event{Kind: steps.EvPlanFinished, Status: steps.StatusDone, Duration: s.now.Sub(t0),
		Text: "plan readonly finished", Summary: &steps.Summary{Status: steps.StatusDone, Elapsed: s.now.Sub(t0),
			Downtime: 500 * time.Millisecond, Live: inventory.Production, State: "balancer sends traffic to production",
			Users: steps.ProbeTotals{Reads: 1780, FailedReads: 0, Writes: 89, RefusedWrites: 35, RefusedFor: 1800 * time.Millisecond}}})
	return s
}

// batch turns a script into the message the cockpit's queue would deliver.
func (s *script) batch() eventsMsg {
	items := make([]item, len(s.evs))
	for i, ev := range s.evs {
		items[i] = item{ev: clone(ev)}
	}
	return eventsMsg{items: items}
}

// toUpgrading fabricates a run that switched to backup, paused replay and is upgrading production.
func toUpgrading(inv *inventory.Inventory) *script {
	s := toSwitchGate(inv)
	d := steps.Decision{Kind: steps.Confirm, By: "alice", StepID: "switch-backup"}
	s.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-backup", Decision: &d})
	s.step("switch-backup", steps.StatusRunning)
	s.wait(400 * time.Millisecond)
	s.emit(steps.Event{Kind: steps.EvSwitched, StepID: "switch-backup", Change: &steps.Change{File: inv.Balancer.File, From: "production", To: "backup"}})
	s.finish("switch-backup", 400*time.Millisecond)
	s.step("verify-backup", steps.StatusRunning)
	s.wait(time.Second)
	s.finish("verify-backup", time.Second)
	s.step("pause-replay", steps.StatusRunning)
	s.finish("pause-replay", 100*time.Millisecond)
	s.phase("Upgrade production")
	s.step("upgrade-production", steps.StatusRunning)
	upg := map[string][]steps.Badge{"db-b": {steps.BadgeStandby, steps.BadgePaused}, "db-r": {steps.BadgeStandby},
		"app-p1": {steps.BadgeUpgrading}, "app-p2": {steps.BadgeUpgrading}}
	for i := range 8 {
		s.wait(500 * time.Millisecond)
		s.readings(inventory.Backup, int64(i)*24<<10, true, v1, upg)
		for _, h := range inv.Sides.Production.Apps {
			s.output(h, fmt.Sprintf("unpacking shop-2.0.0 part %d/8", i+1), steps.Stdout)
		}
	}
	s.output("app-p2", "npm WARN deprecated left-pad@1.3.0", steps.Stderr)
	return s
}

// toFailedGate fabricates a failed upgrade waiting for retry, skip, rollback or abort.
func toFailedGate(inv *inventory.Inventory) *script {
	s := toUpgrading(inv)
	s.output("app-p2", "E: Unable to fetch shop_2.0.0_amd64.deb  404 Not Found", steps.Stderr)
	s.emit(steps.Event{Kind: steps.EvStepFinished, StepID: "upgrade-production", Status: steps.StatusFailed, Duration: 4 * time.Second,
		Err: "command exited with status 100 on app-p2: apt-get install -y shop=2.0.0"})
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "upgrade-production", Gate: &steps.GateState{
		StepID: "upgrade-production", Kind: steps.GateFailed, Prompt: "Failed: Upgrade production app hosts to 2.0.0",
		Reason:  "command exited with status 100 on app-p2: apt-get install -y shop=2.0.0; fix the package repository, then retry",
		Allowed: []steps.DecisionKind{steps.Retry, steps.Skip, steps.Abort, steps.Rollback}, Ready: true}})
	return s
}
