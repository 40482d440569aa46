package ui

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// harness drives a Model the way the program would, recording the decisions it sends.
type harness struct {
	t       *testing.T
	m       *Model
	sent    []steps.Decision
	quitted bool
}

func newHarness(t *testing.T, sc *script) *harness {
	t.Helper()
	h := &harness{t: t}
	inv := sc.inv
	h.m = NewModel(Config{Inventory: inv, Plan: sc.plan, Demo: true, Operator: "alice",
		Journal: "/tmp/journal.jsonl", Now: fixedNow, Decide: func(d steps.Decision) { h.sent = append(h.sent, d) }})
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	h.send(sc.batch())
	return h
}

// send delivers msg and runs the command it returns, feeding the command's message back in, as the
// program does for decisions. Ticks are not run.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	for cmd != nil {
		out := cmd()
		switch out := out.(type) {
		case decisionSentMsg:
			_, cmd = h.m.Update(out)
		case tea.QuitMsg:
			h.quitted = true
			cmd = nil
		default:
			cmd = nil
		}
	}
}

// events delivers more fabricated events.
func (h *harness) events(evs ...steps.Event) {
	h.t.Helper()
	items := make([]item, len(evs))
	for i, ev := range evs {
		items[i] = item{ev: clone(ev)}
	}
	h.send(eventsMsg{items: items})
}

// press types keys by name: "y", "enter", "esc", "ctrl+c", "R".
func (h *harness) press(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		if k != "" {
			h.send(keyMsg(k))
		}
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	}
	r, _ := utf8.DecodeRuneInString(k)
	return tea.KeyPressMsg{Code: r, Text: k}
}

func (h *harness) screen() string { return ansi.Strip(h.m.View().Content) }

func (h *harness) wantSent(want ...steps.Decision) {
	h.t.Helper()
	if len(h.sent) != len(want) {
		h.t.Fatalf("sent %d decisions %+v, want %d %+v", len(h.sent), h.sent, len(want), want)
	}
	for i := range want {
		if h.sent[i] != want[i] {
			h.t.Errorf("decision %d = %+v, want %+v", i, h.sent[i], want[i])
		}
	}
}

func (h *harness) wantScreen(substrs ...string) {
	h.t.Helper()
	scr := h.screen()
	for _, s := range substrs {
		if !strings.Contains(scr, s) {
			h.t.Errorf("screen lacks %q:\n%s", s, scr)
		}
	}
}

func dec(kind steps.DecisionKind, step string) steps.Decision {
	return steps.Decision{Kind: kind, By: "alice", StepID: step}
}

func TestGateDecisions(t *testing.T) {
	inv := fixtureInventory(2)
	for _, tc := range []struct {
		name string
		sc   func(*inventory.Inventory) *script
		keys []string
		want []steps.Decision
	}{
		{"y confirms", toSwitchGate, []string{"y"}, []steps.Decision{dec(steps.Confirm, "switch-backup")}},
		{"enter confirms", toSwitchGate, []string{"enter"}, []steps.Decision{dec(steps.Confirm, "switch-backup")}},
		{"confirm is sent once until the engine answers", toSwitchGate, []string{"y", "y", "enter"}, []steps.Decision{dec(steps.Confirm, "switch-backup")}},
		{"n declines", toSwitchGate, []string{"n"}, []steps.Decision{dec(steps.Decline, "switch-backup")}},
		{"esc declines", toSwitchGate, []string{"esc"}, []steps.Decision{dec(steps.Decline, "switch-backup")}},
		{"skip asks first, n keeps the step", toSwitchGate, []string{"s", "n"}, nil},
		{"skip asks first, y skips", toSwitchGate, []string{"s", "y"}, []steps.Decision{dec(steps.Skip, "switch-backup")}},
		{"skip question ignores other keys", toSwitchGate, []string{"s", "r", "R", "a"}, nil},
		{"retry only after a failure", toSwitchGate, []string{"r"}, nil},
		{"rollback not offered before a switch", toSwitchGate, []string{"R"}, nil},
		{"r retries a failed step", toFailedGate, []string{"r"}, []steps.Decision{dec(steps.Retry, "upgrade-production")}},
		{"R rolls back at once", toFailedGate, []string{"R"}, []steps.Decision{dec(steps.Rollback, "upgrade-production")}},
		{"a asks, y aborts", toFailedGate, []string{"a", "y"}, []steps.Decision{dec(steps.Abort, "upgrade-production")}},
		{"a asks, esc carries on", toFailedGate, []string{"a", "esc"}, nil},
		{"no confirming a failed step", toFailedGate, []string{"y", "enter", "n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.sc(inv))
			h.press(tc.keys...)
			h.wantSent(tc.want...)
			if h.quitted {
				t.Error("the cockpit quit")
			}
		})
	}
}

