package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// questionText is the open question as one line of words (wrapping undone), colour stripped.
func questionText(h *harness) string {
	return strings.Join(strings.Fields(ansi.Strip(strings.Join(h.m.gateLines(80, 1000), " "))), " ")
}

// TestAbortSaysWhatHappensToTheRunningStep: the engine kills a running step on abort, so the abort
// and quit questions must say so, naming the hosts; at a gate they say the engine stops there.
func TestAbortSaysWhatHappensToTheRunningStep(t *testing.T) {
	const killed = `The running step "Upgrade production app hosts to 2.0.0" is stopped now: its commands are killed and may be left half-done on app-p1, app-p2.`
	inv := fixtureInventory(2)
	for _, tc := range []struct {
		name   string
		sc     func(*inventory.Inventory) *script
		key    string
		want   string
		absent string
	}{
		{"abort while a step runs", toUpgrading, "a", "ABORT the plan? " + killed, "finishes"},
		{"quit while a step runs", toUpgrading, "q", "Quitting sends ABORT to the engine. " + killed, "finishes"},
		{"abort at a gate", toSwitchGate, "a", "ABORT the plan? The engine stops at this gate.", "killed"},
		{"quit at a gate", toSwitchGate, "q", "Quitting sends ABORT to the engine. The engine stops at this gate.", "killed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.sc(inv))
			h.press(tc.key)
			q := questionText(h)
			if !strings.Contains(q, tc.want) {
				t.Errorf("the question lacks %q:\n%s", tc.want, q)
			}
			if strings.Contains(q, tc.absent) {
				t.Errorf("the question says %q, which is not what happens:\n%s", tc.absent, q)
			}
		})
	}
}

// TestAbortOfAReadOnlyStep: a step that only reads is stopped without leaving anything half-done.
func TestAbortOfAReadOnlyStep(t *testing.T) {
	inv := fixtureInventory(2)
	sc := toSwitchGate(inv)
	d := dec(steps.Confirm, "switch-backup")
	sc.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "switch-backup", Decision: &d})
	sc.step("switch-backup", steps.StatusRunning)
	sc.finish("switch-backup", time.Second)
	sc.step("verify-backup", steps.StatusRunning)
	h := newHarness(t, sc)
	h.press("a")
	if q := questionText(h); !strings.Contains(q, `"Check users are served by backup" is stopped now; it only reads, so nothing is left half-done.`) {
		t.Errorf("aborting a read-only step should say nothing is left half-done:\n%s", q)
	}
}

// TestQuestionsCloseOnQAndCtrlC: q and ctrl+c answer "no" to the skip, abort and force-rollback
// questions; ctrl+c pressed twice more then quits as it always does.
func TestQuestionsCloseOnQAndCtrlC(t *testing.T) {
	inv := fixtureInventory(2)
	ask := steps.Event{Kind: steps.EvRollbackAsk, StepID: "upgrade-production", Text: "production is failing its checks. Roll back anyway?"}
	for _, tc := range []struct {
		name   string
		sc     func(*inventory.Inventory) *script
		open   func(*harness)
		before []steps.Decision // sent while opening the question
	}{
		{"skip", toSwitchGate, func(h *harness) { h.press("s") }, nil},
		{"abort", toFailedGate, func(h *harness) { h.press("a") }, nil},
		{"force rollback", toFailedGate, func(h *harness) { h.press("R"); h.events(ask) },
			[]steps.Decision{dec(steps.Rollback, "upgrade-production")}},
	} {
		for _, k := range []string{"q", "ctrl+c"} {
			t.Run(tc.name+" "+k, func(t *testing.T) {
				h := newHarness(t, tc.sc(inv))
				tc.open(h)
				if h.m.dialog == nil {
					t.Fatal("the question did not open")
				}
				h.press(k)
				if h.m.dialog != nil || h.quitted {
					t.Fatalf("%s left the %s question open (or quit): dialog=%+v quitted=%v", k, tc.name, h.m.dialog, h.quitted)
				}
				h.wantSent(tc.before...)
				h.press("ctrl+c")
				if h.m.dialog == nil || h.m.dialog.kind != askQuit {
					t.Fatalf("ctrl+c after closing the question should ask to quit, dialog=%+v", h.m.dialog)
				}
				h.press("ctrl+c")
				if !h.quitted {
					t.Fatal("a second ctrl+c did not quit")
				}
				h.wantSent(append(tc.before, dec(steps.Abort, h.m.gateStep()))...)
			})
		}
	}
}

// TestForceRollbackAsksOnce: the engine's text ends with the question; the screen asks it once.
func TestForceRollbackAsksOnce(t *testing.T) {
	h := newHarness(t, toFailedGate(fixtureInventory(2)))
	h.press("R")
	h.events(steps.Event{Kind: steps.EvRollbackAsk, StepID: "upgrade-production",
		Text: "production is failing its checks (app-p1: connection refused); users would get errors there. Roll back anyway?"})
	q := questionText(h)
	if n := strings.Count(q, "Roll back anyway?"); n != 1 {
		t.Errorf(`"Roll back anyway?" appears %d times, want once:\n%s`, n, q)
	}
	if !strings.Contains(q, "? Roll back anyway? production is failing its checks (app-p1: connection refused); users would get errors there.") {
		t.Errorf("the question should come first, then why:\n%s", q)
	}
}

