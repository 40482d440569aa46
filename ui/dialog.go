package ui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/pitstop-ops/pitstop/steps"
)

// answer handles a key while a question is open: y/enter says yes; n, esc, q and ctrl+c say no
// (ctrl+c confirms the quit question instead, so pressing it twice quits as usual); anything else
// leaves the question open.
func (m *Model) answer(k tea.KeyPressMsg) tea.Cmd {
	d := m.dialog
	if d.phrase != "" {
		return m.answerTyped(k)
	}
	key := k.String()
	yes := key == "y" || key == "enter" || (d.kind == askQuit && key == "ctrl+c")
	no := key == "n" || key == "esc" || (d.kind != askQuit && (key == "q" || key == "ctrl+c"))
	switch {
	case no:
		m.dialog = nil
		if d.kind == askForceRollback {
			m.run.rbAsk, m.pending = "", nil
		}
		return nil
	case !yes:
		return nil
	}
	m.dialog = nil
	switch d.kind {
	case askSkip:
		return m.decideFor(steps.Skip, d.stepID, false, false)
	case askAbort:
		return m.decideFor(steps.Abort, m.gateStep(), false, false)
	case askForceRollback:
		m.run.rbAsk = ""
		return m.decideFor(steps.Rollback, d.stepID, true, false)
	case askQuit:
		if !m.run.inProgress() {
			return tea.Quit
		}
		return m.decideFor(steps.Abort, m.gateStep(), false, true)
	}
	return nil
}

// typePhrase returns the phrase a question asks to be typed, or "" when it asks for y/n.
func typePhrase(text string) string {
	if i := strings.LastIndex(text, steps.TypeToConfirm); i >= 0 {
		return strings.TrimSpace(text[i+len(steps.TypeToConfirm):])
	}
	return ""
}

// answerTyped handles a key while a question asks for a typed phrase: printable keys type, backspace
// erases, enter confirms only when the phrase matches exactly, esc and ctrl+c cancel. y and n type
// letters here: a typed confirmation is never one key.
func (m *Model) answerTyped(k tea.KeyPressMsg) tea.Cmd {
	d := m.dialog
	switch key := k.String(); key {
	case "esc", "ctrl+c":
		m.dialog = nil
		m.run.rbAsk, m.pending = "", nil
	case "backspace":
		if r := []rune(d.typed); len(r) > 0 {
			d.typed = string(r[:len(r)-1])
		}
	case "enter":
		if d.typed != d.phrase {
			return nil
		}
		m.dialog, m.run.rbAsk = nil, ""
		return m.send(steps.Decision{Kind: steps.Rollback, By: m.cfg.Operator, StepID: d.stepID, Force: true, Discard: d.typed}, false)
	case "space":
		d.typed += " "
	default:
		if t := k.Text; t != "" {
			d.typed += t
		}
	}
	return nil
}

// rollbackAsk is how the engine ends the text of EvRollbackAsk; the question says it once, first.
const rollbackAsk = "Roll back anyway?"

// dialogLines asks the open question in at most maxH lines: the question, the state things are left
// in (one item a line, never cut short while anything else can give way) and the keys that answer.
func (m *Model) dialogLines(w, maxH int) []string {
	s := m.styles
	d := m.dialog
	var q, heading, yes, no string
	var items []string
	switch d.kind {
	case askSkip:
		q = fmt.Sprintf("Skip step %q? It will not run and the plan moves on.", orText(m.stepTitle[d.stepID], d.stepID))
		yes, no = "skip it", "keep it"
	case askAbort:
		q = "ABORT the plan? " + m.abortEffect()
		heading, items = "Things stay as they are:", m.leftState()
		yes, no = "abort", "carry on"
	case askQuit:
		q = "Quit while the plan is in progress? Quitting sends ABORT to the engine. " + m.abortEffect()
		heading, items = "You leave:", m.leftState()
		yes, no = "abort and quit", "stay"
	case askForceRollback:
		why := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(d.text), rollbackAsk))
		q = rollbackAsk + " " + why
		yes, no = "roll back anyway (force)", "keep traffic where it is"
	}
	keys := "  " + s.Key.Render("[y]") + " " + yes + s.Dim.Render(" · ") + s.Key.Render("[n]") + " " + no
	if d.phrase != "" {
		return m.typedLines(w, maxH)
	}

	state := bulletLines(heading, items, w)
	// The question gives way first (down to one line), then the state is cut at its end.
	qn := max(1, maxH-len(state)-1)
	var lines []string
	for i, l := range wrap(q, w-2, qn) {
		lead := "  "
		if i == 0 {
			lead = "? "
		}
		lines = append(lines, s.Dialog.Render(lead+l))
	}
	for _, l := range cutLines(state, maxH-len(lines)-1, w) {
		lines = append(lines, s.Normal.Render(l))
	}
	return append(lines, keys)
}

