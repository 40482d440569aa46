package ui

import (
	"testing"

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
