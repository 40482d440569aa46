package ui

import (
	"fmt"
	"os"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/pitstop-ops/pitstop/steps"
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

// TestPreviewDemo prints the demo shop's screens: PREVIEW=1 go test ./ui -run PreviewDemo -v
func TestPreviewDemo(t *testing.T) {
	if os.Getenv("PREVIEW") == "" {
		t.Skip("set PREVIEW=1 to print screens")
	}
	for _, sz := range [][2]int{{80, 24}, {100, 30}, {160, 45}} {
		for _, sc := range []*script{toDemoSwitchGate(t), toDemoRolledBack(t), toDemoUpgrading(t), toDemoReverseCatchup(t)} {
			m := NewModel(Config{Inventory: sc.inv, Plan: sc.plan, Demo: true, Operator: "alice", Journal: "/var/tmp/pitstop-demo.jsonl", Now: fixedNow})
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			m.Update(sc.batch())
			fmt.Printf("=== %dx%d\n%s\n", sz[0], sz[1], ansi.Strip(m.View().Content))
		}
	}
}

// TestPreviewDialogs prints the questions: PREVIEW=1 go test ./ui -run PreviewDialogs -v
func TestPreviewDialogs(t *testing.T) {
	if os.Getenv("PREVIEW") == "" {
		t.Skip("set PREVIEW=1 to print screens")
	}
	for _, sz := range [][2]int{{80, 24}, {100, 30}} {
		for _, c := range []struct {
			sc   *script
			keys []string
		}{{toDemoUpgrading(t), []string{"a"}}, {toDemoUpgrading(t), []string{"q"}}, {toDemoReverseCatchup(t), []string{"q"}}, {toDemoReverseCatchup(t), []string{"R"}}} {
			h := newHarness(t, c.sc)
			h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			h.press(c.keys...)
			if c.keys[0] == "R" {
				h.events(steps.Event{Kind: steps.EvRollbackAsk, StepID: "reverse-catchup", Text: "db-backup was promoted and has taken users' writes since the switch; db-prod does not have them until the reverse sync has caught up and the writes are fenced, so after a rollback users would not see them and both databases could take writes. Roll back anyway?"})
			}
			fmt.Printf("=== %dx%d %v\n%s\n", sz[0], sz[1], c.keys, h.screen())
		}
	}
}
