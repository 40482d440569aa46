package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/pitstop-ops/pitstop/steps"
)

// pauseGate is the demo's pause-replay gate after the switch, where R rolls traffic back.
func pauseGate() *steps.GateState {
	return &steps.GateState{StepID: "pause-replay", Kind: steps.GateConfirm, Prompt: "Pause WAL replay", Ready: true,
		Allowed: []steps.DecisionKind{steps.Confirm, steps.Decline, steps.Skip, steps.Abort, steps.Rollback}}
}

// atPauseGate is a harness at w×h waiting at the pause-replay gate after the switch to backup.
func atPauseGate(t *testing.T, w, h int) *harness {
	t.Helper()
	s := toDemoSwitchGate(t)
	s.confirmDemoSwitch()
	s.step("verify-backup-traffic", steps.StatusRunning)
	s.finish("verify-backup-traffic", 1000)
	s.step("pause-replay", steps.StatusWaiting)
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "pause-replay", Gate: pauseGate()})
	hs := newHarness(t, s)
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	return hs
}

// TestRollbackShowsTheEngineState: after R the screen never reads as if a key had confirmed
// anything; every decision key is off at once, in the gate and in the footer, until the engine
// answers; then the gate area shows the rollback in progress with its proof as it arrives, and once
// done the switch is marked rolled back (↺), not ✓.
func TestRollbackShowsTheEngineState(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 60}} {
		h := atPauseGate(t, sz[0], sz[1])
		h.press("R")
		h.wantSent(dec(steps.Rollback, "pause-replay"))
		scr := h.screen()
		if strings.Contains(scr, "(sent") || strings.Contains(scr, "confirm (") {
			t.Errorf("%dx%d: after R the screen echoes the key as if it acted:\n%s", sz[0], sz[1], scr)
		}
		h.wantScreen("— keys off: waiting for the engine", "off: y n s r R (waiting for the engine)")
		for _, k := range []string{"y", "n", "s", "R"} {
			h.press(k)
		}
		if len(h.sent) != 1 {
			t.Fatalf("keys sent %d decisions while the engine had not answered: %+v", len(h.sent), h.sent)
		}
		// The gate is re-emitted (a condition changed): still waiting for the engine.
		h.events(steps.Event{Kind: steps.EvGateWaiting, StepID: "pause-replay", Gate: pauseGate()})
		h.wantScreen("keys off: waiting for the engine")

		h.events(steps.Event{Kind: steps.EvRollingBack, StepID: "pause-replay", Text: "rolling back from backup to production (by alice)",
			Change: &steps.Change{From: "backup", To: "production"}})
		h.wantScreen("ROLLING BACK", "Rolling back: traffic backup → production… (asked by alice)", "off: y n s r R a (rolling back)")
		if strings.Contains(h.screen(), "[y/enter]") {
			t.Errorf("%dx%d: the gate's keys are still offered during the rollback:\n%s", sz[0], sz[1], h.screen())
		}
		h.events(steps.Event{Kind: steps.EvOutput, StepID: "pause-replay", Host: "lb", Text: "$ sudo nginx -s reload"})
		h.wantScreen("proof so far:", "lb: $ sudo nginx -s reload")
		h.events(
			steps.Event{Kind: steps.EvSwitched, StepID: "pause-replay", Change: &steps.Change{From: "backup", To: "production"}},
			steps.Event{Kind: steps.EvRolledBack, StepID: "pause-replay", Text: "rolled back from backup to production (by alice)", Change: &steps.Change{From: "backup", To: "production"}},
			steps.Event{Kind: steps.EvGateWaiting, StepID: "pause-replay", Gate: &steps.GateState{StepID: "pause-replay", Kind: steps.GateRolledBack,
				Prompt: "Rolled back to production. Switch to backup again and resume?", Ready: true, Allowed: []steps.DecisionKind{steps.Confirm, steps.Abort}}},
		)
		if strings.Contains(h.screen(), "ROLLING BACK") {
			t.Errorf("%dx%d: still rolling back after the engine said it is done:\n%s", sz[0], sz[1], h.screen())
		}
		h.wantScreen("ROLLED BACK", "[y/enter] redo the switch")
		if mark, _, dur := h.m.stepMark(h.m.run.steps["switch-to-backup"]); !strings.Contains(mark, "↺") || dur != "rolled back" {
			t.Errorf("the rolled-back switch is marked %q %q, want ↺ rolled back", mark, dur)
		}
		if sz[0] >= 200 {
			h.wantScreen("↺ Switch the balancer to backup")
		}
		// Redoing the switch marks it done again, as redone.
		c := dec(steps.Confirm, "pause-replay")
		h.events(steps.Event{Kind: steps.EvGateDecided, StepID: "pause-replay", Decision: &c},
			steps.Event{Kind: steps.EvSwitched, StepID: "pause-replay", Change: &steps.Change{From: "production", To: "backup"}})
		if _, _, dur := h.m.stepMark(h.m.run.steps["switch-to-backup"]); dur != "redone" {
			t.Errorf("the redone switch says %q, want redone", dur)
		}
	}
}

