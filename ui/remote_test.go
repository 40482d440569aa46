package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/pitstop-ops/pitstop/steps"
)

// TestRemoteDecisionShown: a decision sent from another terminal (pitstop approve) is said on the
// cockpit with who sent it and from where.
func TestRemoteDecisionShown(t *testing.T) {
	inv := fixtureInventory(2)
	h := newHarness(t, toSwitchGate(inv))
	d := steps.Decision{Kind: steps.Decline, By: "carol", From: "pts/4", StepID: "switch-backup"}
	g := switchGate(true, inv)
	g.Declined = true
	h.events(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-backup", Decision: &d},
		steps.Event{Kind: steps.EvGateWaiting, StepID: "switch-backup", Gate: g})
	h.wantScreen("carol declined from pts/4")
	d = steps.Decision{Kind: steps.Confirm, By: "bob", From: "pts/3", StepID: "switch-backup"}
	h.events(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-backup", Decision: &d})
	h.wantScreen("bob approved from pts/3")
}

// TestHeaderKeepsDriverAndWatchers: the header says "driver NAME" at every width down to 40
// columns, and who is attached (read-only marked) as far as room allows.
func TestHeaderKeepsDriverAndWatchers(t *testing.T) {
	ws := []Watcher{{User: "alice", TTY: "pts/1"}, {User: "bob", TTY: "pts/3", ReadOnly: true}}
	for _, tc := range []struct {
		w    int
		want []string
	}{
		{160, []string{"driver alice", "attached: alice pts/1, bob pts/3 (ro)"}},
		{100, []string{"driver alice", "2 attached (1 ro)"}},
		{80, []string{"driver alice", "2 attached (1 ro)"}},
		{60, []string{"driver alice"}},
		{40, []string{"driver alice"}},
	} {
		h := newHarness(t, toSwitchGate(fixtureInventory(2)))
		h.send(tea.WindowSizeMsg{Width: tc.w, Height: 30})
		h.send(watchersMsg{ws})
		header := strings.SplitN(h.screen(), "\n", 2)[0]
		if n := ansi.StringWidth(header); n > tc.w {
			t.Errorf("%d columns: the header is %d wide: %q", tc.w, n, header)
		}
		for _, want := range tc.want {
			if !strings.Contains(header, want) {
				t.Errorf("%d columns: the header lacks %q: %q", tc.w, want, header)
			}
		}
	}
}
