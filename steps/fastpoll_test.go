package steps

import (
	"context"
	"testing"
	"time"
)

// TestFastReadingsWhileFenced: while a gate waits for the replication of a database the run fenced
// (the reverse-sync plan's drain), readings come every FastPollEvery instead of every PollEvery, so
// the write window is not stretched by the slow cadence; every other gate keeps the slow one.
func TestFastReadingsWhileFenced(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.inv.Thresholds.Readings, f.inv.Thresholds.Timeout = 3, 10*time.Second
	p, err := Build(f.inv, PlanReverseSync)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan Event, 100000)
	e := New(f.inv, p, f.ports(), Options{AutoApprove: true, Operator: "tester", PollEvery: 300 * time.Millisecond,
		FastPollEvery: 5 * time.Millisecond, Emit: func(ev Event) { events <- ev }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	var last []string
	var syncOpened, syncDone, fenced, drained time.Time
	timeout := time.After(20 * time.Second)
	for drained.IsZero() {
		select {
		case ev := <-events:
			if ev.Kind != EvReadings {
				last = append(last, string(ev.Kind)+" "+ev.StepID+" "+ev.Text+" "+ev.Err)
			}
			switch {
			case ev.Kind == EvGateWaiting && ev.StepID == "sync" && syncOpened.IsZero():
				syncOpened = ev.Time
			case ev.Kind == EvStepFinished && ev.StepID == "sync":
				syncDone = ev.Time
			case ev.Kind == EvStepFinished && ev.StepID == "fence-production":
				fenced = ev.Time
			case ev.Kind == EvStepFinished && ev.StepID == "drain":
				drained = ev.Time
			}
		case <-timeout:
			t.Fatalf("the run did not drain within 20s; last events: %q", last[max(0, len(last)-8):])
		}
	}
	if d := syncDone.Sub(syncOpened); d < 600*time.Millisecond {
		t.Errorf("the sync gate (nothing fenced) passed in %s: 3 readings at the slow cadence take ≥ 600ms", d)
	}
	if d := drained.Sub(fenced); d > 250*time.Millisecond {
		t.Errorf("the drain after the fence took %s; 3 fast readings should take well under 250ms (slow cadence: ≥ 900ms)", d)
	}
	t.Logf("sync %s, drain after the fence %s", syncDone.Sub(syncOpened), drained.Sub(fenced))
}