// TestOutputIsSectionedByWhatProducedIt: a rollback, the redo, a retry and a step resumed after the
// redo each start their own section, so output never runs on under an older step's header.
func TestOutputIsSectionedByWhatProducedIt(t *testing.T) {
	h := newHarness(t, toDemoFinishedWithSkips(t))
	var rules []string
	for _, l := range h.m.out.raw {
		if l.rule {
			rules = append(rules, l.text)
		}
	}
	got := strings.Join(rules, "\n")
	for _, want := range []string{
		"Rolling back: backup → production (by alice)",
		"Switching to backup again (redo by alice)",
		"Pause WAL replay on db-backup, cdn-1, cdn-2 so production's migration does not reach the old app (resumed after the redo)",
		"Upgrade production app hosts to 2.4.0 (retry by alice)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no section %q among:\n%s", want, got)
		}
	}
	// The rollback's proof is under the rollback's header, not the step's.
	for i, l := range h.m.out.raw {
		if l.text == demoRollbackProof[0] {
			for j := i - 1; j >= 0; j-- {
				if h.m.out.raw[j].rule {
					if !strings.HasPrefix(h.m.out.raw[j].text, "Rolling back") {
						t.Errorf("the rollback's output is under %q", h.m.out.raw[j].text)
					}
					break
				}
			}
			break
		}
	}
}

// TestSwitchDiffKeepsServerLinesWhenShort: at 80×24 the switch gate shows every changed server line
// — the change itself — and collapses the comments, context and commands into a counted row.
func TestSwitchDiffKeepsServerLinesWhenShort(t *testing.T) {
	h := newHarness(t, toDemoSwitchGate(t))
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.wantScreen("-     server 10.0.1.11:8080; # app-p1", "-     server 10.0.1.12:8080; # app-p2",
		"+     server 10.0.2.11:8080; # app-b1", "+     server 10.0.2.12:8080; # app-b2", "5 more lines")
	if strings.Contains(h.screen(), "# Pitstop switches") {
		t.Errorf("a comment line is shown before the server lines fit:\n%s", h.screen())
	}
	h.send(tea.WindowSizeMsg{Width: 200, Height: 60}) // room for all: in the diff's own order
	h.wantScreen("confirming will change:", "# Pitstop switches this upstream", "then lb: sudo nginx -s reload")
}

