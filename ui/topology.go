package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// topoSideBySide is the width from which both sides are drawn next to each other.
const topoSideBySide = 56

// topoHost is one host as the topology shows it.
type topoHost struct {
	name, role string
}

// sideHosts lists a side's app hosts, its database and its replicas, with their roles.
func (m *Model) sideHosts(side inventory.Side) []topoHost {
	spec := m.cfg.Inventory.Sides.Get(side)
	var out []topoHost
	for _, a := range spec.Apps {
		out = append(out, topoHost{a, "app"})
	}
	if spec.Database != "" {
		role := "primary"
		if m.hasBadge(spec.Database, steps.BadgeStandby) {
			role = "standby"
		}
		out = append(out, topoHost{spec.Database, role})
	}
	for _, r := range spec.Replicas {
		out = append(out, topoHost{r, "replica"})
	}
	return out
}

func (m *Model) hostState(name string) (steps.HostState, bool) {
	if m.run.readings == nil {
		return steps.HostState{}, false
	}
	h, ok := m.run.readings.Hosts[name]
	return h, ok
}

func (m *Model) hasBadge(host string, b steps.Badge) bool {
	h, _ := m.hostState(host)
	return slices.Contains(h.Badges, b)
}

// topologyLines draws users → balancer → both sides, every host with role, version, health and
// badges; the side taking traffic is highlighted and labelled LIVE in words.
func (m *Model) topologyLines(w, maxH int) []string {
	s := m.styles
	live := m.run.live()
	target := s.Dim.Render("? (no reading yet)")
	if live != "" {
		target = s.LiveSide.Render(" " + strings.ToUpper(string(live)) + " · LIVE ")
	}
	lines := []string{s.Title.Render("Topology") + s.Dim.Render("  users ─▶ balancer ") +
		s.Bold.Render(orText(balancerNames(m.cfg.Inventory.Balancer), "?")) + s.Dim.Render(" ─▶ ") + target}

	prod, back := m.sideHosts(inventory.Production), m.sideHosts(inventory.Backup)
	rows := maxH - 2
	if w >= topoSideBySide {
		cw := (w - 2) / 2
		lines = append(lines, pad(m.sideHeader(inventory.Production, live), cw)+"  "+m.sideHeader(inventory.Backup, live))
		n := max(len(prod), len(back))
		left, right := m.hostCells(prod, cw, min(n, rows)), m.hostCells(back, cw, min(n, rows))
		for i := range max(len(left), len(right)) {
			var l, r string
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				r = right[i]
			}
			lines = append(lines, pad(l, cw)+"  "+r)
		}
		return fitLines(lines, w, maxH)
	}
	// Narrow: one side under the other, each given half of the rows.
	half := max(1, (maxH-3)/2)
	lines = append(lines, m.sideHeader(inventory.Production, live))
	lines = append(lines, m.hostCells(prod, w, half)...)
	lines = append(lines, m.sideHeader(inventory.Backup, live))
	lines = append(lines, m.hostCells(back, w, maxH-len(lines))...)
	return fitLines(lines, w, maxH)
}

// topologyHeight is how many rows topologyLines needs at width w to show every host.
func (m *Model) topologyHeight(w int) int {
	p, b := len(m.sideHosts(inventory.Production)), len(m.sideHosts(inventory.Backup))
	if w >= topoSideBySide {
		return 2 + max(p, b)
	}
	return 3 + p + b
}

func (m *Model) sideHeader(side, live inventory.Side) string {
	s := m.styles
	name := strings.ToUpper(string(side))
	if side == live {
		return s.LiveSide.Render("▶ " + name + " · LIVE ")
	}
	if live == "" {
		return s.Side.Render("  " + name)
	}
	return s.Side.Render("  "+name) + s.Dim.Render(" (no traffic)")
}

// hostCells draws hosts in cells w wide, at most rows of them; the last row says how many are hidden.
func (m *Model) hostCells(hosts []topoHost, w, rows int) []string {
	if rows <= 0 {
		return nil
	}
	verW, nameW := 1, 1
	for _, h := range hosts {
		nameW = max(nameW, min(len(h.name), 18))
		st, _ := m.hostState(h.name)
		verW = max(verW, min(len(st.Version), 12))
	}
	var out []string
	for i, h := range hosts {
		if i == rows-1 && len(hosts) > rows {
			out = append(out, m.styles.Dim.Render(fmt.Sprintf("  … %d more hosts", len(hosts)-i)))
			break
		}
		out = append(out, fit(m.hostCell(h, nameW, verW, w >= 36), w))
	}
	return out
}

func (m *Model) hostCell(h topoHost, nameW, verW int, wide bool) string {
	s := m.styles
	st, ok := m.hostState(h.name)
	health := s.Dim.Render("?")
	switch {
	case ok && st.Healthy:
		health = s.OK.Render("✓")
	case ok:
		health = s.Bad.Render("✗")
	}
	var b strings.Builder
	role := h.role
	if wide {
		role = pad(role, 7)
	}
	b.WriteString(" " + health + " " + s.Bold.Render(pad(h.name, nameW)) + " " + s.Dim.Render(role))
	if h.role == "app" {
		b.WriteString(" " + pad(orText(st.Version, "?"), verW))
	}
	// DOWN comes first: a narrow cell cuts the badges at its end.
	if slices.Contains(st.Badges, steps.BadgeDown) {
		b.WriteString(" " + s.BadBadge.Render("[DOWN]"))
	}
	for _, bd := range st.Badges {
		if bd == steps.BadgeDown || bd == steps.BadgeStandby && (h.role == "standby" || h.role == "replica") {
			continue // shown already, or the role says it
		}
		b.WriteString(" " + s.Badge.Render("["+string(bd)+"]"))
	}
	return b.String()
}

// balancerNames names every balancer: "lb", or "lb1+lb2" when several are switched together.
func balancerNames(b inventory.Balancer) string {
	if len(b.Hosts) > 1 {
		return strings.Join(b.Hosts, "+")
	}
	return b.Host
}
