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
	case m.run.rolling != nil:
		lines = m.rollingLines(w, maxH)
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

// gateMinRows is how few rows the gate can do with: everything but its change list, of which stay
// the lines that are the change itself in a diff (a switch's server lines) and a row counting the
// rest — at least one line and the count.
func (m *Model) gateMinRows(w, full int) int {
	if m.run.rolling != nil && m.dialog == nil {
		return min(full, 6) // the banner, the newest proof and that keys are off; the plan keeps its row
	}
	if m.dialog != nil || m.run.finished || m.run.gate == nil || len(m.run.gate.Changes) == 0 {
		return full
	}
	changes := m.run.gate.Changes
	keep := 1
	if n := diffChanged(changes); n > 0 && m.run.gate.Kind == steps.GateConfirm {
		keep = n // a change still to confirm; a rolled-back gate's redo was confirmed once already
	}
	return full - (len(changes) + 1) + min(keep+1, len(changes)+1)
}

// diffChanged counts a diff's changed lines that are not comments.
func diffChanged(changes []string) int {
	n := 0
	for _, c := range byImportance(changes) {
		if c.rank == 0 {
			n++
		}
	}
	return n
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
	facts := []string{}
	if n := len(sum.SkippedChecks); n > 0 && r.finalStatus == steps.StatusDone {
		facts = append(facts, s.Warn.Render(fmt.Sprintf("with %d skipped check%s", n, map[bool]string{true: "", false: "s"}[n == 1])))
	}
	facts = append(facts, s.Bold.Render("total "+shortDur(sum.Elapsed)))
	// Failed reads, refused writes (with how long) and failed writes apart: never a bare "0s
	// downtime" while writes were refused.
	users := sum.Users
	if users == (steps.ProbeTotals{}) {
		users = r.tally.Totals // a summary without the counts: the readings' own
	}
	for _, f := range strings.Split(users.UsersSaw(), "; ") {
		facts = append(facts, s.Bold.Render(f))
	}
	facts = append(facts, s.Dim.Render("traffic on ")+s.Bold.Render(strings.ToUpper(orText(string(sum.Live), "?"))))
	bw := width(banner) + 1
	var head []string
	for i, l := range flow(facts, s.Dim.Render(" · "), w-bw) {
		lead := strings.Repeat(" ", bw)
		if i == 0 {
			lead = banner + " "
		}
		head = append(head, lead+l)
	}
	var tally []string
	// What users saw is in the banner (failed reads, refused writes and for how long, failed
	// writes): the tally lists only what went off the plan's straight path.
	var happened []string
	for _, l := range r.tally.Lines(m.titleOf) {
		if !strings.HasPrefix(l, "users: ") {
			happened = append(happened, l)
		}
	}
	heading := "What happened:"
	for _, l := range bulletLines(heading, happened, w) {
		tally = append(tally, s.Normal.Render(strings.TrimPrefix(l, "  ")))
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
	total := func() int { return len(head) + len(tally) + len(state) + len(next) + len(errLines) + len(quit) }
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
	// What happened gives way before the state things are left in.
	tally = cutLines(tally, max(0, maxH-len(head)-len(errLines)-min(len(state), 2)), w)
	state = cutLines(state, maxH-len(head)-len(tally)-len(errLines), w)
	lines := append(head, tally...)
	lines = append(lines, state...)
	if len(head)+len(tally)+len(state)+len(next)+len(errLines) <= maxH {
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
	case steps.GateFinish:
		kind = s.Warn.Render("FINISH?")
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
		for _, l := range wrap(m.pointAtOutput(clean(g.Reason)), w-2, 3) {
			head = append(head, "  "+style.Render(l))
		}
	}
	if g.Declined {
		for _, l := range wrap(m.declinedLine(g), w-2, 2) {
			head = append(head, "  "+s.Warn.Render(l))
		}
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

	room := maxH - len(head) - len(conds) - len(keys)
	changes := m.changeLines(g.Changes, room)
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
	shared := false // some keys are off for the reason all decisions are (k.idle): said once, at the end
	for _, b := range []struct {
		kind steps.DecisionKind
		keys string
		desc string
		i    int
	}{
		{steps.Confirm, "y/enter", k.Confirm.Help().Desc, kConfirm},
		{steps.Decline, "n", k.Decline.Help().Desc, kDecline},
		{steps.Retry, "r", k.Retry.Help().Desc, kRetry},
		{steps.Skip, "s", "skip", kSkip},
		{steps.Rollback, "R", "roll back", kRollback},
		{steps.Abort, "a", "abort", kAbort},
	} {
		if !m.run.gate.Allows(b.kind) {
			continue
		}
		on := k.decisions()[b.i].Enabled()
		switch why := k.why[b.i]; {
		case on:
			parts = append(parts, s.Key.Render("["+b.keys+"]")+" "+b.desc)
		case k.idle != "" && why == k.idle:
			// Off while the engine has not answered: the key's own words, not "confirm (…)", which
			// reads as if it had been confirmed.
			shared = true
			parts = append(parts, s.Dim.Render("["+b.keys+"] "+strings.TrimSuffix(b.desc, " ("+why+")")))
		default:
			parts = append(parts, s.Dim.Render("["+b.keys+"] "+b.desc))
		}
	}
	if shared {
		parts = append(parts, s.Dim.Render("— keys off: "+k.idle))
	}
	var lines []string
	for _, l := range flow(parts, s.Dim.Render(" · "), w) {
		lines = append(lines, "  "+l)
	}
	return lines
}

// changeLines draws what confirming will change in at most room rows. When they do not all fit, the
// lines that are the change itself come first — a diff's changed lines that are not comments (the
// server lines of a switch), then the commands — and the rest (changed comments, unchanged context)
// collapse into one counted row; the heading goes before the last changed line does.
func (m *Model) changeLines(changes []string, room int) []string {
	s := m.styles
	if len(changes) == 0 {
		return nil
	}
	heading := s.Dim.Render("  confirming will change:")
	if room >= len(changes)+1 {
		out := []string{heading}
		for _, c := range changes {
			out = append(out, "    "+m.changeLine(clean(c)))
		}
		return out
	}
	if room < 2 {
		return nil
	}
	ordered := byImportance(changes)
	if k := diffChanged(changes); k > room-1 {
		// Not every changed server line fits: a part of the change would read as the whole. Say how
		// many lines change instead.
		return []string{s.Dim.Render(fmt.Sprintf("  confirming will change %d server lines and %d more: pitstop plan lists them", k, len(changes)-k))}
	}
	var out []string
	n := room - 1 // the last row counts what is hidden
	headed := n >= 2 && n > diffChanged(changes)
	if headed {
		out = append(out, heading) // the heading goes before a changed line would
		n--
	}
	for _, c := range ordered[:n] {
		out = append(out, "    "+m.changeLine(clean(c.text)))
	}
	hidden := ordered[n:]
	what := "lines"
	if !hidden[0].main {
		what = "comment and unchanged lines"
	}
	if !headed {
		return append(out, s.Dim.Render(fmt.Sprintf("  ↑ what confirming will change; %d more %s: pitstop plan lists them", len(hidden), what)))
	}
	return append(out, s.Dim.Render(fmt.Sprintf("    … %d more %s (pitstop plan lists them)", len(hidden), what)))
}

// change is one line of a gate's change list with whether it is the change itself.
type change struct {
	text string
	main bool
	rank int
}

// byImportance orders change lines for a short screen: changed lines that are not comments, then
// commands ("then lb: sudo nginx -t", "host: command"), then changed comments, then unchanged
// context; each group keeps its order.
func byImportance(lines []string) []change {
	rank := func(l string) int {
		body := strings.TrimSpace(strings.TrimLeft(l, "+- "))
		switch {
		case strings.HasPrefix(l, "  "):
			return 3 // unchanged context of a diff
		case strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-"):
			if strings.HasPrefix(body, "#") || body == "" {
				return 2
			}
			return 0
		}
		return 1
	}
	var out []change
	for r := 0; r <= 3; r++ {
		for _, l := range lines {
			if rank(l) == r {
				out = append(out, change{text: l, main: r <= 1, rank: r})
			}
		}
	}
	return out
}

// pointAtOutput rewrites "read the output … above" for where the output is: below in the full-screen
// output, behind l when the cockpit has no room to show it.
func (m *Model) pointAtOutput(reason string) string {
	if !strings.Contains(reason, " above") {
		return reason
	}
	switch {
	case m.fullOutput:
		return strings.Replace(reason, " above", " below", 1)
	case !m.outputShown:
		return strings.Replace(reason, " above", " (press l to show it)", 1)
	}
	return strings.Replace(reason, " above", " below", 1)
}

// declinedLine says what declining did (nothing; the gate stays), how often, and what can be done.
func (m *Model) declinedLine(g *steps.GateState) string {
	n := 0
	for _, c := range m.run.tally.Declined {
		if c.StepID == g.StepID {
			n = c.N
		}
	}
	times := ""
	if n > 1 {
		times = fmt.Sprintf(" %d times", n)
	}
	var can []string
	for _, k := range []struct {
		d    steps.DecisionKind
		what string
	}{{steps.Confirm, "confirm (y)"}, {steps.Skip, "skip (s)"}, {steps.Abort, "abort (a)"}} {
		if g.Allows(k.d) {
			can = append(can, k.what)
		}
	}
	return "declined" + times + ": nothing changed; the plan waits here until you " + orList(can)
}

// orList joins items as "a, b or c".
func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// titleOf is a step's title for people, its ID when the plan has none.
func (m *Model) titleOf(id string) string { return orText(m.stepTitle[id], id) }
