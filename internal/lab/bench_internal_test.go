package lab

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

func benchTestInventory() *inventory.Inventory {
	l := &layout{Dir: "/tmp/lab", state: state{PortBase: 17800, Pitstop: "/usr/bin/pitstop", PGBin: DefaultPGBin}}
	inv := l.inventory()
	inv.Defaults()
	return inv
}

// TestNaiveCommands: the naive procedure stops the production app, sleeps when the upgrade does,
// migrates and starts the new version — the same commands the plan runs, without the switch.
func TestNaiveCommands(t *testing.T) {
	inv := benchTestInventory()
	got := naiveCommands(inv, "/tmp/lab/bin/appctl", "app-p1")
	if len(got) != 3 || got[0] != "/tmp/lab/bin/appctl stop app-p1" || !strings.Contains(got[1], "lab migrate --db") ||
		got[2] != "/tmp/lab/bin/appctl start app-p1 v2" {
		t.Errorf("naive commands without a sleep: %q", got)
	}
	inv.Upgrade.Commands = []string{"/tmp/lab/bin/appctl stop {host}", "sleep 10", "/tmp/lab/bin/appctl start {host} {version}"}
	got = naiveCommands(inv, "/tmp/lab/bin/appctl", "app-p1")
	if len(got) != 4 || got[1] != "sleep 10" {
		t.Errorf("naive commands with a sleep: %q", got)
	}
}

// TestMeasurePlan reads the switch latencies and the read-only window from a made-up run.
func TestMeasurePlan(t *testing.T) {
	inv := benchTestInventory()
	prod, back := upstreamOf(inv, inventory.Production), upstreamOf(inv, inventory.Backup)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	confirm := &steps.Decision{Kind: steps.Confirm}
	events := []steps.Event{
		{Kind: steps.EvPlanStarted, Time: at(0)},
		{Kind: steps.EvGateDecided, StepID: "switch-to-backup", Time: at(1000), Decision: confirm},
		{Kind: steps.EvStepStarted, StepID: "switch-to-backup", Status: steps.StatusRunning, Time: at(1000)},
		{Kind: steps.EvStepFinished, StepID: "switch-to-backup", Status: steps.StatusDone, Time: at(1400)},
		{Kind: steps.EvStepFinished, StepID: "upgrade-production", Status: steps.StatusDone, Time: at(2400), Duration: 900 * time.Millisecond},
		{Kind: steps.EvStepFinished, StepID: "migrate-production", Status: steps.StatusDone, Time: at(2500), Duration: 100 * time.Millisecond},
		{Kind: steps.EvGateDecided, StepID: "switch-to-production", Time: at(2500), Decision: confirm},
		{Kind: steps.EvStepFinished, StepID: "switch-to-production", Status: steps.StatusDone, Time: at(2900)},
		{Kind: steps.EvStepFinished, StepID: "upgrade-backup", Status: steps.StatusDone, Time: at(3500), Duration: time.Second},
		{Kind: steps.EvPlanFinished, Time: at(3600), Duration: 3600 * time.Millisecond},
	}
	var reqs []Request
	for ms := 0; ms < 4000; ms += 10 {
		up := prod
		if ms >= 1120 && ms < 2580 {
			up = back
		}
		reqs = append(reqs, Request{Op: OpRead, Start: at(ms), Latency: time.Millisecond, Outcome: OK, Upstream: up})
	}
	p := Procedure{report: &LoadReport{Start: t0, End: at(4000), Requests: reqs}}
	p.measurePlan(events, inv)
	if p.Switch != 120*time.Millisecond || p.SwitchBack != 80*time.Millisecond || p.SwitchErr != nil || p.SwitchBackErr != nil {
		t.Errorf("switch %s (%v), back %s (%v); want 120ms and 80ms", p.Switch, p.SwitchErr, p.SwitchBack, p.SwitchBackErr)
	}
	if p.Maintenance != 3600*time.Millisecond || p.Upgrade != time.Second || p.Window != 1900*time.Millisecond {
		t.Errorf("maintenance %s, upgrade %s, window %s", p.Maintenance, p.Upgrade, p.Window)
	}
	ids := []string{}
	var sum time.Duration
	for _, s := range p.WindowSteps {
		ids = append(ids, s.ID)
		sum += s.Took
	}
	if !slices.Equal(ids, []string{"switch-to-backup", "upgrade-production", "migrate-production", "switch-to-production"}) || sum != p.Window {
		t.Errorf("window steps %v add up to %s, window %s", p.WindowSteps, sum, p.Window)
	}
}

// TestWriteTable: the table shows both procedures side by side and each target's verdict with its
// numbers, MISSED when it is missed.
func TestWriteTable(t *testing.T) {
	r := &BenchResult{CPUs: 2, LoadBefore: "0.1 0.2 0.3", LoadAfter: "0.4 0.5 0.6", Users: "200 reads/s", Balancer: "http://lb/"}
	r.Naive = Procedure{Name: "naive", Maintenance: 300 * time.Millisecond, Upgrade: 300 * time.Millisecond,
		Load: LoadSummary{Requests: 900, FailedReads: 60, FailedWrites: 6, ReadSecondsDown: 1, WriteSecondsDown: 1,
			ReadDowntime: 300 * time.Millisecond, WriteDowntime: 300 * time.Millisecond}}
	r.Pitstop = Procedure{Name: "pitstop readonly", Maintenance: 9 * time.Second, Upgrade: 200 * time.Millisecond,
		Switch: 150 * time.Millisecond, SwitchBack: 140 * time.Millisecond, Window: 3 * time.Second,
		WindowSteps: []StepTime{{"switch-to-backup", 500 * time.Millisecond}, {"verify-backup-traffic", 2500 * time.Millisecond}},
		Load:        LoadSummary{Requests: 2900, RefusedWrites: 55, WriteSecondsDown: 3, WriteDowntime: 2750 * time.Millisecond}}
	r.RollbackErr = errors.New("no rollback was decided")
	var b strings.Builder
	r.WriteTable(&b)
	out := b.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"failed reads", "60", "0.00",
		"refused writes", "(naive 0)",
		"writes unavailable (sum of outages)", "0.30s", "2.75s", "9.17",
		"switch latency (confirm → all reads on backup)", "150ms",
		"rollback latency", "not measured: no rollback was decided",
		"read-only window of the plan: 3.00s = switch-to-backup 0.50s + verify-backup-traffic 2.50s",
		"met     zero failed reads (0 failed reads)",
		"MISSED  writes unavailable ≤ upgrade commands + 1s (2.75s vs 0.20s + 1s)",
		"met     switch latency < 250ms (150ms)",
		"MISSED  rollback latency < 250ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}