func TestSkipAsksOnScreen(t *testing.T) {
	h := newHarness(t, toSwitchGate(fixtureInventory(2)))
	h.press("s")
	h.wantScreen(`Skip step "Switch traffic to backup"?`, "[y] skip it", "[n] keep it")
	h.wantSent()
	h.press("n")
	if strings.Contains(h.screen(), "Skip step") {
		t.Error("the question stayed after n")
	}
}

func TestConfirmWaitsForConditions(t *testing.T) {
	inv := fixtureInventory(2)
	h := newHarness(t, toSwitchGate(inv))
	h.events(steps.Event{Kind: steps.EvGateWaiting, StepID: "switch-backup", Gate: switchGate(false, inv)})
	h.press("y", "enter")
	h.wantSent()
	h.wantScreen("✗ lag db-p→db-b", "12.0 KiB behind, 2/5", "waiting for conditions")
	h.press("?")
	h.wantScreen("confirm (conditions not met yet)")

	h.events(steps.Event{Kind: steps.EvGateWaiting, StepID: "switch-backup", Gate: switchGate(true, inv)})
	h.press("?", "y")
	h.wantSent(dec(steps.Confirm, "switch-backup"))
}

func TestDeclinedGateStaysOpen(t *testing.T) {
	inv := fixtureInventory(2)
	h := newHarness(t, toSwitchGate(inv))
	h.press("n")
	d := dec(steps.Decline, "switch-backup")
	g := switchGate(true, inv)
	g.Declined = true
	h.events(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-backup", Decision: &d},
		steps.Event{Kind: steps.EvGateWaiting, StepID: "switch-backup", Gate: g})
	h.wantScreen("declined: nothing changed; the plan waits here until you confirm")
	h.press("n", "y")
	h.wantSent(d, dec(steps.Confirm, "switch-backup"))
}

func TestRollbackAsk(t *testing.T) {
	h := newHarness(t, toFailedGate(fixtureInventory(2)))
	h.press("R")
	h.events(steps.Event{Kind: steps.EvRollbackAsk, StepID: "upgrade-production",
		Text: "production is failing its checks (app-p1: connection refused); users would get errors there. Roll back anyway?"})
	h.wantScreen("Roll back anyway? production is failing its checks", "[y] roll back anyway (force)")
	h.press("y")
	force := dec(steps.Rollback, "upgrade-production")
	force.Force = true
	h.wantSent(dec(steps.Rollback, "upgrade-production"), force)
}

func TestRollbackAskDeclined(t *testing.T) {
	h := newHarness(t, toFailedGate(fixtureInventory(2)))
	h.press("R")
	h.events(steps.Event{Kind: steps.EvRollbackAsk, StepID: "upgrade-production", Text: "production is failing its checks"})
	h.press("n")
	if strings.Contains(h.screen(), "Roll back anyway") {
		t.Error("the rollback question stayed after n")
	}
	// The gate's keys work again: retry goes through.
	h.press("r")
	h.wantSent(dec(steps.Rollback, "upgrade-production"), dec(steps.Retry, "upgrade-production"))
}

