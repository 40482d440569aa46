package ui

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/pitstop-ops/pitstop/inventory"
)

// runProgram runs the model in a real Bubble Tea program at w×h (teatest), feeds it sc and then
// keys, waits until the screen shows want, quits, and returns the final model.
func runProgram(t *testing.T, sc *script, w, h int, want string, keys ...string) *Model {
	t.Helper()
	inv := sc.inv
	m := NewModel(Config{Inventory: inv, Plan: sc.plan, Demo: true, Operator: "alice",
		Journal: "/var/lib/pitstop/journal.jsonl", Now: fixedNow})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	t.Cleanup(func() { _ = tm.Quit() })
	tm.Send(sc.batch())
	for _, k := range keys {
		tm.Send(keyMsg(k))
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
}

// TestGoldenViews compares whole screens with testdata/TestGoldenViews/*.golden (colour stripped,
// clock pinned). Update them with: go test ./ui -run TestGoldenViews -update
func TestGoldenViews(t *testing.T) {
	inv := fixtureInventory(2)
	for _, tc := range []struct {
		name string
		sc   func(*inventory.Inventory) *script
		want string
	}{
		{"gate", toSwitchGate, "confirming will change"},
		{"finished", toFinished, "PLAN FINISHED"},
	} {
		for _, size := range [][2]int{{100, 30}, {80, 24}} {
			t.Run(fmt.Sprintf("%s_%dx%d", tc.name, size[0], size[1]), func(t *testing.T) {
				m := runProgram(t, tc.sc(inv), size[0], size[1], tc.want)
				view := ansi.Strip(m.View().Content)
				assertFits(t, view, size[0], size[1])
				golden.RequireEqual(t, view)
			})
		}
	}
	// The demo shop, as `pitstop demo` shows it: three replication links, a longer plan, the reverse
	// sync's logical link.
	for _, tc := range []struct {
		name string
		sc   func(testing.TB) *script
		keys []string
		want string
		w, h int
	}{
		{"demo_switch_gate", toDemoSwitchGate, nil, "confirming will change", 100, 30},
		{"demo_switch_gate", toDemoSwitchGate, nil, "what confirming will change", 80, 24},
		{"demo_switch_gate", toDemoSwitchGate, nil, "confirming will change", 200, 60},
		{"demo_rolling_back", toDemoRollingBack, nil, "worker pids changed", 80, 24},
		{"demo_rolling_back", toDemoRollingBack, nil, "worker pids changed", 200, 60},
		{"demo_finished_with_skips", toDemoFinishedWithSkips, nil, "PLAN FINISHED", 80, 24},
		{"demo_finished_with_skips", toDemoFinishedWithSkips, nil, "PLAN FINISHED", 200, 60},
		{"demo_upgrading", toDemoUpgrading, nil, "Output", 100, 30},
		{"demo_reverse_sync_quit", toDemoReverseCatchup, []string{"q"}, "You leave", 100, 30},
	} {
		t.Run(fmt.Sprintf("%s_%dx%d", tc.name, tc.w, tc.h), func(t *testing.T) {
			m := runProgram(t, tc.sc(t), tc.w, tc.h, tc.want, tc.keys...)
			view := ansi.Strip(m.View().Content)
			assertFits(t, view, tc.w, tc.h)
			golden.RequireEqual(t, view)
		})
	}
}

// assertFits fails unless view is exactly h lines of at most w cells.
func assertFits(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("view has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d cells wide, more than %d: %q", i+1, n, w, l)
		}
	}
}

func TestResize(t *testing.T) {
	inv := fixtureInventory(2)
	sizes := [][2]int{{250, 70}, {200, 60}, {120, 40}, {100, 30}, {99, 30}, {80, 24}, {60, 20}, {40, 12}, {20, 6}, {1, 1}}
	scripts := []*script{toSwitchGate(inv), toUpgrading(inv), toFailedGate(inv), toFinished(inv), stateFinished(inv),
		toDemoSwitchGate(t), toDemoRolledBack(t), toDemoUpgrading(t), toDemoReverseCatchup(t)}
	for _, sc := range scripts {
		for _, question := range []string{"", "a"} { // the abort question claims every row it needs
			h := newHarness(t, sc)
			h.press(question)
			for _, full := range []bool{false, true} {
				h.m.fullOutput, h.m.showHelp = full, full
				for _, sz := range sizes {
					h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
					assertFits(t, ansi.Strip(h.m.View().Content), sz[0], sz[1])
				}
			}
		}
	}
}

