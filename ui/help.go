package ui

import (
	"strings"
)

// footerLines draws the key help (short, or every key on ?) and, when there is room, a status line
// with the newest notice and the journal's path.
func (m *Model) footerLines(w, h int) []string {
	var lines []string
	if m.showHelp {
		lines = strings.Split(m.help.View(m.keys), "\n")
		lines = append([]string{m.styles.Title.Render("Keys") + m.styles.Dim.Render("  (? or esc closes)")}, lines...)
	} else {
		lines = []string{m.help.View(m.keys)}
	}
	if h >= 12 {
		lines = append(lines, m.statusLine(w))
	}
	return fitLines(lines, w, max(1, h-2))
}

// statusLine shows the newest notice on the left and the journal's path on the right.
func (m *Model) statusLine(w int) string {
	s := m.styles
	left := ""
	if r := m.run; r.notice != "" {
		left = s.Accent.Render("• ") + s.Normal.Render(clean(r.notice))
	}
	if r := m.run.readings; r != nil && r.Err != "" {
		left = s.Warn.Render("! readings: "+clean(r.Err)) + "  " + left
	}
	right := ""
	if m.cfg.Journal != "" {
		right = s.Dim.Render("journal " + m.cfg.Journal)
	}
	if right == "" {
		return fit(left, w)
	}
	lw := w - len([]rune(m.cfg.Journal)) - 10
	return spread(fit(left, max(lw, 0)), right, w)
}
