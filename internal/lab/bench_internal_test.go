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
	p.measurePlan(steps.PlanReadonly, events, inv)
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
	r.Plan = "readonly"
	r.Script = Procedure{Name: "plain script", Upgrade: 200 * time.Millisecond, Window: 400 * time.Millisecond, Windows: []time.Duration{400 * time.Millisecond},
		Switch: 30 * time.Millisecond, SwitchBack: 20 * time.Millisecond, Checked: 40,
		Load: LoadSummary{Requests: 1000, RefusedWrites: 8, WriteSecondsDown: 1, WriteDowntime: 400 * time.Millisecond}}
	r.Pitstop = Procedure{Name: "pitstop readonly", Checked: 50, Lost: []string{"w-1"}, Maintenance: 9 * time.Second, Upgrade: 200 * time.Millisecond,
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
		"writes unavailable (sum of outages)", "0.30s", "0.40s", "2.75s", "9.17", "6.88",
		"acknowledged writes missing from production's database (by name)", "0 of 40", "1 of 50, e.g. w-1",
		"read-only window of plain script: 0.40s",
		"MISSED  no acknowledged write lost (checked by name) (1 of 50, e.g. w-1)",
		"MISSED  writes unavailable shorter than the plain script's (2.75s vs 400ms)",
		"MISSED  switch-back latency ≤ 100ms (140ms)",
		"switch latency (confirm → all reads on backup)", "150ms",
		"rollback latency", "not measured: no rollback was decided",
		"read-only window of pitstop readonly: 3.00s = switch-to-backup 0.50s + verify-backup-traffic 2.50s",
		"met     zero failed reads (0 failed reads)",
		"MISSED  writes unavailable ≤ upgrade commands + 300ms (2.75s vs 0.20s + 300ms)",
		"MISSED  switch latency ≤ 100ms (150ms)",
		"MISSED  rollback latency ≤ 100ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

// TestMeasureReverseSync: the reverse-sync plan stops writes twice, from each fence to the end of the
// switch that follows it; the windows and their steps are measured one by one.
func TestMeasureReverseSync(t *testing.T) {
	inv := benchTestInventory()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	started := func(id string, ms int) steps.Event {
		return steps.Event{Kind: steps.EvStepStarted, StepID: id, Status: steps.StatusRunning, Time: at(ms)}
	}
	done := func(id string, ms, took int) steps.Event {
		return steps.Event{Kind: steps.EvStepFinished, StepID: id, Status: steps.StatusDone, Time: at(ms), Duration: time.Duration(took) * time.Millisecond}
	}
	events := []steps.Event{
		{Kind: steps.EvPlanStarted, Time: at(0)},
		done("sync", 900, 900),
		started("fence-production", 1000), done("fence-production", 1050, 50),
		done("drain", 1200, 150), done("promote-backup", 1300, 100), done("capture-backup", 1350, 50),
		started("switch-to-backup", 1350), done("switch-to-backup", 1500, 150),
		done("verify-backup-traffic", 1800, 300), done("upgrade-production", 2800, 900), done("migrate-production", 2900, 100),
		started("fence-backup", 4000), done("fence-backup", 4100, 100), done("reverse-drain", 4200, 100),
		done("advance-sequences", 4250, 50), done("switch-to-production", 4400, 150), done("verify-production-traffic", 6400, 2000),
		{Kind: steps.EvPlanFinished, Time: at(7000), Duration: 7 * time.Second},
	}
	var p Procedure
	p.measurePlan(steps.PlanReverseSync, events, inv)
	if len(p.Windows) != 2 || p.Windows[0] != 500*time.Millisecond || p.Windows[1] != 400*time.Millisecond || p.Window != 900*time.Millisecond {
		t.Errorf("windows %v (sum %s); want 500ms and 400ms", p.Windows, p.Window)
	}
	var ids []string
	for _, s := range p.WindowSteps {
		ids = append(ids, s.ID)
	}
	want := []string{"fence-production", "drain", "promote-backup", "capture-backup", "switch-to-backup",
		"fence-backup", "reverse-drain", "advance-sequences", "switch-to-production"}
	if !slices.Equal(ids, want) {
		t.Errorf("window steps %v, want %v", ids, want)
	}
	if p.Upgrade != time.Second {
		t.Errorf("upgrade %s, want 1s", p.Upgrade)
	}
}

// TestPlainScript: the plain script switches as a careful operator would — prepared file copied and
// renamed into place, nginx -t before the reload and the old file restored when it fails — pauses
// replay before the upgrade and resumes it after the switch back, and marks each step's start and end.
func TestPlainScript(t *testing.T) {
	inv := benchTestInventory()
	st := plainSteps(inv, "/pg/psql", "/p/prod.conf", "/p/back.conf")
	var ids []string
	for _, s := range st {
		ids = append(ids, s.ID)
	}
	if want := []string{"switch-to-backup", "pause-replay", "upgrade-production", "migrate-production", "switch-to-production", "resume-replay"}; !slices.Equal(ids, want) {
		t.Fatalf("steps %v, want %v", ids, want)
	}
	sw := strings.Join(st[0].Cmds, "\n")
	mv, test, reload := strings.Index(sw, "/p/back.conf"), strings.Index(sw, inv.Balancer.Test), strings.Index(sw, inv.Balancer.Reload)
	wait := strings.Index(sw, "kill -0")
	if mv < 0 || test < mv || reload < test || wait < reload || !strings.Contains(sw, ".prev "+inv.Balancer.File) {
		t.Errorf("switch to the backup does not write, test (restoring on failure), reload, wait for the old workers in order:\n%s", sw)
	}
	if !strings.Contains(st[1].Cmds[0], "pg_wal_replay_pause()") || !strings.Contains(st[5].Cmds[0], "pg_wal_replay_resume()") {
		t.Errorf("replay steps: %q, %q", st[1].Cmds, st[5].Cmds)
	}
	local, ssh := plainScript(st, "", "/lab/plain"), plainScript(st, "/lab/ssh/config", "/lab/plain")
	for _, id := range ids {
		for _, s := range []string{local, ssh} {
			if !strings.Contains(s, "echo \"@ "+id+" start $EPOCHREALTIME\"") || !strings.Contains(s, "echo \"@ "+id+" end $EPOCHREALTIME\"") {
				t.Errorf("script lacks the marks of %s", id)
			}
		}
	}
	shared := "ssh -F /lab/ssh/config -o ControlMaster=auto -o ControlPersist=120 -o ControlPath=/lab/plain/%n.sock"
	if !strings.Contains(ssh, shared+" lb bash -c ") || strings.Contains(local, "ssh -F") {
		t.Errorf("only the --ssh script runs its steps through ssh, over a shared connection:\n%s", ssh)
	}
	// The shared connections open before the first step and close on exit.
	if open, first := strings.Index(ssh, shared+" lb true"), strings.Index(ssh, "@ switch-to-backup start"); open < 0 || open > first ||
		!strings.Contains(ssh, "-O exit lb") {
		t.Errorf("the --ssh script does not open its shared connections before the procedure and close them after:\n%s", ssh)
	}
	m, ok := parseMark("@ pause-replay end 1767323045.123456")
	if !ok || m.ID != "pause-replay" || m.What != "end" || !m.At.Equal(time.Unix(1767323045, 123456000)) {
		t.Errorf("parseMark: %+v %v", m, ok)
	}
	if _, ok := parseMark("migration applied"); ok {
		t.Errorf("parseMark took a line that is no mark")
	}
}
