package ui

import (
	"strconv"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// bigInventory has 50 hosts: 23 app hosts a side, a primary, a standby, a replica and the balancer.
func bigInventory() *inventory.Inventory { return fixtureInventory(23) }

// busyModel is a 200x60 cockpit mid-upgrade with a full output buffer.
func busyModel(tb testing.TB) *Model {
	inv := bigInventory()
	if n := len(inv.Hosts); n != 50 {
		tb.Fatalf("big inventory has %d hosts, want 50", n)
	}
	m := NewModel(Config{Inventory: inv, Plan: fixturePlan(inv), Demo: true, Operator: "alice", Journal: "/tmp/j.jsonl", Now: fixedNow})
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m.Update(toUpgrading(inv).batch())
	var items []item
	for i := range maxOutputLines {
		items = append(items, item{ev: steps.Event{Kind: steps.EvOutput, Host: "app-p" + strconv.Itoa(i%23+1), Text: "unpacking shop-2.0.0 file " + strconv.Itoa(i)}})
	}
	m.Update(eventsMsg{items: items})
	return m
}

// BenchmarkView renders one frame at 200x60 with a 50-host inventory and 5,000 output lines.
func BenchmarkView(b *testing.B) {
	m := busyModel(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// BenchmarkFirstFrame measures New to the first drawn frame (plan loaded, no events yet).
func BenchmarkFirstFrame(b *testing.B) {
	inv := bigInventory()
	plan := fixturePlan(inv)
	b.ReportAllocs()
	for b.Loop() {
		m := NewModel(Config{Inventory: inv, Plan: plan, Demo: true, Operator: "alice", Now: fixedNow})
		m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
		_ = m.View()
	}
}

// BenchmarkFrame is one refresh of a busy run: a frame's worth of events (two readings and twenty
// output lines) applied to a full cockpit, then drawn.
func BenchmarkFrame(b *testing.B) {
	m := busyModel(b)
	inv := m.cfg.Inventory
	s := newScript(inv)
	s.now = m.run.last
	for i := range 2 {
		s.readings(inventory.Backup, int64(i)<<10, true, v1, standby)
	}
	for i := range 20 {
		s.output("app-p1", "line "+strconv.Itoa(i), steps.Stdout)
	}
	batch := s.batch()
	b.ReportAllocs()
	for b.Loop() {
		m.Update(batch)
		_ = m.View()
	}
}