// stateFinished ends the fixture run with a state of many items, as the engine reports it after an
// abort mid-way through the reverse-sync plan.
func stateFinished(inv *inventory.Inventory) *script {
	s := toUpgrading(inv)
	s.emit(steps.Event{Kind: steps.EvPlanFinished, Status: steps.StatusAborted, Summary: &steps.Summary{
		Status: steps.StatusAborted, Elapsed: time.Minute, Live: inventory.Backup, State: strings.Join(stateItems, "; ")}})
	return s
}

var stateItems = []string{
	"balancer sends traffic to backup",
	"WAL replay is PAUSED on db-b (resume it before the next sync)",
	"WAL replay is PAUSED on db-r (resume it before the next sync)",
	"reverse sync db-b→db-p is still running",
	"db-p is FENCED read-only",
	"db-b was promoted to a primary",
}

// TestStateLeftIsNeverCut: the state a plan leaves behind shows one item a line, every item whole,
// also at 80x24 and in the full-screen output; the rest of the screen gives way.
func TestStateLeftIsNeverCut(t *testing.T) {
	for _, full := range []bool{false, true} {
		for _, sz := range [][2]int{{80, 24}, {100, 30}} {
			h := newHarness(t, stateFinished(fixtureInventory(2)))
			h.m.fullOutput = full
			h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			scr := h.screen()
			lines := strings.Split(scr, "\n")
			for _, it := range stateItems {
				found := false
				for _, l := range lines {
					if strings.Contains(l, it) { // whole, on one line
						found = true
					}
				}
				if !found {
					t.Errorf("%dx%d full=%v: %q is not on a line of its own:\n%s", sz[0], sz[1], full, it, scr)
				}
			}
			if strings.Contains(scr, "more lines: make the terminal taller") {
				t.Errorf("%dx%d: the state was cut:\n%s", sz[0], sz[1], scr)
			}
		}
		// Narrower, items wrap but stay whole.
		h := newHarness(t, stateFinished(fixtureInventory(2)))
		h.m.fullOutput = full
		h.send(tea.WindowSizeMsg{Width: 50, Height: 20})
		words := strings.Join(strings.Fields(h.screen()), " ")
		for _, it := range stateItems {
			if !strings.Contains(words, it) {
				t.Errorf("50x20 full=%v: %q is missing or cut:\n%s", full, it, h.screen())
			}
		}
	}
}

// TestQuestionStateIsNeverCut: the abort question lists every item of the state things stay in.
func TestQuestionStateIsNeverCut(t *testing.T) {
	h := newHarness(t, toDemoUpgrading(t))
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.press("a")
	lines := strings.Split(h.screen(), "\n")
	want := []string{"• the balancer sends traffic to BACKUP", "• app-p1 DOWN", "• app-p2 mid-upgrade, DOWN",
		"• cdn-1 WAL replay PAUSED", "• cdn-2 WAL replay PAUSED", "• db-backup WAL replay PAUSED", "[y] abort · [n] carry on"}
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || strings.HasSuffix(strings.TrimSpace(l), w)
		}
		if !found {
			t.Errorf("the abort question lacks a line ending %q:\n%s", w, h.screen())
		}
	}
}

// TestReverseSyncOnScreen renders the reverse-sync plan's logical link with its time lag, and the
// quit question's state naming the running reverse sync.
func TestReverseSyncOnScreen(t *testing.T) {
	h := newHarness(t, toDemoReverseCatchup(t))
	h.wantScreen("db-backup→db-prod logical streaming · replay 48.0 KiB",
		"sent 2.0 KiB · write 3.0 KiB · flush 3.0 KiB · delay 3.2s",
		"db-backup primary [promoted]")
	h.press("q")
	h.wantScreen("You leave:", "• db-backup PROMOTED to primary", "• reverse sync db-backup→db-prod running")
}

// TestFinishedShowsWhatToDo: a plan that ended half-way shows the engine's next steps under "What to
// do:" when they fit, and otherwise says they are printed when the cockpit closes; the state left
// behind stays whole either way.
func TestFinishedShowsWhatToDo(t *testing.T) {
	next := []string{
		"users are on the backup: to send them back to production, verified by probes as a rollback is: pitstop switch -i shop.yaml --to production",
		"WAL replay is paused on db-b: in psql on db-b run SELECT pg_wal_replay_resume();",
	}
	finished := func() *script {
		s := toUpgrading(fixtureInventory(2))
		s.emit(steps.Event{Kind: steps.EvPlanFinished, Status: steps.StatusFailed, Summary: &steps.Summary{
			Status: steps.StatusFailed, Elapsed: time.Minute, Live: inventory.Backup,
			State: "balancer sends traffic to backup; WAL replay is PAUSED on db-b (resume it before the next sync)", Next: next}})
		return s
	}
	h := newHarness(t, finished())
	h.send(tea.WindowSizeMsg{Width: 160, Height: 50})
	// The right column holds them; items may wrap, so each is looked for by its opening words.
	for _, want := range []string{"What to do:", "printed again after the screen closes",
		"• users are on the backup: to send them back to production", "• WAL replay is paused on db-b: in psql on db-b run SELECT pg_wal_replay_resume();"} {
		if !strings.Contains(h.screen(), want) {
			t.Errorf("160x50: %q missing:\n%s", want, h.screen())
		}
	}
	h = newHarness(t, finished())
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	words := strings.Join(strings.Fields(h.screen()), " ")
	if !strings.Contains(words, "balancer sends traffic to backup") || !strings.Contains(words, "What to do") {
		t.Errorf("80x24: the state or the pointer to what to do is missing:\n%s", h.screen())
	}
}
