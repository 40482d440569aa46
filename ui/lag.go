package ui

import (
	"fmt"
	"strings"

	"github.com/pitstop-ops/pitstop/steps"
)

// lagLines draws the replication links in n rows. With room for all, each link takes two lines: its
// state, replay backlog and catch-up estimate; then the bytes behind at each stage, the time lag
// when it means something, and a sparkline of the replay backlog over the last minutes. With less,
// detail lines go first, then whole links, which a last line names ("+2 more links: …"); in one
// row it is a summary of every link.
func (m *Model) lagLines(w, n int) []string {
	if n <= 0 {
		return nil
	}
	s := m.styles
	r := m.run.readings
	if r == nil || len(r.Lags) == 0 {
		msg := "no readings yet"
		if r != nil {
			msg = "no replication links reported"
			if r.Err != "" {
				msg = "cannot read replication: " + clean(r.Err)
			}
		}
		if n == 1 {
			return []string{fit(s.Title.Render("Sync lag ")+s.Dim.Render(" "+msg), w)}
		}
		return fitLines([]string{s.Title.Render("Sync lag"), s.Dim.Render("  " + msg)}, w, n)
	}
	links := r.Lags
	heads := n - 1 // rows under the title
	switch {
	case n == 1:
		return []string{m.lagSummary(w)}
	case heads < len(links) && heads < 2:
		return []string{s.Title.Render("Sync lag"), fit("  "+m.lagCompact(w-2), w)}
	}
	linkW := 0
	for _, l := range links {
		linkW = max(linkW, len([]rune(l.Link())))
	}
	linkW = min(linkW, 30)
	lines := append(make([]string, 0, n), s.Title.Render("Sync lag"))
	if heads < len(links) {
		shown := heads - 1
		for _, l := range links[:shown] {
			lines = append(lines, m.lagHead(l, linkW))
		}
		var names []string
		for _, l := range links[shown:] {
			names = append(names, s.Dim.Render(l.Link()+" ")+m.lagWord(l))
		}
		lines = append(lines, s.Dim.Render(fmt.Sprintf("  +%d more links: ", len(names)))+strings.Join(names, s.Dim.Render(", ")))
		return fitLines(lines, w, n)
	}
	details := heads - len(links) // links that also get their detail line, first ones first
	for i, l := range links {
		lines = append(lines, m.lagHead(l, linkW))
		if i < details {
			lines = append(lines, m.lagDetail(l, w))
		}
	}
	return fitLines(lines, w, n)
}

// lagHeight is how many rows lagLines needs to show everything.
func (m *Model) lagHeight() int {
	if r := m.run.readings; r != nil && len(r.Lags) > 0 {
		return 1 + 2*len(r.Lags)
	}
	return 2
}

// lagSummary is the panel on one line: its title, then every link as lagCompact has it.
func (m *Model) lagSummary(w int) string {
	title := m.styles.Title.Render("Sync lag") + "  "
	return fit(title+m.lagCompact(w-width(title)), w)
}

// lagCompact is every link with its state or backlog in words ("NOT STREAMING", "PAUSED 33.0 KiB",
// "4.1 KiB", "caught up"). When full names do not fit in w cells, links from the same source share
// it: "db-prod→ db-backup 4.0 KiB, cdn-1 caught up".
func (m *Model) lagCompact(w int) string {
	s := m.styles
	links := m.run.readings.Lags
	parts := make([]string, 0, len(links))
	for _, l := range links {
		parts = append(parts, s.Bold.Render(l.Link())+" "+m.lagWord(l))
	}
	line := strings.Join(parts, s.Dim.Render(" · "))
	if width(line) <= w {
		return line
	}
	var groups []string
	for i := 0; i < len(links); {
		from := links[i].From
		var tos []string
		for ; i < len(links) && links[i].From == from; i++ {
			tos = append(tos, s.Bold.Render(links[i].To)+" "+m.lagWord(links[i]))
		}
		groups = append(groups, s.Bold.Render(from+"→ ")+strings.Join(tos, s.Dim.Render(", ")))
	}
	return strings.Join(groups, s.Dim.Render(" · "))
}

// lagWord says in a word or two how a link is doing.
func (m *Model) lagWord(l steps.Lag) string {
	s := m.styles
	kind := ""
	if l.Kind == steps.Logical {
		kind = s.Dim.Render("logical ")
	}
	switch {
	case l.Err != "":
		return kind + s.Bad.Render("ERROR")
	case !l.Streaming:
		return kind + s.Bad.Render("NOT STREAMING")
	case l.Paused:
		return kind + s.Warn.Render("PAUSED "+humanBytes(l.Replay))
	case l.Replay == 0:
		return kind + s.OK.Render("caught up")
	}
	return kind + humanBytes(l.Replay)
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
