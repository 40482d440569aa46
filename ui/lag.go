package ui

import (
	"github.com/pitstop-ops/pitstop/steps"
)

// lagLines draws every replication link in two lines: its state, replay backlog and catch-up
// estimate; then the bytes behind at each stage, the time lag when it means something, and a
// sparkline of the replay backlog over the last minutes.
func (m *Model) lagLines(w, maxH int) []string {
	s := m.styles
	lines := []string{s.Title.Render("Sync lag")}
	r := m.run.readings
	if r == nil || len(r.Lags) == 0 {
		msg := "no readings yet"
		if r != nil {
			msg = "no replication links reported"
			if r.Err != "" {
				msg = "cannot read replication: " + clean(r.Err)
			}
		}
		return fitLines(append(lines, s.Dim.Render("  "+msg)), w, maxH)
	}
	linkW := 0
	for _, l := range r.Lags {
		linkW = max(linkW, len([]rune(l.Link())))
	}
	linkW = min(linkW, 30)
	for _, l := range r.Lags {
		lines = append(lines, m.lagHead(l, linkW), m.lagDetail(l, w))
	}
	return fitLines(lines, w, maxH)
}

func (m *Model) lagHead(l steps.Lag, linkW int) string {
	s := m.styles
	state := s.OK.Render("streaming")
	switch {
	case l.Err != "":
		state = s.Bad.Render("ERROR " + clean(l.Err))
	case !l.Streaming:
		state = s.Bad.Render("NOT STREAMING")
	case l.Paused:
		state = s.Warn.Render("replay PAUSED")
	}
	kind := "phys"
	if l.Kind == steps.Logical {
		kind = "logical"
	}
	eta := s.Dim.Render("not shrinking")
	switch {
	case l.Replay == 0 && l.Streaming:
		eta = s.OK.Render("caught up")
	case l.Paused:
		eta = s.Dim.Render("— while paused")
	default:
		if d, ok := m.run.lags[l.Link()].eta(); ok {
			eta = "catch-up ~" + shortDur(d)
		}
	}
	return "  " + s.Bold.Render(pad(l.Link(), linkW)) + " " + s.Dim.Render(kind) + " " + state +
		s.Dim.Render(" · replay ") + s.Bold.Render(humanBytes(l.Replay)) + s.Dim.Render(" · ") + eta
}

func (m *Model) lagDetail(l steps.Lag, w int) string {
	s := m.styles
	text := "    sent " + humanBytes(l.Sent) + " · write " + humanBytes(l.Write) + " · flush " + humanBytes(l.Flush)
	if l.HasDelay {
		text += " · delay " + shortDur(l.Delay)
	}
	line := s.Dim.Render(text)
	if room := w - len([]rune(text)) - 2; room >= 8 {
		hist := m.run.lags[l.Link()]
		if hist != nil {
			line += "  " + s.Spark.Render(sparkline(hist.v, min(room, 60), 0, 0))
		}
	}
	return line
}
