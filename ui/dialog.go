package ui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/pitstop-ops/pitstop/steps"
)

// answer handles a key while a question is open: y/enter says yes, n/esc says no, ctrl+c confirms a
// quit; anything else leaves the question open.
func (m *Model) answer(k tea.KeyPressMsg) tea.Cmd {
	d := m.dialog
	yes := k.String() == "y" || k.String() == "enter" || (d.kind == askQuit && k.String() == "ctrl+c")
	no := k.String() == "n" || k.String() == "esc"
	switch {
	case no:
		m.dialog = nil
		if d.kind == askForceRollback {
			m.run.rbAsk, m.sentFor = "", nil
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

// dialogLines asks the open question and says which keys answer it.
func (m *Model) dialogLines(w int) []string {
	s := m.styles
	d := m.dialog
	var q, yes, no string
	var detail []string
	switch d.kind {
	case askSkip:
		q = fmt.Sprintf("Skip step %q? It will not run and the plan moves on.", orText(m.stepTitle[d.stepID], d.stepID))
		yes, no = "skip it", "keep it"
	case askAbort:
		q = "ABORT the plan?"
		if d.stepID == "" {
			q += " No gate is waiting: the running step finishes, then the engine stops at its next gate."
		} else {
			q += " The engine stops at this gate."
		}
		detail = append(detail, "Things stay as they are: "+m.leftState())
		yes, no = "abort", "carry on"
	case askQuit:
		q = "Quit while the plan is in progress? Quitting sends ABORT to the engine."
		detail = append(detail, "You leave: "+d.text)
		yes, no = "abort and quit", "stay"
	case askForceRollback:
		q = "Roll back anyway? " + d.text
		yes, no = "roll back anyway (force)", "keep traffic where it is"
	}
	var lines []string
	for i, l := range wrap(q, w-2, 3) {
		lead := "  "
		if i == 0 {
			lead = "? "
		}
		lines = append(lines, s.Dialog.Render(lead+l))
	}
	for _, dt := range detail {
		for _, l := range wrap(dt, w-2, 3) {
			lines = append(lines, "  "+s.Normal.Render(l))
		}
	}
	lines = append(lines, "  "+s.Key.Render("[y]")+" "+yes+s.Dim.Render(" · ")+s.Key.Render("[n]")+" "+no)
	return lines
}

// leftState says where the balancer and the databases are, from the newest readings.
func (m *Model) leftState() string {
	r := m.run.readings
	if r == nil {
		return "state unknown: no readings yet."
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
	return strings.Join(parts, "; ") + "."
}
