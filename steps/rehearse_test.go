package steps

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// rehearseInventory is the test inventory with a rehearsal host and app.
func rehearseInventory() *inventory.Inventory {
	inv := testInventory()
	inv.Hosts["db-r"] = &inventory.Host{SSH: "local"}
	inv.Hosts["app-r"] = &inventory.Host{SSH: "local", Serve: "10.0.2.1:80"}
	inv.Hosts["db-b"].Postgres = "host=db-b user=pitstop dbname=shop"
	inv.Upgrade.Migrate.Commands = []string{"shop-migrate --db {database_url} up"}
	inv.Rehearsal = inventory.Rehearsal{Host: "db-r", DataDir: "/srv/rehearsal", Port: 5499, App: "app-r", StopApp: []string{"stop shop"}}
	inv.Defaults()
	return inv
}

// TestRehearsePlan: the plan copies from the standby with a fast checkpoint, makes the copy a
// standalone primary, points the migration at the copy, and no step runs a command on a host users
// reach.
func TestRehearsePlan(t *testing.T) {
	inv := rehearseInventory()
	p, err := Build(inv, PlanRehearse)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, st := range p.Steps() {
		ids = append(ids, st.ID)
		for _, hc := range st.Exec {
			if hc.Host != "db-r" && hc.Host != "app-r" {
				t.Errorf("step %s runs commands on %s, a host users reach", st.ID, hc.Host)
			}
		}
	}
	want := "rehearse-preflight copy inspect-copy upgrade-rehearsal migrate-copy verify-rehearsal-direct smoke-rehearsal predict cleanup"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("steps:\n got %s\nwant %s", got, want)
	}
	copyCmds := strings.Join(p.Step("copy").Exec[0].Commands, "\n")
	for _, s := range []string{
		"sudo -n -u postgres /usr/lib/postgresql/15/bin/pg_basebackup -D /srv/rehearsal/pgdata -d 'host=db-b user=pitstop dbname=shop' -X stream --checkpoint=fast",
		"rm -f standby.signal recovery.signal",
		"primary_conninfo/d",
		"-c port=5499 -c listen_addresses=127.0.0.1",
		"archive_mode=off",
	} {
		if !strings.Contains(copyCmds, s) {
			t.Errorf("copy commands lack %q:\n%s", s, copyCmds)
		}
	}
	if first := p.Step("copy").Exec[0].Commands[1]; first != "sudo -n -u postgres touch /srv/rehearsal/pitstop-rehearsal" {
		t.Errorf("the marker is not written before the copy: %q", first)
	}
	mig := p.Step("migrate-copy").Exec[0]
	wantMig := "export PITSTOP_DATABASE_URL='postgres://pitstop@127.0.0.1:5499/shop?sslmode=disable'; shop-migrate --db 'postgres://pitstop@127.0.0.1:5499/shop?sslmode=disable' up"
	if mig.Host != "app-r" || len(mig.Commands) != 1 || mig.Commands[0] != wantMig {
		t.Errorf("migration: %+v\nwant on app-r: %s", mig, wantMig)
	}
	if p.Step("predict").For != PlanReadonly {
		t.Errorf("predict is for %q, want readonly by default", p.Step("predict").For)
	}
	// In a real run {database_url} is production's primary.
	if got := inv.Expand(inv.Upgrade.Migrate.Commands[0], "app-p1"); got != "shop-migrate --db host=db-p up" {
		t.Errorf("real run's migration: %q", got)
	}
	if _, err := BuildRehearse(inv, "nonsense"); err == nil {
		t.Error("BuildRehearse accepted an unknown plan")
	}
	noSection := testInventory()
	if _, err := Build(noSection, PlanRehearse); err == nil || !strings.Contains(err.Error(), "no rehearsal: section") {
		t.Errorf("Build without a rehearsal section: %v", err)
	}
}