// TestFailurePointsAtTheOutput: a failed step's "read the output … above" says where the output is:
// below on a screen that shows it, behind l when there is no room for it.
func TestFailurePointsAtTheOutput(t *testing.T) {
	s := toDemoUpgrading(t)
	s.emit(steps.Event{Kind: steps.EvStepFinished, StepID: "upgrade-production", Status: steps.StatusFailed, Err: "status 100"})
	s.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: "upgrade-production", Gate: &steps.GateState{
		StepID: "upgrade-production", Kind: steps.GateFailed, Prompt: "Failed: Upgrade production app hosts to 2.4.0", Ready: true,
		Reason:  "command exited with status 100 on app-p1: sudo apt-get install -y shop=2.4.0; read the output of app-p1 above and fix the cause on the host, then retry (r)",
		Allowed: []steps.DecisionKind{steps.Retry, steps.Skip, steps.Abort, steps.Rollback}}})
	h := newHarness(t, s)
	h.send(tea.WindowSizeMsg{Width: 90, Height: 24})
	scr := h.screen()
	if strings.Contains(scr, "Output ") || strings.Contains(scr, " above") {
		t.Fatalf("at 90x24 the output is on screen, or the message still says above:\n%s", scr)
	}
	h.wantScreen("(press l to show it)")
	h.press("l")
	h.wantScreen("output of app-p1 below")
	h.press("l")
	h.send(tea.WindowSizeMsg{Width: 200, Height: 60})
	h.wantScreen("Output", "output of app-p1 below")
}

// TestStepNamesUseTheRoom: at 200 columns every step name of the demo plan shows whole; at 100 the
// plan column keeps its share and names are cut.
func TestStepNamesUseTheRoom(t *testing.T) {
	h := newHarness(t, toDemoSwitchGate(t))
	h.send(tea.WindowSizeMsg{Width: 200, Height: 60})
	scr := h.screen()
	for _, st := range h.m.cfg.Plan.Steps() {
		if !strings.Contains(scr, st.Title) {
			t.Errorf("at 200x60 the plan cuts %q:\n%s", st.Title, scr)
		}
	}
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	if w := h.m.planWidth(100); w != 30 {
		t.Errorf("plan column at 100 cells = %d, want its 30%% share", w)
	}
}

// TestFinishGateAndEnd: the finishing gate asks to finish without the skipped checks; the end screen
// says so and lists what was skipped, declined, retried and rolled back, and what users saw.
func TestFinishGateAndEnd(t *testing.T) {
	sc := toDemoFinishedWithSkips(t)
	cut := len(sc.evs) - 2 // before the decision at the finishing gate
	full := sc.evs
	sc.evs = full[:cut]
	h := newHarness(t, sc)
	h.wantScreen("FINISH? Finish with 2 skipped checks?", "[y/enter] finish without them", "[a] abort")
	h.press("y")
	h.wantSent(dec(steps.Confirm, "finish"))
	h.events(full[cut:]...)
	h.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	h.wantScreen("PLAN FINISHED", "with 2 skipped checks", "skipped: Verify users are served by production",
		"confirmed by alice", "declined: Switch the balancer to production (1×)",
		"retried: Upgrade production app hosts to 2.4.0 (1×)", "rolled back: backup → production by alice",
		"users saw 3 failed reads", "27 writes refused")
}

// TestResumedRunHasItsOwnSection: the reconciliation of a resumed run sits under a header that says
// so, not under whatever step came before.
func TestResumedRunHasItsOwnSection(t *testing.T) {
	h := newHarness(t, toUpgrading(fixtureInventory(2)))
	h.events(
		steps.Event{Kind: steps.EvNotice, Text: steps.ResumeNoticePrefix + " /tmp/j.jsonl: 4 steps finished before; what the journal says and what the world shows follows in the output"},
		steps.Event{Kind: steps.EvOutput, Stream: steps.Stdout, Text: "balancer file   production   production   ✓"},
	)
	raw := h.m.out.raw
	for i := len(raw) - 1; i >= 0; i-- {
		if raw[i].rule {
			if want := "Resumed run (/tmp/j.jsonl): what the journal says and what the world shows"; raw[i].text != want {
				t.Errorf("the reconciliation is under %q, want %q", raw[i].text, want)
			}
			return
		}
	}
	t.Error("no section header above the reconciliation")
}
