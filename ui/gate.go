package ui

import (
	"fmt"
	"strings"

	"github.com/pitstop-ops/pitstop/steps"
)

// gateLines draws what needs the operator now, most urgent first: an open question, the end of the
// plan, or the gate the engine waits at. It returns nothing when the engine just runs.
func (m *Model) gateLines(w, maxH int) []string {
	var lines []string
	switch {
	case m.dialog != nil:
		lines = m.dialogLines(w, maxH)
	case m.run.finished:
		lines = m.finishedLines(w, maxH)
	case m.run.gate != nil:
		lines = m.waitingLines(w, maxH)
	case m.run.engineDone:
		s := m.styles
		lines = []string{s.Failed.Render(" ENGINE STOPPED "), s.Bad.Render(orText(m.run.engineErr, "the engine returned without finishing the plan")), s.Dim.Render("press q to quit")}
	}
	return fitLines(lines, w, maxH)
}

// gateMinRows is how few rows the gate can do with: everything but its change list, of which two
// rows stay (the first line and how many more).
func (m *Model) gateMinRows(w, full int) int {
	if m.dialog != nil || m.run.finished || m.run.gate == nil || len(m.run.gate.Changes) == 0 {
		return full
	}
	return full - (len(m.run.gate.Changes) + 1) + 2
}

// finishedLines says plainly, in at most maxH lines, that the plan ended, how long it took, what
// users saw and the state everything is left in, one item a line. When rows are short the hint to
// quit goes first, then the error and the facts shrink to a line each, and only then is the state
// cut.
func (m *Model) finishedLines(w, maxH int) []string {
	s := m.styles
	r := m.run
	banner := s.Finished.Render(" PLAN FINISHED ")
	switch r.finalStatus {
	case steps.StatusDone:
	case steps.StatusAborted:
		banner = s.Failed.Render(" PLAN ABORTED ")
	default:
		banner = s.Failed.Render(" PLAN FAILED ")
	}
	sum := r.summary
	if sum == nil {
		sum = &steps.Summary{Elapsed: r.elapsed()}
		if r.readings != nil {
			sum.Downtime, sum.Live = r.readings.Downtime, r.readings.Live
		}
	}
	facts := []string{
		s.Bold.Render("total " + shortDur(sum.Elapsed)),
		s.Bold.Render("downtime seen " + shortDur(sum.Downtime)),
		s.Dim.Render("traffic on ") + s.Bold.Render(strings.ToUpper(orText(string(sum.Live), "?"))),
	}
	bw := width(banner) + 1
	var head []string
	for i, l := range flow(facts, s.Dim.Render(" · "), w-bw) {
		lead := strings.Repeat(" ", bw)
		if i == 0 {
			lead = banner + " "
		}
		head = append(head, lead+l)
	}
	var state []string
	if sum.State != "" {
		for _, l := range bulletLines("Left as:", strings.Split(clean(sum.State), "; "), w) {
			state = append(state, s.Normal.Render(strings.TrimPrefix(l, "  ")))
		}
	}
	var next []string
	if len(sum.Next) > 0 {
		for _, l := range bulletLines("What to do:", sum.Next, w) {
			next = append(next, s.Warn.Render(strings.TrimPrefix(l, "  ")))
		}
	}
	var errLines []string
	if r.finalErr != "" {
		for _, l := range wrap("Error: "+clean(r.finalErr), w, 3) {
			errLines = append(errLines, s.Bad.Render(l))
		}
	}
	quit := []string{s.Dim.Render("press q to quit")}
	if len(next) > 0 {
		quit = []string{s.Dim.Render("press q to quit (what to do is printed again after the screen closes)")}
	}
	total := func() int { return len(head) + len(state) + len(next) + len(errLines) + len(quit) }
	if total() > maxH && len(next) > 0 {
		// The steps are printed on the terminal when the cockpit closes; the state stays on screen.
		next = []string{s.Warn.Render(fit("  What to do: printed when you quit (q)", w))}
	}
	if total() > maxH {
		quit = nil
	}
	if total() > maxH && len(errLines) > 1 {
		errLines = []string{s.Bad.Render(fit("Error: "+clean(r.finalErr), w))}
	}
	if total() > maxH && len(head) > 1 {
		head = []string{fit(banner+" "+strings.Join(facts, s.Dim.Render(" · ")), w)}
	}
	state = cutLines(state, maxH-len(head)-len(errLines), w)
	lines := append(head, state...)
	if len(head)+len(state)+len(next)+len(errLines) <= maxH {
		lines = append(lines, next...)
	}
	lines = append(lines, errLines...)
	return append(lines, quit...)
}

