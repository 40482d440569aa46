package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// usersLines draws what users see through the balancer in n rows. With four or more: probe success,
// latency, which upstream served the newest request and on which side, the application version,
// refused writes, how long reads failed and writes were refused, and a sparkline of success. With fewer, one summary line.
func (m *Model) usersLines(w, n int) []string {
	if n <= 0 {
		return nil
	}
	if n < m.usersHeight() {
		return []string{m.usersSummary(w)}
	}
	s := m.styles
	lines := []string{s.Title.Render("Users") + s.Dim.Render("  probes through the balancer")}
	r := m.run.readings
	if r == nil {
		return fitLines(append(lines, s.Dim.Render("  no readings yet")), w, n)
	}
	p := r.Probe
	head := "  " + m.success(p) + s.Dim.Render(" in the last "+shortDur(p.Window))
	if p.Requests > 0 {
		head = "  " + m.success(p) + s.Dim.Render(" · p50 ") + ms(p.P50) + s.Dim.Render(" · p99 ") + ms(p.P99) +
			s.Dim.Render(fmt.Sprintf(" · %d req/%s", p.Requests, shortDur(p.Window)))
	}
	if room := w - width(head) - 2; room >= 8 {
		head += "  " + s.Spark.Render(sparkline(m.run.success.v, min(room, 40), min(90, minOf(m.run.success.v)), 100))
	}
	lines = append(lines, head)

	served := s.Dim.Render("  served by ") + s.Bold.Render(orText(p.LastUpstream, "—"))
	if side := m.cfg.Inventory.SideOfAddr(p.LastUpstream); side != "" {
		served += " (" + s.Bold.Render(strings.ToUpper(string(side))) + ")"
	}
	served += s.Dim.Render(" · app ") + s.Bold.Render(orText(p.Version, "?"))
	lines = append(lines, served)

	writes := s.Dim.Render("  writes ") + fmt.Sprint(p.Writes)
	if p.WritesRefused > 0 {
		writes += s.Dim.Render(" · ") + s.Warn.Render(fmt.Sprintf("refused %d (read-only)", p.WritesRefused))
	} else {
		writes += s.Dim.Render(" · refused 0")
	}
	if p.WritesFailed > 0 {
		writes += s.Dim.Render(" · ") + s.Bad.Render(fmt.Sprintf("failed %d", p.WritesFailed))
	}
	down := s.OK
	if r.Downtime > 0 {
		down = s.Bad
	}
	writes += s.Dim.Render(" · reads failing for ") + down.Render(shortDur(r.Downtime))
	if t := p.Totals; t.RefusedWrites > 0 {
		writes += s.Dim.Render(" · writes refused for ") + s.Warn.Render(fmt.Sprintf("%.1fs", t.RefusedFor.Seconds()))
	}
	lines = append(lines, writes)
	return fitLines(lines, w, n)
}

// usersHeight is how many rows usersLines needs for the whole panel.
func (m *Model) usersHeight() int {
	if m.run.readings == nil {
		return 2
	}
	return 4
}

// usersSummary is the panel on one line, the side first since the narrowest screens cut the end:
// "Users  on BACKUP · 100.0% ok · p99 11ms · 5 writes refused · via 10.0.2.11:8080".
func (m *Model) usersSummary(w int) string {
	s := m.styles
	line := s.Title.Render("Users ")
	r := m.run.readings
	if r == nil {
		return fit(line+s.Dim.Render(" no readings yet"), w)
	}
	p := r.Probe
	side := m.cfg.Inventory.SideOfAddr(p.LastUpstream)
	if side != "" {
		line += s.Dim.Render(" on ") + s.Bold.Render(strings.ToUpper(string(side))) + s.Dim.Render(" ·")
	}
	if p.Requests == 0 {
		line += " " + s.Dim.Render("no requests yet")
	} else {
		style := s.OK
		if p.Failed > 0 {
			style = s.Bad
		}
		line += " " + style.Render(fmt.Sprintf("%.1f%% ok", p.Success())) + s.Dim.Render(" · p99 ") + ms(p.P99)
	}
	if p.WritesRefused > 0 {
		line += s.Dim.Render(" · ") + s.Warn.Render(fmt.Sprintf("%d writes refused", p.WritesRefused))
	} else {
		line += s.Dim.Render(" · 0 writes refused")
	}
	if p.WritesFailed > 0 {
		line += s.Dim.Render(" · ") + s.Bad.Render(fmt.Sprintf("%d writes failed", p.WritesFailed))
	}
	if p.LastUpstream != "" {
		line += s.Dim.Render(" · via " + p.LastUpstream)
	}
	return fit(line, w)
}

// success is the probe's success rate, or "no requests yet" (not a green 100%) when there were none.
func (m *Model) success(p steps.ProbeStats) string {
	s := m.styles
	if p.Requests == 0 {
		return s.Dim.Render("no requests yet")
	}
	style := s.OK
	if p.Failed > 0 {
		style = s.Bad
	}
	return s.Dim.Render("success ") + style.Render(fmt.Sprintf("%.1f%%", p.Success()))
}

// ms renders a latency: "0.4ms", "48ms", "1.2s".
func ms(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return shortDur(d)
}

func minOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	m := vs[0]
	for _, v := range vs {
		m = min(m, v)
	}
	return m
}