func TestPredictAndLimits(t *testing.T) {
	inv := rehearseInventory()
	mig := MigrationReport{Duration: 38 * time.Second, SampleEvery: 50 * time.Millisecond, Locks: []LockHold{
		{Table: "orders", Mode: "AccessExclusiveLock", Longest: 6 * time.Second, Total: 6 * time.Second},
		{Table: "items", Mode: "ShareLock", Longest: time.Second, Total: time.Second},
	}}
	preds := Predict(inv, mig, 2100*time.Millisecond, true, nil)
	if got, want := preds[0].String(), "readonly: writes refused for about 40 s (migration 38 s, upgrade 2.1 s, switches 0.1 s)"; got != want {
		t.Errorf("prediction:\n got %s\nwant %s", got, want)
	}
	if len(preds) != 2 || preds[1].Plan != PlanReverseSync {
		t.Errorf("predictions: %+v, want readonly and reverse-sync (the inventory can rebuild)", preds)
	}
	lines := strings.Join(LockFindings(mig), "\n")
	for _, s := range []string{"lock: orders ACCESS EXCLUSIVE held 6.0 s (blocks reads and writes)", "lock: items SHARE held 1.0 s (blocks writes)"} {
		if !strings.Contains(lines, s) {
			t.Errorf("findings lack %q:\n%s", s, lines)
		}
	}
	// Defaults: no window limit, reads blocked at most 5 s.
	probs := Limits(inv, PlanReadonly, preds, mig)
	if len(probs) != 1 || !strings.Contains(probs[0], "held ACCESS EXCLUSIVE on orders for 6.0 s, more than rehearsal.max_read_block 5s") {
		t.Errorf("limits: %q", probs)
	}
	inv.Thresholds.MaxWindow = 30 * time.Second
	inv.Rehearsal.MaxReadBlock = 10 * time.Second
	probs = Limits(inv, PlanReadonly, preds, mig)
	if len(probs) != 1 || !strings.Contains(probs[0], "the readonly plan would refuse writes for about 40 s, more than thresholds.max_window 30s") {
		t.Errorf("limits with max_window 30s: %q", probs)
	}
	if probs := Limits(inv, PlanReverseSync, preds, mig); len(probs) != 0 {
		t.Errorf("reverse-sync's window is 2 s, yet: %q", probs)
	}
	if got := Predict(inv, mig, 0, false, nil)[0].String(); got != "readonly: writes refused for about 38 s (migration 38 s, upgrade not rehearsed, switches 0.1 s)" {
		t.Errorf("without an app: %s", got)
	}
	ov := &Overheads{Readonly: 1200 * time.Millisecond, From: "j.jsonl"}
	if got := Predict(inv, mig, 0, false, ov)[0]; got.String() != "readonly: writes refused for about 39 s (migration 38 s, upgrade not rehearsed, switches 1.2 s)" || !strings.Contains(got.Note, "measured in j.jsonl") {
		t.Errorf("with measured overheads: %s (%s)", got, got.Note)
	}
}

// fakeRehearsal answers the rehearse plan's port with a fixed migration report.
type fakeRehearsal struct {
	report  MigrationReport
	checked bool
}

func (f *fakeRehearsal) Check(context.Context) error { f.checked = true; return nil }
func (f *fakeRehearsal) Inspect(context.Context) (CopyInfo, error) {
	return CopyInfo{Version: "15.2", Bytes: 1 << 20, Tables: 3, Primary: true}, nil
}
func (f *fakeRehearsal) Watch(context.Context) (LockSampler, error) { return f, nil }
func (f *fakeRehearsal) Stop(context.Context) (MigrationReport, error) {
	return f.report, nil
}
func (f *fakeRehearsal) Smoke(_ context.Context, host string, out func(string)) error {
	out("GET / → 200")
	return nil
}