func TestQuitWhileRunningAsks(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		t.Run(k, func(t *testing.T) {
			h := newHarness(t, toUpgrading(fixtureInventory(2)))
			h.press(k)
			if h.quitted {
				t.Fatal("quit without asking while the plan runs")
			}
			h.wantScreen("Quit while the plan is in progress?", "traffic to BACKUP", "db-b WAL replay PAUSED")
			h.press("n")
			if h.quitted || len(h.sent) > 0 {
				t.Fatalf("n should stay: quitted=%v sent=%v", h.quitted, h.sent)
			}
			h.press(k, "y")
			if !h.quitted {
				t.Fatal("y did not quit")
			}
			// No gate waits: the abort is for whatever gate comes next.
			h.wantSent(steps.Decision{Kind: steps.Abort, By: "alice"})
		})
	}
}

func TestCtrlCTwiceQuits(t *testing.T) {
	h := newHarness(t, toSwitchGate(fixtureInventory(2)))
	h.press("ctrl+c", "ctrl+c")
	if !h.quitted {
		t.Fatal("a second ctrl+c should confirm the quit")
	}
	h.wantSent(dec(steps.Abort, "switch-backup"))
}

func TestQuitWhenFinishedIsImmediate(t *testing.T) {
	h := newHarness(t, toFinished(fixtureInventory(2)))
	h.press("q")
	if !h.quitted {
		t.Fatal("q did not quit a finished plan")
	}
	h.wantSent()
}

func TestQuitAfterEngineStopped(t *testing.T) {
	h := newHarness(t, toUpgrading(fixtureInventory(2)))
	h.send(eventsMsg{items: []item{{done: true, err: errString("context canceled")}}})
	h.wantScreen("ENGINE STOPPED", "context canceled")
	h.press("q")
	if !h.quitted {
		t.Fatal("q did not quit after the engine stopped")
	}
	h.wantSent()
}

type errString string

func (e errString) Error() string { return string(e) }

func TestDisabledKeysSendNothing(t *testing.T) {
	h := newHarness(t, toUpgrading(fixtureInventory(2)))
	h.press("y", "enter", "n", "esc", "s", "r")
	h.wantSent()
	if h.m.dialog != nil {
		t.Errorf("a disabled key opened a question: %+v", h.m.dialog)
	}
	h.press("?")
	h.wantScreen("retry (no gate waiting)", "confirm (no gate waiting)")
}

func TestRollbackWhileAStepRuns(t *testing.T) {
	// After a switch the engine takes a rollback while a step runs (it stops the step first), so R
	// works without a gate.
	h := newHarness(t, toUpgrading(fixtureInventory(2)))
	h.press("R")
	h.wantSent(steps.Decision{Kind: steps.Rollback, By: "alice"})
	// The engine checks production before it stops the step: R is off meanwhile, not sent twice.
	h.press("R")
	h.wantSent(steps.Decision{Kind: steps.Rollback, By: "alice"})
	h.wantScreen("(waiting for the engine)")
	h.events(steps.Event{Kind: steps.EvRollingBack, StepID: "upgrade-production", Text: "rolling back from backup to production (by alice)",
		Change: &steps.Change{From: "backup", To: "production"}})
	h.wantScreen("ROLLING BACK", "(rolling back)")
}

func TestFinishedDisablesEverything(t *testing.T) {
	h := newHarness(t, toFinished(fixtureInventory(2)))
	h.press("y", "n", "s", "r", "R", "a")
	h.wantSent()
	h.wantScreen("PLAN FINISHED", "total 1m29s", "users saw 0 failed reads", "writes refused for 1.8 s (35 writes)", "0 failed writes", "traffic on PRODUCTION")
}

func TestStaleSkipQuestionIsDropped(t *testing.T) {
	inv := fixtureInventory(2)
	h := newHarness(t, toSwitchGate(inv))
	h.press("s")
	d := dec(steps.Confirm, "switch-backup")
	h.events(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-backup", Decision: &d},
		steps.Event{Kind: steps.EvStepStarted, StepID: "switch-backup", Status: steps.StatusRunning})
	if h.m.dialog != nil {
		t.Fatal("the skip question outlived its gate")
	}
	h.press("y")
	h.wantSent()
}

