package ui

import (
	"fmt"
	"strings"
	"time"
)

// usersLines draws what users see through the balancer: probe success, latency, which upstream
// served the newest request and on which side, the application version, refused writes, and a
// sparkline of success.
func (m *Model) usersLines(w, maxH int) []string {
	s := m.styles
	lines := []string{s.Title.Render("Users") + s.Dim.Render("  probes through the balancer")}
	r := m.run.readings
	if r == nil {
		return fitLines(append(lines, s.Dim.Render("  no readings yet")), w, maxH)
	}
	p := r.Probe
	succ := p.Success()
	sstyle := s.OK
	if p.Failed > 0 {
		sstyle = s.Bad
	}
	head := fmt.Sprintf("  %s %s · p50 %s · p99 %s · %d req/%s", "success", sstyle.Render(fmt.Sprintf("%.1f%%", succ)),
		ms(p.P50), ms(p.P99), p.Requests, shortDur(p.Window))
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
	writes += s.Dim.Render(" · downtime so far ") + down.Render(shortDur(r.Downtime))
	lines = append(lines, writes)
	return fitLines(lines, w, maxH)
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