// waitingLines draws the waiting gate: what confirming does and changes, each condition with its
// current value, and the keys that answer. Changes give way first when rows are short.
func (m *Model) waitingLines(w, maxH int) []string {
	s := m.styles
	g := m.run.gate
	var head []string
	kind := s.Warn.Render("GATE")
	switch g.Kind {
	case steps.GateFailed:
		kind = s.Failed.Render(" STEP FAILED ")
	case steps.GateRolledBack:
		kind = s.Warn.Render("ROLLED BACK")
	}
	for i, l := range wrap(clean(g.Prompt), w-width(kind)-1, 2) {
		if i == 0 {
			head = append(head, kind+" "+s.Prompt.Render(l))
		} else {
			head = append(head, strings.Repeat(" ", width(kind)+1)+s.Prompt.Render(l))
		}
	}
	if g.Reason != "" {
		style := s.Warn
		if g.Kind == steps.GateFailed {
			style = s.Bad
		}
		for _, l := range wrap(clean(g.Reason), w-2, 3) {
			head = append(head, "  "+style.Render(l))
		}
	}
	if g.Declined {
		head = append(head, "  "+s.Warn.Render("declined: the gate stays open until someone confirms or aborts"))
	}

	var conds []string
	for _, c := range g.Conditions {
		mark := s.Bad.Render("✗")
		if c.OK {
			mark = s.OK.Render("✓")
		}
		label, now := "  "+mark+" "+clean(c.Label), s.Dim.Render("now ")+s.Bold.Render(clean(c.Value))
		if one := label + s.Dim.Render(" — ") + now; width(one) <= w {
			conds = append(conds, one)
		} else {
			conds = append(conds, label, "      "+now)
		}
	}
	if !g.Deadline.IsZero() && !g.Ready {
		conds = append(conds, s.Dim.Render("    fails if not met within "+shortDur(g.Deadline.Sub(m.run.last))))
	}

	keys := m.gateKeys(w - 2)

	var changes []string
	if len(g.Changes) > 0 {
		changes = append(changes, s.Dim.Render("  confirming will change:"))
		for _, c := range g.Changes {
			changes = append(changes, "    "+m.changeLine(clean(c)))
		}
	}
	room := maxH - len(head) - len(conds) - len(keys)
	if room < len(changes) {
		// Keep the heading while there is room for it and one change; the last row counts the rest.
		first := 1
		if room >= 3 {
			first = 0
		}
		switch {
		case room >= 2:
			shown := changes[first : first+room-1]
			changes = append(shown, s.Dim.Render(fmt.Sprintf("    … %d more changed lines", len(g.Changes)-(room-2+first))))
		default:
			changes = nil
		}
	}
	lines := append(head, changes...)
	lines = append(lines, conds...)
	if keep := maxH - len(keys); len(lines) > keep {
		lines = lines[:max(keep, 0)]
	}
	return append(lines, keys...)
}

// changeLine colours a diff line: "+" added, "-" removed, anything else as it is.
func (m *Model) changeLine(c string) string {
	switch {
	case strings.HasPrefix(c, "+"):
		return m.styles.DiffAdd.Render(c)
	case strings.HasPrefix(c, "-"):
		return m.styles.DiffDel.Render(c)
	}
	return c
}

// gateKeys lists the keys that answer the gate, in lines of at most w cells; a key that exists here
// but cannot act yet says why.
func (m *Model) gateKeys(w int) []string {
	s := m.styles
	k := m.keys
	var parts []string
	for _, b := range []struct {
		kind steps.DecisionKind
		keys string
		desc string
		on   bool
	}{
		{steps.Confirm, "y/enter", k.Confirm.Help().Desc, k.Confirm.Enabled()},
		{steps.Decline, "n", k.Decline.Help().Desc, k.Decline.Enabled()},
		{steps.Retry, "r", k.Retry.Help().Desc, k.Retry.Enabled()},
		{steps.Skip, "s", "skip", k.Skip.Enabled()},
		{steps.Rollback, "R", "roll back", k.Rollback.Enabled()},
		{steps.Abort, "a", "abort", k.Abort.Enabled()},
	} {
		if !m.run.gate.Allows(b.kind) {
			continue
		}
		if b.on {
			parts = append(parts, s.Key.Render("["+b.keys+"]")+" "+b.desc)
		} else {
			parts = append(parts, s.Dim.Render("["+b.keys+"] "+b.desc))
		}
	}
	var lines []string
	for _, l := range flow(parts, s.Dim.Render(" · "), w) {
		lines = append(lines, "  "+l)
	}
	return lines
}