func TestLiveSideMoves(t *testing.T) {
	inv := fixtureInventory(2)
	h := newHarness(t, toSwitchGate(inv))
	h.wantScreen("▶ PRODUCTION · LIVE", "BACKUP (no traffic)")
	h = newHarness(t, toUpgrading(inv))
	h.wantScreen("▶ BACKUP · LIVE", "PRODUCTION (no traffic)", "[upgrading]", "[paused]", "served by 127.0.1.11:8080 (BACKUP)")
}

func TestOutputFullScreenAndBounded(t *testing.T) {
	h := newHarness(t, toUpgrading(fixtureInventory(2)))
	var evs []steps.Event
	for i := range maxOutputLines + 500 {
		evs = append(evs, steps.Event{Kind: steps.EvOutput, Host: "app-p1", Text: "line " + strconv.Itoa(i) + "\x1b[31m\ttab", Stream: steps.Stdout})
	}
	h.events(evs...)
	if n := len(h.m.out.raw); n != maxOutputLines {
		t.Fatalf("kept %d output lines, want %d", n, maxOutputLines)
	}
	h.press("l")
	scr := h.screen()
	if !strings.Contains(scr, "line "+strconv.Itoa(maxOutputLines+499)+"    tab") {
		t.Errorf("full-screen output does not end with the newest line:\n%s", scr)
	}
	if strings.Contains(h.m.View().Content, "\x1b[31m") {
		t.Error("escape sequences from command output reached the screen")
	}
	h.press("g")
	if h.m.out.follow {
		t.Error("scrolling to the top should stop following")
	}
	h.wantScreen("line 500 ")
	h.press("G", "l")
	if !h.m.out.follow || h.m.fullOutput {
		t.Error("G should follow again and l return to the cockpit")
	}
}

func TestOutputScrollsSideways(t *testing.T) {
	h := newHarness(t, toUpgrading(fixtureInventory(2)))
	long := "begin " + strings.Repeat("x", 200) + " THE-END"
	h.events(steps.Event{Kind: steps.EvOutput, Host: "app-p1", Text: long})
	h.press("l")
	if strings.Contains(h.screen(), "THE-END") {
		t.Fatal("a 215-cell line fits a 100-cell screen?")
	}
	for range 20 {
		h.press("right")
	}
	h.wantScreen("THE-END")
	for range 20 {
		h.press("left")
	}
	h.wantScreen("begin xxx")
}

// A rollback that would discard the promoted backup's writes is confirmed only by typing the phrase
// the engine asks for: y does not do it, a wrong phrase does not, esc keeps users where they are.
func TestRollbackDiscardNeedsTypedPhrase(t *testing.T) {
	const phrase = "discard 1000 bytes of WAL not yet applied on db-p"
	ask := steps.Event{Kind: steps.EvRollbackAsk, StepID: "upgrade-production",
		Text: "db-b was promoted and holds users' writes that db-p does not have (1000 bytes of WAL not yet applied on db-p). A rollback sends users to db-p without them. To do it anyway, type: " + phrase}
	typeText := func(h *harness, s string) {
		for _, r := range s {
			h.press(string(r))
		}
	}

	h := newHarness(t, toFailedGate(fixtureInventory(2)))
	h.press("R")
	h.events(ask)
	h.wantScreen("To do it anyway, type: discard 1000 bytes", "[enter] roll back and discard", "[esc] keep users where they are")
	h.press("y", "enter")
	h.wantSent(dec(steps.Rollback, "upgrade-production")) // "y" + enter is not the phrase
	h.press("backspace")
	typeText(h, phrase[:10])
	h.press("enter")
	h.wantSent(dec(steps.Rollback, "upgrade-production")) // half the phrase is not enough
	typeText(h, phrase[10:])
	h.wantScreen("(matches)")
	h.press("enter")
	want := dec(steps.Rollback, "upgrade-production")
	want.Force, want.Discard = true, phrase
	h.wantSent(dec(steps.Rollback, "upgrade-production"), want)

	h = newHarness(t, toFailedGate(fixtureInventory(2)))
	h.press("R")
	h.events(ask)
	h.press("esc")
	if strings.Contains(h.screen(), "To do it anyway") {
		t.Error("the discard question stayed after esc")
	}
	h.wantSent(dec(steps.Rollback, "upgrade-production"))
}