// TestRehearseRun drives the plan through the engine against the fake world: the journal's events
// carry every measurement, and a lock over the bound fails the predict step, not earlier.
func TestRehearseRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		held time.Duration
		fail bool
	}{{"within the bounds", time.Second, false}, {"reads blocked too long", 7 * time.Second, true}} {
		t.Run(tc.name, func(t *testing.T) {
			inv := rehearseInventory()
			inv.Upgrade.Commands = []string{"start shop"}
			f := newFakeWorld(inv)
			f.version["app-r"] = "2.0"
			rh := &fakeRehearsal{report: MigrationReport{Locks: []LockHold{{Table: "items", Mode: "AccessExclusiveLock", Longest: tc.held, Total: tc.held}}, WALBytes: 4096}}
			w := f.ports()
			w.Rehearsal = rh
			p, err := Build(inv, PlanRehearse)
			if err != nil {
				t.Fatal(err)
			}
			var events []Event
			e := New(inv, p, w, Options{AutoApprove: true, Emit: func(ev Event) { events = append(events, ev) }, PollEvery: 10 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = e.Run(ctx)
			var se *StepError
			switch {
			case tc.fail && (!errors.As(err, &se) || se.StepID != "predict" || !strings.Contains(err.Error(), "max_read_block")):
				t.Fatalf("Run: %v; want the predict step to fail on max_read_block", err)
			case !tc.fail && err != nil:
				t.Fatalf("Run: %v", err)
			}
			var kinds []string
			for _, ev := range events {
				if ev.Kind == EvMeasured {
					switch m := ev.Measure; {
					case m.Copy != nil:
						kinds = append(kinds, "copy")
					case m.Migration != nil:
						kinds = append(kinds, "migration")
					case m.Predictions != nil:
						kinds = append(kinds, "predictions")
					case m.Upgrade > 0:
						kinds = append(kinds, "upgrade")
					}
				}
			}
			if got := strings.Join(kinds, " "); got != "copy upgrade migration predictions" {
				t.Errorf("measurements in the events: %q", got)
			}
			for _, c := range f.commands() {
				if !strings.HasPrefix(c, "db-r:") && !strings.HasPrefix(c, "app-r:") {
					t.Errorf("ran %q on a host users reach", c)
				}
			}
			if !rh.checked {
				t.Error("the preflight did not check the directory and port")
			}
		})
	}
}

func TestReadonlyOverhead(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	evs := []Event{
		{Kind: EvPlanStarted, Time: at(0)},
		{Kind: EvStepStarted, StepID: "switch-to-backup", Status: StatusWaiting, Time: at(0.1)},
		{Kind: EvGateDecided, StepID: "switch-to-backup", Decision: &Decision{Kind: Confirm, By: "alice"}, Time: at(0.5)},
		{Kind: EvOutput, StepID: "switch-to-backup", Text: "reload took effect: workers 12 → 14", Time: at(1)},
		{Kind: EvStepStarted, StepID: "pause-replay", Status: StatusWaiting, Time: at(1.3)},
		{Kind: EvGateDecided, StepID: "pause-replay", Decision: &Decision{Kind: Confirm, By: "auto-approve"}, Time: at(1.4)},
		{Kind: EvStepStarted, StepID: "upgrade-production", Status: StatusWaiting, Time: at(1.5)},
		{Kind: EvGateDecided, StepID: "upgrade-production", Decision: &Decision{Kind: Confirm, By: "alice"}, Time: at(5.5)},
		{Kind: EvStepFinished, StepID: "upgrade-production", Status: StatusDone, Duration: 2 * time.Second, Time: at(7.5)},
		{Kind: EvStepFinished, StepID: "migrate-production", Status: StatusDone, Duration: 3 * time.Second, Time: at(10.5)},
		{Kind: EvOutput, StepID: "switch-to-production", Text: "reload took effect: workers 14 → 16", Time: at(12)},
		{Kind: EvPlanFinished, Status: StatusDone, Time: at(20)},
	}
	journal := func(evs []Event) string {
		var b strings.Builder
		for _, ev := range evs {
			ev.Plan = PlanReadonly
			line, _ := json.Marshal(ev)
			b.Write(append(line, '\n'))
		}
		return b.String()
	}
	// 11 s on the backup − 5 s of upgrade and migration − 4 s alice took at the upgrade's gate.
	got, err := ReadonlyOverhead(strings.NewReader(journal(evs)))
	if err != nil || got != 2*time.Second {
		t.Errorf("ReadonlyOverhead = %s, %v; want 2s", got, err)
	}
	evs[len(evs)-1].Status = StatusFailed
	unfinished := journal(evs)
	if _, err := ReadonlyOverhead(strings.NewReader(unfinished)); err == nil {
		t.Error("a failed run gave an overhead")
	}
}
