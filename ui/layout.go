package ui

import (
	"strings"
)

// Layout thresholds, in cells.
const (
	twoColumnsMin = 100 // below, panels stack in one column
	sideBySideMin = 110 // from here, sync lag and users share a row
	outputMinRows = 3   // the output pane is hidden rather than drawn smaller than this
)

// render draws the whole screen in exactly m.width × m.height cells: no line is wider than the
// terminal, so nothing wraps.
func (m *Model) render() string {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	footer := m.footerLines(w, h)
	bodyH := h - 1 - len(footer)
	lines := make([]string, 0, h)
	lines = append(lines, m.headerView(w))
	body := m.bodyLines(w, bodyH)
	for len(body) < bodyH {
		body = append(body, "")
	}
	lines = append(lines, body...)
	lines = append(lines, footer...)
	return strings.Join(fitLines(lines, w, h), "\n")
}

// bodyLines lays out the panels between header and footer in w×h cells.
func (m *Model) bodyLines(w, h int) []string {
	if h <= 0 {
		return nil
	}
	if m.fullOutput {
		return m.fullOutputLines(w, h)
	}
	if w < twoColumnsMin {
		return m.stackedLines(w, h)
	}
	lw := min(max(w*30/100, 28), 56)
	rw := w - lw - 3
	left := m.phasesLines(lw, h)
	right := m.rightColumn(rw, h)
	sep := m.styles.Rule.Render(" │ ")
	out := make([]string, h)
	for i := range out {
		var l, r string
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out[i] = pad(l, lw) + sep + r // the panels already fit their lines to rw
	}
	return out
}

// rightColumn stacks, in order of urgency: the gate (or question, or end of plan), the topology, sync
// lag and users, and the output in whatever rows remain.
func (m *Model) rightColumn(w, h int) []string {
	if w >= sideBySideMin {
		lw := (w - 2) / 2
		both := beside(m.lagLines(lw, 1000), m.usersLines(w-lw-2, 1000), lw, 2)
		return m.stack(w, h, nil, both, nil)
	}
	return m.stack(w, h, nil, m.lagLines(w, 1000), m.usersLines(w, 1000))
}

// stackedLines is the one-column layout for narrow terminals: the plan shows as a window around the
// current step.
func (m *Model) stackedLines(w, h int) []string {
	return m.stack(w, h, m.phasesLines(w, 1000), m.lagLines(w, 1000), m.usersLines(w, 1000))
}

// stack shares h rows among the gate, the topology, the plan (when phases is not nil), sync lag,
// users and the output. Every block first gets its minimum, in that order, then what it prefers,
// then the output takes the rest; a block that cannot get its minimum is left out. The gate may
// claim up to 60% of the rows so that what confirming changes stays in view.
func (m *Model) stack(w, h int, phases, lag, users []string) []string {
	gate := m.gateLines(w, 1000)
	gateMin := min(len(gate), max(m.gateMinRows(w, len(gate)), h*6/10))
	if len(gate) > 0 {
		gate = append(gate, "") // a blank row sets the question apart
		gateMin++
	}
	topoH := m.topologyHeight(w)
	outWant := 2 * outputMinRows
	if m.run.gate != nil || m.dialog != nil {
		outWant = 0
	}
	sizes := allocate(h, []want{
		{min: gateMin, pref: len(gate), max: len(gate)},
		{min: min(topoH, 8), pref: topoH, max: topoH},
		{min: min(len(phases), 4), pref: min(len(phases), 9), max: len(phases)},
		{min: min(len(lag), 3), pref: len(lag), max: len(lag)},
		{min: len(users), pref: len(users), max: len(users)},
		{min: outputMinRows + 1, pref: outWant, max: h},
	})
	var out []string
	if n := sizes[0]; n > 0 {
		if n < len(gate) {
			gate = append(m.gateLines(w, n-1), "")
		}
		out = append(out, gate[:min(n, len(gate))]...)
	}
	if n := sizes[1]; n > 0 {
		out = append(out, m.topologyLines(w, n)...)
	}
	if n := sizes[2]; n > 0 {
		out = append(out, m.phasesLines(w, n)...)
	}
	out = append(out, lag[:sizes[3]]...)
	out = append(out, users[:sizes[4]]...)
	if n := sizes[5]; n > outputMinRows {
		out = append(out, m.outputTitle())
		out = append(out, m.out.view(w, n-1)...)
	}
	return out[:min(len(out), h)] // every panel fits its lines to w
}

// fullOutputLines shows the output on the whole body, under a short reminder of any waiting gate.
func (m *Model) fullOutputLines(w, h int) []string {
	out := m.gateLines(w, min(4, h/3))
	out = append(out, m.outputTitle())
	return append(out, m.out.view(w, h-len(out))...)
}

func (m *Model) outputTitle() string {
	s := m.styles
	hint := "  l: full screen"
	if m.fullOutput {
		hint = "  l/esc: back · ↑↓ pgup pgdn: scroll · G: follow"
	}
	if !m.out.follow {
		hint += " · " + "scrolled: G follows again"
	}
	return s.Title.Render("Output") + s.Dim.Render(hint)
}

// want is one block's claim on rows.
type want struct{ min, pref, max int }

// allocate shares total rows among blocks in priority order: first each block's minimum (while rows
// last), then up to each block's preference, then up to its maximum. A block that cannot get its
// minimum gets nothing.
func allocate(total int, blocks []want) []int {
	got := make([]int, len(blocks))
	left := total
	for i, b := range blocks {
		if n := min(b.min, b.max); n <= left {
			got[i] = n
			left -= n
		}
	}
	for _, limit := range []func(want) int{func(b want) int { return b.pref }, func(b want) int { return b.max }} {
		for i, b := range blocks {
			if got[i] == 0 && b.min > 0 {
				continue
			}
			extra := min(max(limit(b)-got[i], 0), left)
			got[i] += extra
			left -= extra
		}
	}
	return got
}

// beside puts two blocks of lines next to each other, the left one padded to lw cells.
func beside(left, right []string, lw, gap int) []string {
	n := max(len(left), len(right))
	out := make([]string, n)
	for i := range n {
		var l, r string
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out[i] = pad(l, lw) + strings.Repeat(" ", gap) + r
	}
	return out
}
