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
