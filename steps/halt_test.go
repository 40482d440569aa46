package steps

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/testenv"
)

// TestHaltLetsTheRunningStepFinish: a halt while commands run does not cut them; the run ends before
// the next step with ErrHalted and the reason.
func TestHaltLetsTheRunningStepFinish(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.block = make(chan struct{})
	h := NewHalter()
	r := startRunWith(t, f, PlanReadonly, Options{AutoApprove: true, Halt: h})
	r.waitFor("install running", func(ev Event) bool { return ev.Kind == EvOutput && strings.Contains(ev.Text, "running install") })
	h.Halt("the terminal was lost")
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v while a command ran", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(f.block)
	ev, err := r.finished()
	var he *HaltError
	if !errors.Is(err, ErrHalted) || !errors.As(err, &he) || he.Reason != "the terminal was lost" {
		t.Fatalf("Run: %v, want a HaltError", err)
	}
	if he.StepID == "upgrade-production" {
		t.Errorf("halted before %s, the step that was running", he.StepID)
	}
	if ev.Status != StatusAborted || !strings.Contains(ev.Err, "the terminal was lost") {
		t.Errorf("plan-finished %s %q", ev.Status, ev.Err)
	}
	var upgraded, started bool
	for _, e := range r.seen {
		if e.Kind == EvStepFinished && e.StepID == "upgrade-production" && e.Status == StatusDone {
			upgraded = true
		}
		if e.Kind == EvStepStarted && e.StepID == he.StepID {
			started = true
		}
	}
	if !upgraded || started {
		t.Errorf("upgrade-production done %v; %s started %v", upgraded, he.StepID, started)
	}
}

// TestHaltAtAGate: a run waiting for the operator stops at once.
func TestHaltAtAGate(t *testing.T) {
	f := newFakeWorld(testInventory())
	h := NewHalter()
	r := startRunWith(t, f, PlanReadonly, Options{Halt: h})
	r.confirmUntil("switch-to-backup")
	h.Halt("SIGHUP")
	_, err := r.finished()
	var he *HaltError
	if !errors.As(err, &he) || he.StepID != "switch-to-backup" {
		t.Fatalf("Run: %v, want halted at switch-to-backup", err)
	}
	if f.side() != "production" {
		t.Errorf("the switch ran")
	}
}

// TestNextNamesAppHostsLeftBehind: a run that stops says which app hosts are down and which sides run
// mixed versions, by name.
func TestNextNamesAppHostsLeftBehind(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.down["app-p1"] = true
	f.version["app-b1"] = "1.0"
	f.block = make(chan struct{})
	r := startRun(t, f, PlanReadonly, true)
	r.waitFor("install running", func(ev Event) bool { return ev.Kind == EvOutput && strings.Contains(ev.Text, "running install") })
	f.mu.Lock()
	f.version["app-p2"] = "2.0"
	f.mu.Unlock()
	r.cancel()
	ev, _ := r.finished()
	next := strings.Join(ev.Summary.Next, "\n")
	for _, want := range []string{"app host app-p1 (production) fails its direct check (connection refused)"} {
		if !strings.Contains(next, want) {
			t.Errorf("next lacks %q:\n%s", want, next)
		}
	}
	f2 := newFakeWorld(testInventory())
	f2.version["app-p1"] = "2.0"
	f2.version["app-p2"] = "1.0"
	e := New(f2.inv, nil, f2.ports(), Options{})
	got := strings.Join(e.appsLeft(t.Context()), "\n")
	if want := "the production side runs mixed versions: app-p2 on 1.0; app-p1 on 2.0"; !strings.Contains(got, want) {
		t.Errorf("appsLeft = %q, want %q", got, want)
	}
}

// TestJournalWriteFailureCallsOnFail: the first failed write (a full disk) is kept, reported once to
// OnFail, and later events are dropped.
func TestJournalWriteFailureCallsOnFail(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		testenv.Missing(t, "no /dev/full on this system")
	}
	j, created, err := OpenJournal("/dev/full")
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Errorf("OpenJournal(/dev/full) says it created the file")
	}
	var calls atomic.Int32
	j.OnFail = func(err error) { calls.Add(1) }
	j.Write(Event{Kind: EvNotice, Text: "one"})
	j.Write(Event{Kind: EvNotice, Text: "two"})
	if calls.Load() != 1 || j.Err() == nil || !strings.Contains(j.Err().Error(), "no space left on device") {
		t.Errorf("OnFail called %d times, Err %v", calls.Load(), j.Err())
	}
	if err := j.Begin(JournalHeader{Plan: "x"}); err == nil {
		t.Errorf("Begin on a full disk succeeded")
	}
}

// TestCreateJournalNeverShares: journals created in the same second have different files.
func TestCreateJournalNeverShares(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	seen := map[string]bool{}
	for range 50 {
		j, err := CreateJournal(dir, "shop-readonly", now)
		if err != nil {
			t.Fatal(err)
		}
		if seen[j.Path()] {
			t.Fatalf("%s given twice", j.Path())
		}
		seen[j.Path()] = true
		if err := j.Begin(JournalHeader{Plan: "readonly", Inventory: "/x.yaml"}); err != nil {
			t.Fatal(err)
		}
		j.Close()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "shop-readonly-*.jsonl"))
	if len(files) != 50 {
		t.Errorf("%d files, want 50", len(files))
	}
	evs, err := ReadJournal(files[0])
	if err != nil || len(evs) != 1 || evs[0].Kind != EvJournalOpened || evs[0].Plan != "readonly" {
		t.Errorf("header read back as %+v, %v", evs, err)
	}
}

// TestDurableEvents: the events that change the world or record a decision are the ones synced.
func TestDurableEvents(t *testing.T) {
	for _, tc := range []struct {
		ev   Event
		want bool
	}{
		{Event{Kind: EvSwitched}, true},
		{Event{Kind: EvGateDecided}, true},
		{Event{Kind: EvCommandFinished}, true},
		{Event{Kind: EvStepFinished}, true},
		{Event{Kind: EvStepStarted, Status: StatusRunning}, true},
		{Event{Kind: EvPlanFinished}, true},
		{Event{Kind: EvReadings}, false},
		{Event{Kind: EvOutput}, false},
		{Event{Kind: EvStepStarted, Status: StatusWaiting}, false},
	} {
		if got := Durable(tc.ev); got != tc.want {
			t.Errorf("Durable(%s %s) = %v", tc.ev.Kind, tc.ev.Status, got)
		}
	}
}