// typedLines asks a question answered by typing a phrase: the phrase and the input line always show;
// the question's text gives way above them.
func (m *Model) typedLines(w, maxH int) []string {
	s, d := m.styles, m.dialog
	q := strings.TrimSpace(d.text)
	if i := strings.LastIndex(q, steps.TypeToConfirm); i >= 0 {
		q = strings.TrimSpace(q[:i])
	}
	phrase := indent(wrap(steps.TypeToConfirm+d.phrase, w-4, unlimited), "  ", "  ")
	match := "type it exactly"
	if d.typed == d.phrase {
		match = "matches"
	}
	input := "  > " + s.Key.Render(d.typed+"▏") + s.Dim.Render(" ("+match+")")
	keys := "  " + s.Key.Render("[enter]") + " roll back and discard" + s.Dim.Render(" · ") + s.Key.Render("[esc]") + " keep users where they are"
	var lines []string
	for i, l := range wrap(q, w-2, max(1, maxH-len(phrase)-2)) {
		lead := "  "
		if i == 0 {
			lead = "? "
		}
		lines = append(lines, s.Dialog.Render(lead+l))
	}
	for _, l := range phrase {
		lines = append(lines, s.Dialog.Render(l))
	}
	return append(lines, input, keys)
}

// bulletLines puts heading on a line of its own and each item under it, wrapped to w cells with
// nothing cut; a single item goes on the heading's line.
func bulletLines(heading string, items []string, w int) []string {
	if len(items) == 0 {
		return nil
	}
	if len(items) == 1 {
		first := heading + " " + items[0]
		if heading == "" {
			first = items[0]
		}
		return indent(wrap(first, w-2, unlimited), "  ", "  ")
	}
	var out []string
	if heading != "" {
		out = append(out, "  "+heading)
	}
	for _, it := range items {
		out = append(out, indent(wrap(it, w-6, unlimited), "    • ", "      ")...)
	}
	return out
}

// indent prefixes the first line with first and the others with rest.
func indent(lines []string, first, rest string) []string {
	for i := range lines {
		if i == 0 {
			lines[i] = first + lines[i]
		} else {
			lines[i] = rest + lines[i]
		}
	}
	return lines
}

// cutLines keeps at most n of lines; when some are dropped the last kept line says how many.
func cutLines(lines []string, n, w int) []string {
	if len(lines) <= n {
		return lines
	}
	if n <= 0 {
		return nil
	}
	out := append([]string(nil), lines[:n-1]...)
	return append(out, fit(fmt.Sprintf("    … %d more lines: make the terminal taller to read them", len(lines)-n+1), w))
}

// abortEffect says what an abort does now: stop at the waiting gate, or kill the running step.
func (m *Model) abortEffect() string {
	switch {
	case m.run.gate != nil:
		return "The engine stops at this gate."
	case !m.run.running():
		return "The engine stops before its next step."
	}
	id := m.run.current
	title := orText(m.stepTitle[id], id)
	st := m.cfg.Plan.Step(id)
	if st != nil && readOnly(st.Action) {
		return fmt.Sprintf("The running step %q is stopped now; it only reads, so nothing is left half-done.", title)
	}
	hosts := m.stepHosts(st)
	if len(hosts) == 0 {
		return fmt.Sprintf("The running step %q is stopped now and may be left half-done.", title)
	}
	return fmt.Sprintf("The running step %q is stopped now: its commands are killed and may be left half-done on %s.",
		title, strings.Join(hosts, ", "))
}

// readOnly reports whether an action changes nothing anywhere.
func readOnly(a steps.Action) bool {
	switch a {
	case steps.ActPreflight, steps.ActWaitSync, steps.ActVerifyTraffic, steps.ActVerifyDirect:
		return true
	}
	return false
}

// stepHosts lists the hosts a step changes things on.
func (m *Model) stepHosts(st *steps.Step) []string {
	if st == nil {
		return nil
	}
	hosts := append([]string(nil), st.Hosts...)
	for _, hc := range st.Exec {
		if !slices.Contains(hosts, hc.Host) {
			hosts = append(hosts, hc.Host)
		}
	}
	if len(hosts) == 0 && st.Action == steps.ActSwitch {
		hosts = append(hosts, m.cfg.Inventory.Balancer.Host)
	}
	return hosts
}

// leftState says, one item each, where the balancer and the databases are, from the newest readings.
func (m *Model) leftState() []string {
	r := m.run.readings
	if r == nil {
		return []string{"state unknown: no readings yet"}
	}
	var parts []string
	if r.Live != "" {
		parts = append(parts, "the balancer sends traffic to "+strings.ToUpper(string(r.Live)))
	} else {
		parts = append(parts, "the balancer's live side is unknown")
	}
	for _, h := range m.cfg.Inventory.HostNames() {
		st, ok := r.Hosts[h]
		if !ok {
			continue
		}
		var bs []string
		for _, b := range st.Badges {
			switch b {
			case steps.BadgePaused:
				bs = append(bs, "WAL replay PAUSED")
			case steps.BadgeReadOnly:
				bs = append(bs, "FENCED read-only")
			case steps.BadgePromoted:
				bs = append(bs, "PROMOTED to primary")
			case steps.BadgeUpgrading:
				bs = append(bs, "mid-upgrade")
			case steps.BadgeDown:
				bs = append(bs, "DOWN")
			}
		}
		if len(bs) > 0 {
			parts = append(parts, h+" "+strings.Join(bs, ", "))
		}
	}
	for _, l := range r.Lags {
		if l.Kind == steps.Logical && l.Streaming {
			parts = append(parts, "reverse sync "+l.Link()+" running")
		}
	}
	if len(parts) == 1 {
		parts = append(parts, "no database is paused, fenced or promoted")
	}
	return parts
}