// TestResizeInProgram checks that a running program re-lays out at once when the terminal shrinks.
func TestResizeInProgram(t *testing.T) {
	inv := fixtureInventory(2)
	m := NewModel(Config{Inventory: inv, Plan: fixturePlan(inv), Demo: true, Operator: "alice", Now: fixedNow})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(250, 70),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	t.Cleanup(func() { _ = tm.Quit() })
	tm.Send(toSwitchGate(inv).batch())
	// Once a frame with the gate is out, Bubble Tea has delivered its own initial size too, so the
	// resize below is the last one the model sees.
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("GATE")) },
		teatest.WithDuration(5*time.Second))
	tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	_ = tm.Quit()
	view := ansi.Strip(tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model).View().Content)
	assertFits(t, view, 80, 24)
	for _, want := range []string{"GATE Switch traffic to backup", "[y/enter] confirm", "▶ PRODUCTION · LIVE"} {
		if !strings.Contains(view, want) {
			t.Errorf("80x24 screen lacks %q:\n%s", want, view)
		}
	}
}

// TestNoColor renders through a real program with the environment's colour settings (TTY_FORCE makes
// colorprofile treat the test's buffer as a terminal): NO_COLOR, whatever its value, must remove every
// colour but keep the words; without it colours must be there, so the check can fail.
func TestNoColor(t *testing.T) {
	for _, tc := range []struct {
		noColor   string
		wantColor bool
	}{
		{"", true},
		{"1", false},
		{"yes", false}, // colorprofile alone would keep colours: it parses NO_COLOR as a boolean
	} {
		t.Run("NO_COLOR="+tc.noColor, func(t *testing.T) {
			env := []string{"TERM=xterm-256color", "TTY_FORCE=1"}
			if tc.noColor != "" {
				env = append(env, "NO_COLOR="+tc.noColor)
			}
			inv := fixtureInventory(2)
			m := NewModel(Config{Inventory: inv, Plan: fixturePlan(inv), Demo: true, Operator: "alice", Now: fixedNow})
			opts := append([]tea.ProgramOption{tea.WithEnvironment(env)}, colorOptions(env)...)
			tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30), teatest.WithProgramOptions(opts...))
			tm.Send(toSwitchGate(inv).batch())
			var out bytes.Buffer
			teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
				out.Write(b)
				return bytes.Contains(out.Bytes(), []byte("LIVE"))
			}, teatest.WithDuration(5*time.Second))
			_ = tm.Quit()
			rest, _ := io.ReadAll(tm.FinalOutput(t, teatest.WithFinalTimeout(5*time.Second)))
			out.Write(rest)
			b := out.Bytes()
			colour := bytes.Contains(b, []byte("\x1b[38;")) || bytes.Contains(b, []byte(";38;")) ||
				bytes.Contains(b, []byte("\x1b[48;")) || bytes.Contains(b, []byte(";48;"))
			if colour != tc.wantColor {
				t.Errorf("colour sequences present = %v, want %v", colour, tc.wantColor)
			}
			for _, word := range []string{"DEMO", "LIVE", "GATE"} {
				if !bytes.Contains(b, []byte(word)) {
					t.Errorf("%q is missing from the screen", word)
				}
			}
		})
	}
}

// TestBackgroundColour rebuilds the styles once for a light terminal.
func TestBackgroundColour(t *testing.T) {
	h := newHarness(t, toSwitchGate(fixtureInventory(2)))
	dark := h.m.styles
	h.send(tea.BackgroundColorMsg{Color: colorWhite{}})
	if h.m.styles == dark || h.m.styles.Dark {
		t.Fatal("a light background did not switch to light styles")
	}
	light := h.m.styles
	h.send(tea.BackgroundColorMsg{Color: colorWhite{}})
	if h.m.styles != light {
		t.Error("styles were rebuilt for the same background")
	}
}

type colorWhite struct{}

func (colorWhite) RGBA() (r, g, b, a uint32) { return 0xffff, 0xffff, 0xffff, 0xffff }
