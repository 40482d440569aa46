package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// A paused standby is never in sync, however few bytes wait: the sync gate does not pass and the
// preflight fails, both saying "replay PAUSED" with the fix.
func TestPausedReplayIsNeverInSync(t *testing.T) {
	t.Run("gate", func(t *testing.T) {
		f := newFakeWorld(testInventory())
		p, _ := Build(f.inv, PlanReadonly)
		e := New(f.inv, p, f.ports(), Options{})
		e.last = Readings{Lags: []Lag{{From: "db-p", To: "db-b", Kind: Physical, Streaming: true, Replay: 6 << 10, Paused: true}}}
		c := Condition{Kind: CondLag, From: "db-p", To: "db-b", MaxBytes: 64 << 10, Readings: 5}
		var cs ConditionState
		for range 10 {
			cs = e.check(c, true)
		}
		if cs.OK || !strings.Contains(cs.Value, "replay PAUSED on db-b") || !strings.Contains(cs.Value, "pg_wal_replay_resume()") {
			t.Errorf("sync condition with replay paused: OK %t, %q", cs.OK, cs.Value)
		}
	})
	t.Run("preflight", func(t *testing.T) {
		f := newFakeWorld(testInventory())
		f.paused, f.lag = true, 100
		r := startRun(t, f, PlanReadonly, true)
		_, err := r.finished()
		if err == nil || !strings.Contains(err.Error(), "replay PAUSED on db-b") {
			t.Fatalf("run with replay paused: %v", err)
		}
		if f.side() != inventory.Production {
			t.Error("the run switched")
		}
	})
}

// Every switch checks the target side's app hosts first: a plan's switch to a side whose app is down
// fails at once, naming the host, and changes nothing.
func TestSwitchStepRefusesADownSide(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.down["app-b1"] = true
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("switch-to-backup")
	r.decide("switch-to-backup", Confirm)
	g := r.gate("switch-to-backup", GateFailed)
	if !strings.Contains(g.Reason, "refused") || !strings.Contains(g.Reason, "app-b1: connection refused") {
		t.Errorf("failed gate reason %q does not name the down host", g.Reason)
	}
	if f.side() != inventory.Production {
		t.Fatal("switched to a side whose app is down")
	}
	f.mu.Lock()
	f.down["app-b1"] = false
	f.mu.Unlock()
	r.decide("switch-to-backup", Retry)
	r.waitFor("switched", func(ev Event) bool { return ev.Kind == EvSwitched })
}

// The redo after a rollback is a switch too: it is refused while the side is down.
func TestRedoRefusesADownSide(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReadonly, false)
	r.confirmUntil("pause-replay")
	r.decide("pause-replay", Rollback)
	r.gate("pause-replay", GateRolledBack)
	f.mu.Lock()
	f.down["app-b1"] = true
	f.mu.Unlock()
	r.decide("pause-replay", Confirm)
	r.waitFor("refusal", func(ev Event) bool {
		return ev.Kind == EvNotice && strings.Contains(ev.Text, "switch to backup refused") && strings.Contains(ev.Text, "app-b1")
	})
	if f.side() != inventory.Production {
		t.Fatal("the redo switched to a side whose app is down")
	}
}

// next: lines never send users to a side that is down; they say first what is down and why.
func TestNextNeverSendsUsersToADownSide(t *testing.T) {
	inv := testInventory()
	inv.Upgrade.OneAtATime = true // app-p1 first
	f := newFakeWorld(inv)
	f.failRun["install"] = []error{&ExitError{Host: "app-p1", Command: "install shop", Status: 100}}
	f.down["app-p1"] = true
	r := startRun(t, f, PlanReadonly, true)
	ev, err := r.finished()
	if err == nil {
		t.Fatal("the run did not fail")
	}
	next := strings.Join(ev.Summary.Next, "\n")
	if strings.Contains(next, "to send them back to production") {
		t.Errorf("next sends users to the down production:\n%s", next)
	}
	for _, want := range []string{"production is down", "app-p1: connection refused", "`install shop` in step \"upgrade-production\", and it failed", "start it"} {
		if !strings.Contains(next, want) {
			t.Errorf("next lacks %q:\n%s", want, next)
		}
	}
}

// chattyRunner is the fake world whose install command, once cancelled, prints many lines before it
// returns, as a remote command's output still in flight does.
type chattyRunner struct {
	*fakeWorld
	lines int
}

func (c chattyRunner) Run(ctx context.Context, host, cmd string, out OutputFunc) error {
	if !strings.Contains(cmd, "install") {
		return c.fakeWorld.Run(ctx, host, cmd, out)
	}
	out(Stdout, "installing")
	<-ctx.Done()
	for i := range c.lines {
		out(Stdout, "cleanup line "+string(rune('a'+i%26)))
	}
	return ctx.Err()
}

