package steps

import (
	"strings"
	"testing"
	"time"
)

// TestPrinterGateLines: a waiting gate is printed when it starts and when a condition turns, not on
// every reading; a wait step is labelled "waiting", not "confirm".
func TestPrinterGateLines(t *testing.T) {
	var b strings.Builder
	p := &Printer{W: &b, ReadingsEvery: 5 * time.Second}
	t0 := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	gate := func(at time.Duration, ok bool, value string) {
		p.Print(Event{Kind: EvGateWaiting, Time: t0.Add(at), StepID: "sync", Gate: &GateState{
			Kind: GateConfirm, Allowed: []DecisionKind{Skip, Abort}, Prompt: "waiting for sync",
			Conditions: []ConditionState{{Label: "lag", Value: value, OK: ok}}}})
	}
	gate(0, false, "9 MiB behind")
	for i := 1; i < 8; i++ { // twice a second for 4 s: nothing new
		gate(time.Duration(i)*500*time.Millisecond, false, "8 MiB behind")
	}
	gate(4500*time.Millisecond, true, "1 KiB behind") // the condition holds: printed
	gate(5*time.Second, true, "1 KiB behind")
	gate(10*time.Second, true, "1 KiB behind") // 5 s later, unchanged: printed once more
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (start, turn, 5 s later):\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, "gate sync (waiting)") {
			t.Errorf("line %q: a wait step must be labelled waiting", l)
		}
	}
	if !strings.Contains(lines[1], "✓ lag: 1 KiB behind") {
		t.Errorf("the turn is not shown: %q", lines[1])
	}
}

// TestPrinterSummaryListsWhatWasOffThePath: the headless summary lists what was skipped, declined,
// retried and rolled back, and counts failed reads and refused writes apart.
func TestPrinterSummaryListsWhatWasOffThePath(t *testing.T) {
	var b strings.Builder
	p := &Printer{W: &b}
	t0 := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	by := func(k DecisionKind) *Decision { return &Decision{Kind: k, By: "ana"} }
	for _, ev := range []Event{
		{Kind: EvGateWaiting, StepID: "switch", Gate: &GateState{Kind: GateConfirm}},
		{Kind: EvGateDecided, StepID: "switch", Decision: by(Decline)},
		{Kind: EvGateDecided, StepID: "switch", Decision: by(Decline)},
		{Kind: EvGateDecided, StepID: "upgrade", Decision: by(Retry)},
		{Kind: EvRolledBack, StepID: "pause", Change: &Change{From: "backup", To: "production"}},
		{Kind: EvGateDecided, StepID: "pause", Decision: by(Rollback)},
		{Kind: EvStepFinished, StepID: "verify", Status: StatusSkipped},
		{Kind: EvReadings, Readings: &Readings{Totals: ProbeTotals{FailedReads: 3, RefusedWrites: 12}}},
		{Kind: EvPlanFinished, Status: StatusDone, Text: "plan readonly finished with 1 skipped check", Summary: &Summary{Status: StatusDone, SkippedChecks: []string{"Verify"}}},
	} {
		ev.Time = t0
		p.Print(ev)
	}
	out := b.String()
	for _, want := range []string{
		"skipped: verify (1 check never verified)",
		"declined: switch (2×)",
		"retried: upgrade (1×)",
		"rolled back: backup → production by ana, at pause",
		"users: 3 failed reads, 12 refused writes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
