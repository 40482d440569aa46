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
	lw := m.planWidth(w)
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
		rw := w - lw - 2
		// Sync lag and users share rows; each draws its one-line summary when they get one row.
		both := func(n int) []string { return beside(m.lagLines(lw, n), m.usersLines(rw, n), lw, 2) }
		return m.stack(w, h, panel{}, panel{rows: max(m.lagHeight(), m.usersHeight()), draw: both}, panel{})
	}
	return m.stack(w, h, panel{}, m.lagPanel(w), m.usersPanel(w))
}

// stackedLines is the one-column layout for narrow terminals: the plan shows as a window around the
// current step.
func (m *Model) stackedLines(w, h int) []string {
	plan := panel{rows: m.phasesHeight(), draw: func(n int) []string { return m.phasesLines(w, n) }}
	return m.stack(w, h, plan, m.lagPanel(w), m.usersPanel(w))
}

// panel is a block of the stack: the rows it would fill, and how to draw it in n rows.
type panel struct {
	rows int
	draw func(n int) []string
}

func (m *Model) lagPanel(w int) panel {
	return panel{rows: m.lagHeight(), draw: func(n int) []string { return m.lagLines(w, n) }}
}

func (m *Model) usersPanel(w int) panel {
	return panel{rows: m.usersHeight(), draw: func(n int) []string { return m.usersLines(w, n) }}
}

// Blocks of the stack, in drawing order.
const (
	bGate = iota
	bTopo
	bPlan
	bLag
	bUsers
	bOutput
	nBlocks
)

// stack shares h rows among the gate, the topology, the plan (when plan.rows > 0), sync lag, users
// and the output. Rows go first to what must always show: the gate's essentials (all of a question
// or of the end of the plan, whose state left behind is the most important text then; for a
// waiting gate everything but most of its change list), the topology, a one-line summary each of
// sync lag and users, and the current step. Then the gate gets the rest of its rows, then the
// panels grow to their full size, and the output takes what remains.
func (m *Model) stack(w, h int, plan, lag, users panel) []string {
	gateFull := len(m.gateLines(w, 1000))
	gateMin := 0
	if gateFull > 0 {
		gateFull++ // a blank row sets the question apart
		gateMin = min(m.gateMinRows(w, gateFull-1)+1, h)
	}
	topoH := m.topologyHeight(w)
	open := m.run.gate != nil || m.dialog != nil || m.run.finished
	outMin := grant{bOutput, outputMinRows + 1, true}
	grants := []grant{
		{bGate, gateMin, true},
		{bTopo, min(topoH, 8), true},
		{bLag, min(lag.rows, 1), true},
		{bUsers, min(users.rows, 1), true},
		{bPlan, min(plan.rows, 2), true},
	}
	if !open {
		grants = append(grants, outMin)
	}
	grants = append(grants,
		grant{bGate, min(max(gateMin, h*6/10), gateFull), false},
		grant{bTopo, topoH, false},
		grant{bGate, gateFull, false},
		grant{bPlan, min(plan.rows, 5), false},
		grant{bLag, lag.rows, false},
		grant{bUsers, users.rows, true}, // its summary line says more than a cut panel
	)
	if open {
		grants = append(grants, outMin)
	}
	outWant := 2 * outputMinRows
	if open {
		outWant = 0
	}
	grants = append(grants,
		grant{bOutput, outWant, false},
		grant{bPlan, min(plan.rows, 9), false},
		grant{bPlan, plan.rows, false},
		grant{bOutput, h, false},
	)
	sizes := allocate(h, nBlocks, grants)
	m.outputShown = sizes[bOutput] > outputMinRows

	out := make([]string, 0, h)
	if n := sizes[bGate]; n > 0 {
		out = append(out, m.gateLines(w, n-1)...)
		out = append(out, "")
	}
	if n := sizes[bTopo]; n > 0 {
		out = append(out, m.topologyLines(w, n)...)
	}
	for _, b := range []struct {
		p panel
		n int
	}{{plan, sizes[bPlan]}, {lag, sizes[bLag]}, {users, sizes[bUsers]}} {
		if b.n > 0 {
			out = append(out, b.p.draw(b.n)...)
		}
	}
	if n := sizes[bOutput]; n > outputMinRows {
		out = append(out, m.outputTitle())
		out = append(out, m.out.view(w, n-1)...)
	}
	return out[:min(len(out), h)] // every panel fits its lines to w
}

// fullOutputLines shows the output on the whole body, under a short reminder of any waiting gate;
// an open question or the end of the plan keeps every line it needs.
func (m *Model) fullOutputLines(w, h int) []string {
	n := min(4, h/3)
	if m.dialog != nil || m.run.finished {
		n = max(n, h-outputMinRows-1)
	}
	out := m.gateLines(w, n)
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

// grant asks for a block to grow to rows. A whole grant is given entirely or not at all; a block
// whose first grant cannot be given gets nothing, so no panel is drawn smaller than its minimum.
type grant struct {
	block, rows int
	whole       bool
}

// allocate shares total rows among n blocks by going through grants in order.
func allocate(total, n int, grants []grant) []int {
	got := make([]int, n)
	seen := make([]bool, n)
	left := total
	for _, g := range grants {
		first := !seen[g.block]
		if got[g.block] == 0 && !first {
			continue // its minimum did not fit
		}
		extra := g.rows - got[g.block]
		if extra <= 0 {
			continue
		}
		seen[g.block] = true
		if extra > left {
			if g.whole {
				continue
			}
			extra = left
		}
		got[g.block] += extra
		left -= extra
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

// rightMin is the least the right column keeps when the plan column grows for long step names: as
// much as the one-column layout of an 80-column terminal has.
const rightMin = 80

// planWidth is the plan column's width at w cells: 30% of the screen (28 to 56 cells), or more on a
// wide screen when a step's name needs it, as long as the right column keeps rightMin cells.
func (m *Model) planWidth(w int) int {
	lw := min(max(w*30/100, 28), 56)
	need := 0
	for _, st := range m.cfg.Plan.Steps() {
		need = max(need, width(orText(st.Title, st.ID)))
	}
	need += 3 + 1 + len("rolled back") // "›◆ " before, a space and the widest duration column after
	return max(lw, min(need, w-3-rightMin))
}