// A rollback while a step prints hundreds of lines after its cancellation completes at once.
func TestRollbackDuringAChattyStep(t *testing.T) {
	f := newFakeWorld(testInventory())
	p, _ := Build(f.inv, PlanReadonly)
	events := make(chan Event, 100000)
	w := f.ports()
	w.Hosts = chattyRunner{fakeWorld: f, lines: 2000}
	e := New(f.inv, p, w, Options{Operator: "tester", PollEvery: 5 * time.Millisecond, Emit: func(ev Event) { events <- ev }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	r := &run{t: t, eng: e, events: events}
	r.confirmUntil("upgrade-production")
	r.decide("upgrade-production", Confirm)
	r.waitFor("installing", func(ev Event) bool { return ev.Kind == EvOutput && ev.Text == "installing" })
	start := time.Now()
	e.Decide(Decision{Kind: Rollback, By: "tester", Force: true})
	deadline := time.After(5 * time.Second)
	for rolled := false; !rolled; {
		select {
		case ev := <-events:
			rolled = ev.Kind == EvRolledBack
		case <-deadline:
			t.Fatal("the rollback stalled while the step printed after its cancellation")
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("rollback took %s, want under a second", d)
	}
	if f.side() != inventory.Production {
		t.Error("not rolled back")
	}
}

// No decision is dropped, however many arrive while the engine is busy.
func TestDecisionsAreNeverDropped(t *testing.T) {
	f := newFakeWorld(testInventory())
	p, _ := Build(f.inv, PlanReadonly)
	events := make(chan Event, 100000)
	blocked, release := make(chan struct{}), make(chan struct{})
	once := false
	emit := func(ev Event) {
		if !once && ev.Kind == EvGateWaiting && ev.StepID == "switch-to-backup" && ev.Gate.Ready {
			once = true
			close(blocked)
			<-release // the engine is busy (a slow screen, say) while decisions pile up
		}
		events <- ev
	}
	e := New(f.inv, p, f.ports(), Options{Operator: "tester", PollEvery: 5 * time.Millisecond, Emit: emit})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	r := &run{t: t, eng: e, events: events}
	go func() {
		for {
			select {
			case <-blocked:
				return
			case ev := <-events:
				if ev.Kind == EvGateWaiting && ev.Gate.Kind == GateConfirm && ev.Gate.Ready && ev.Gate.Allows(Confirm) && ev.StepID != "switch-to-backup" {
					e.Decide(Decision{Kind: Confirm, By: "tester", StepID: ev.StepID})
				}
			}
		}
	}()
	<-blocked
	for range 40 {
		e.Decide(Decision{Kind: Decline, By: "tester", StepID: "switch-to-backup"})
	}
	e.Decide(Decision{Kind: Confirm, By: "tester", StepID: "switch-to-backup"})
	close(release)
	r.waitFor("switched after 40 declines and a confirmation", func(ev Event) bool { return ev.Kind == EvSwitched })
}

// Skips in the reverse-sync plan never lose the promoted backup's writes: with reverse-drain skipped,
// the switch back is refused, and a rebuild of the backup is refused while it is ahead.
func TestReverseSyncSkipsNeverLoseBackupWrites(t *testing.T) {
	f := newFakeWorld(testInventory())
	r := startRun(t, f, PlanReverseSync, false)
	r.confirmUntil("unfence-production")
	r.decide("unfence-production", Confirm)
	f.mu.Lock()
	f.lag = 1000 // the reverse sync never drains
	f.mu.Unlock()
	r.confirmUntil("fence-backup")
	r.decide("fence-backup", Confirm)
	r.waitFor("reverse-drain waits", func(ev Event) bool { return ev.Kind == EvGateWaiting && ev.StepID == "reverse-drain" })
	r.decide("reverse-drain", Skip)
	r.confirmUntil("switch-to-production")
	r.decide("switch-to-production", Confirm)
	g := r.gate("switch-to-production", GateFailed)
	if !strings.Contains(g.Reason, "refused") || !strings.Contains(g.Reason, "db-b holds users' writes that db-p does not have") {
		t.Errorf("switch back after a skipped drain: %q", g.Reason)
	}
	if f.side() != inventory.Backup {
		t.Fatal("users were switched away from the backup that holds their writes")
	}

	// The rebuild, whatever was skipped before it.
	p, _ := Build(f.inv, PlanReverseSync)
	e := New(f.inv, p, f.ports(), Options{})
	e.backupAhead, e.promoted["db-b"], e.live = true, true, inventory.Production
	err := e.guard(context.Background(), p.Step("rebuild-backup"))
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "db-b was promoted and holds users' writes") {
		t.Errorf("rebuild of a backup that is ahead: %v", err)
	}
}

// watch prints readings with FormatReadings: a paused standby reads "replay PAUSED" with the fix.
func TestFormatReadingsSaysReplayPaused(t *testing.T) {
	s := FormatReadings(&Readings{Lags: []Lag{{From: "db-p", To: "db-b", Kind: Physical, Streaming: true, Replay: 6 << 10, Paused: true}}})
	if !strings.Contains(s, "replay PAUSED on db-b") || !strings.Contains(s, "SELECT pg_wal_replay_resume();") {
		t.Errorf("readings line %q", s)
	}
}

func TestVersionSplit(t *testing.T) {
	cases := []struct {
		checks []HostCheck
		want   string
	}{
		{[]HostCheck{{Host: "a", OK: true, Version: "v1"}, {Host: "b", OK: true, Version: "v1"}}, ""},
		{[]HostCheck{{Host: "a", OK: true, Version: "v1"}, {Host: "b", OK: true, Version: "v2"}}, "a on v1; b on v2"},
		{[]HostCheck{{Host: "a", OK: true, Version: "v1"}, {Host: "b", Err: "down"}}, ""},
	}
	for _, c := range cases {
		if got := VersionSplit(c.checks); got != c.want {
			t.Errorf("VersionSplit(%v) = %q, want %q", c.checks, got, c.want)
		}
	}
}
