package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// TestGateLeavesRoomForSummaries: on the demo shop (three replication links) a gate never hides what
// users see and how far the standbys are behind: a line each at least, and in one column the
// current step too, at every common terminal size.
func TestGateLeavesRoomForSummaries(t *testing.T) {
	for _, tc := range []struct {
		name string
		sc   func(testing.TB) *script
		keys string // the gate's key line
	}{
		{"switch gate", toDemoSwitchGate, "[y/enter] confirm"},
		{"rolled back", toDemoRolledBack, "[y/enter] redo the switch"},
		{"upgrading", toDemoUpgrading, ""},
	} {
		for _, sz := range [][2]int{{80, 24}, {90, 24}, {100, 30}, {100, 26}, {120, 30}, {160, 45}, {200, 60}} {
			t.Run(fmt.Sprintf("%s %dx%d", tc.name, sz[0], sz[1]), func(t *testing.T) {
				h := newHarness(t, tc.sc(t))
				h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
				scr := h.screen()
				assertFits(t, scr, sz[0], sz[1])
				want := []string{"Sync lag", "Users ", "100.0%", "p99 11ms", "refused", "Topology"}
				if tc.keys != "" {
					want = append(want, tc.keys)
				}
				if sz[0] < twoColumnsMin {
					want = append(want, "Plan readonly", "›") // the current step
				}
				for _, w := range want {
					if !strings.Contains(scr, w) {
						t.Errorf("the screen lacks %q:\n%s", w, scr)
					}
				}
				// Every link is named, in full or by its target.
				for _, to := range []string{"db-backup", "cdn-1", "cdn-2"} {
					if !strings.Contains(scr, "db-prod→"+to) && !strings.Contains(scr, " "+to+" ") {
						t.Errorf("the sync lag does not name the link to %s:\n%s", to, scr)
					}
				}
				if !strings.Contains(scr, "Users  on PRODUCTION") && !strings.Contains(scr, "(PRODUCTION)") &&
					!strings.Contains(scr, "Users  on BACKUP") && !strings.Contains(scr, "(BACKUP)") {
					t.Errorf("the screen does not say which side served users:\n%s", scr)
				}
			})
		}
	}
}

// TestLagPanelNeverDropsALinkSilently draws the three demo links in every height from one row to
// all of them: each link is named in every height, details go before links, and a cut is marked.
func TestLagPanelNeverDropsALinkSilently(t *testing.T) {
	h := newHarness(t, toDemoUpgrading(t))
	m := h.m
	full := m.lagHeight()
	if full != 7 {
		t.Fatalf("three links should need 7 rows, lagHeight = %d", full)
	}
	for n := 1; n <= full+2; n++ {
		lines := m.lagLines(80, n)
		text := ansi.Strip(strings.Join(lines, "\n"))
		if len(lines) > n {
			t.Errorf("n=%d: %d lines drawn", n, len(lines))
		}
		for _, to := range []string{"db-backup", "cdn-1", "cdn-2"} {
			if !strings.Contains(text, to) {
				t.Errorf("n=%d: link to %s is missing without a word:\n%s", n, to, text)
			}
		}
		details := strings.Count(text, "sent ")
		switch {
		case n >= full:
			if details != 3 {
				t.Errorf("n=%d: %d detail lines, want 3:\n%s", n, details, text)
			}
		case n >= 4: // title + three heads, then details for the first links
			if details != n-4 || strings.Contains(text, "more links") {
				t.Errorf("n=%d: want every head and %d details, no cut marker:\n%s", n, n-4, text)
			}
		case n == 3:
			if !strings.Contains(text, "+2 more links: db-prod→cdn-1 PAUSED 33.0 KiB, db-prod→cdn-2 PAUSED") {
				t.Errorf("n=3: want one head and a line naming the two others:\n%s", text)
			}
		}
	}
}

// TestUsersWithoutRequests says so instead of a green 100%.
func TestUsersWithoutRequests(t *testing.T) {
	inv := fixtureInventory(2)
	h := newHarness(t, toSwitchGate(inv))
	h.events(steps.Event{Kind: steps.EvReadings, Time: t0.Add(time.Minute), Readings: &steps.Readings{
		Live: inventory.Production, Probe: steps.ProbeStats{Window: 5 * time.Second}}})
	for _, n := range []int{1, 4} {
		text := ansi.Strip(strings.Join(h.m.usersLines(90, n), "\n"))
		if !strings.Contains(text, "no requests yet") || strings.Contains(text, "100.0%") {
			t.Errorf("users in %d rows with no requests:\n%s", n, text)
		}
	}
}

// TestDownBadgeFirst: at 100 columns a host cell is narrow; DOWN must not be the badge cut off.
func TestDownBadgeFirst(t *testing.T) {
	h := newHarness(t, toDemoUpgrading(t))
	h.wantScreen("app-p2  app 2.3.1 [DOWN] [up")
}

// TestAllocate checks the rules of sharing rows.
func TestAllocate(t *testing.T) {
	for _, tc := range []struct {
		total  int
		grants []grant
		want   []int
	}{
		{10, []grant{{0, 4, true}, {1, 8, true}, {1, 9, false}}, []int{4, 0}},               // a minimum that does not fit: nothing later
		{10, []grant{{0, 4, true}, {1, 2, true}, {0, 20, false}}, []int{8, 2}},              // growth takes what is left
		{10, []grant{{0, 4, true}, {1, 2, true}, {1, 8, true}, {0, 5, false}}, []int{5, 2}}, // a whole step that does not fit is skipped
	} {
		if got := allocate(tc.total, 2, tc.grants); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("allocate(%d, %v) = %v, want %v", tc.total, tc.grants, got, tc.want)
		}
	}
}

// TestFooterSaysWhyKeysAreOff: with no gate waiting the footer names the keys that are off and why,
// in one entry that a 100-column footer shows; at a gate no such entry is needed.
func TestFooterSaysWhyKeysAreOff(t *testing.T) {
	inv := fixtureInventory(2)
	footer := func(h *harness) string {
		lines := strings.Split(h.screen(), "\n")
		return lines[len(lines)-2]
	}
	h := newHarness(t, toUpgrading(inv))
	f := footer(h)
	for _, want := range []string{"R ROLL BACK traffic", "a ABORT plan (asks)", "off: y n s r (no gate waiting)", "q quit (asks)"} {
		if !strings.Contains(f, want) {
			t.Errorf("the 100-column footer lacks %q: %q", want, f)
		}
	}
	h = newHarness(t, toSwitchGate(inv))
	if f := footer(h); strings.Contains(f, "off:") || !strings.HasPrefix(f, "y/enter confirm") {
		t.Errorf("at a gate the footer should start with what can be done: %q", f)
	}
	h.press("y") // sent: every key waits for the engine
	if f := footer(h); !strings.Contains(f, "off: y n s r R (waiting for the engine)") {
		t.Errorf("after a confirm the footer should say the keys wait for the engine: %q", f)
	}
}

// TestNarrowPlanKeepsTheCurrentStep: in two rows or less, the plan shows the current step rather
// than arrows.
func TestNarrowPlanKeepsTheCurrentStep(t *testing.T) {
	h := newHarness(t, toUpgrading(fixtureInventory(2)))
	for _, n := range []int{2, 3, 4} {
		text := ansi.Strip(strings.Join(h.m.phasesLines(80, n), "\n"))
		if !strings.Contains(text, "Upgrade production app hosts") {
			t.Errorf("the plan in %d rows hides the current step:\n%s", n, text)
		}
	}
}
