package ui

import (
	"fmt"
	"os"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// TestPreview prints screens for a human to look at: PREVIEW=1 go test ./ui -run Preview -v
func TestPreview(t *testing.T) {
	if os.Getenv("PREVIEW") == "" {
		t.Skip("set PREVIEW=1 to print screens")
	}
	inv := fixtureInventory(2)
	for _, sz := range [][2]int{{80, 24}, {100, 30}, {160, 45}} {
		for _, sc := range []*script{toSwitchGate(inv), toUpgrading(inv), toFailedGate(inv), toFinished(inv)} {
			m := NewModel(Config{Inventory: inv, Plan: fixturePlan(inv), Demo: true, Operator: "alice", Journal: "/var/lib/pitstop/journal-0301.jsonl", Now: fixedNow})
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			m.Update(sc.batch())
			fmt.Printf("=== %dx%d\n%s\n", sz[0], sz[1], ansi.Strip(m.View().Content))
		}
	}
}
