package ui

import (
	"fmt"
	"strings"

	"github.com/pitstop-ops/pitstop/steps"
)

// pending is a decision sent for a gate that the engine has not answered yet. Until it answers, the
// gate's keys are off (with that reason, everywhere at once); the screen goes on showing what the
// engine last said, never the key as if it had taken effect.
type pending struct {
	stepID  string
	gate    steps.GateKind
	kind    steps.DecisionKind
	running bool // sent while a step ran, not at a gate
}

// isFor reports whether p was sent for gate g (the same step and kind of gate, however often the
// engine re-emits it as its conditions change).
func (p *pending) isFor(g *steps.GateState) bool {
	return p != nil && g != nil && !p.running && p.stepID == g.StepID && p.gate == g.Kind
}

// answered drops the pending decision once the engine has reacted to it: it decided, turned it down
// (a notice), asked before a rollback, began one, moved to another gate or step, marked a decline, or
// finished.
func (m *Model) answered(ev steps.Event) {
	p := m.pending
	if p == nil {
		return
	}
	switch ev.Kind {
	case steps.EvGateDecided, steps.EvNotice, steps.EvRollbackAsk, steps.EvRollingBack, steps.EvPlanFinished, steps.EvStepStarted, steps.EvStepFinished:
		m.pending = nil
	case steps.EvGateWaiting:
		if g := ev.Gate; g == nil || !p.isFor(g) || (p.kind == steps.Decline && g.Declined) {
			m.pending = nil
		}
	}
}

// markSwitches keeps the plan column truthful about switches: a rollback marks the switch it undid
// (↺), and switching to that side again marks it redone.
func (m *Model) markSwitches(ev steps.Event) {
	if ev.Change == nil {
		return
	}
	switch ev.Kind {
	case steps.EvRolledBack:
		all := m.cfg.Plan.Steps()
		for i := len(all) - 1; i >= 0; i-- {
			st := all[i]
			if ss := m.run.steps[st.ID]; ss != nil && st.Action == steps.ActSwitch && string(st.Side) == ev.Change.From && ss.status == steps.StatusDone {
				ss.rolledBack, ss.redone = true, false
				return
			}
		}
	case steps.EvSwitched:
		for _, st := range m.cfg.Plan.Steps() {
			if ss := m.run.steps[st.ID]; ss != nil && ss.rolledBack && st.ID != ev.StepID && string(st.Side) == ev.Change.To {
				ss.rolledBack, ss.redone = false, true
			}
		}
	}
}

// section starts a new section of the output for what is about to produce it: a rollback, a redone
// switch, a retried step, a step resumed after a redo. It runs before ev is applied, so the gate the
// decision answers is still known.
func (m *Model) section(ev steps.Event) {
	switch ev.Kind {
	case steps.EvNotice:
		if j, ok := strings.CutPrefix(ev.Text, steps.ResumeNoticePrefix+" "); ok {
			if i := strings.Index(j, ":"); i >= 0 {
				j = j[:i]
			}
			m.out.rule("Resumed run (" + j + "): what the journal says and what the world shows")
		}
	case steps.EvRollingBack:
		if ev.Change != nil {
			m.out.rule(fmt.Sprintf("Rolling back: %s → %s%s", ev.Change.From, ev.Change.To, byWhom(ev.Text)))
		}
	case steps.EvGateDecided:
		d, g := ev.Decision, m.run.gate
		if d == nil || g == nil || g.StepID != ev.StepID {
			return
		}
		switch {
		case d.Kind == steps.Retry:
			m.out.then(ev.StepID, "retry by "+d.By)
		case d.Kind == steps.Confirm && g.Kind == steps.GateRolledBack:
			to := ""
			if rb := m.run.tally.Rollbacks; len(rb) > 0 {
				to = " to " + rb[len(rb)-1].From
			}
			m.out.rule(fmt.Sprintf("Switching%s again (redo by %s)", to, d.By))
			m.out.then(ev.StepID, "resumed after the redo")
		}
	}
}

// byWhom returns " (by NAME)" from an engine text that ends so, or "".
func byWhom(text string) string {
	if i := strings.LastIndex(text, " (by "); i >= 0 {
		return text[i:]
	}
	return ""
}

// rollingLines draws a rollback in progress where the gate was: where traffic goes back to, who
// asked, the proof as it arrives, and that no key acts until the engine says how it ended.
func (m *Model) rollingLines(w, maxH int) []string {
	s := m.styles
	rb := m.run.rolling
	banner := s.Failed.Render(" ROLLING BACK ")
	head := "Rolling back to " + orText(rb.to, "the previous side") + "…"
	if rb.from != "" {
		head = fmt.Sprintf("Rolling back: traffic %s → %s…", rb.from, rb.to)
	}
	if by := byWhom(rb.text); by != "" {
		head += " (asked " + strings.TrimPrefix(by, " (") // " (by alice)" → " (asked by alice)"
	}
	var lines []string
	for i, l := range wrap(head, w-width(banner)-1, 2) {
		lead := strings.Repeat(" ", width(banner)+1)
		if i == 0 {
			lead = banner + " "
		}
		lines = append(lines, lead+s.Prompt.Render(l))
	}
	foot := s.Dim.Render("  keys are off until the engine says the rollback is done or failed")
	room := maxH - len(lines) - 1
	if len(rb.proof) == 0 {
		lines = append(lines, s.Dim.Render("  checking "+orText(rb.to, "that side")+" before switching; the proof follows here"))
	} else if room > 1 {
		lines = append(lines, s.Dim.Render("  proof so far:"))
		proof := rb.proof
		if len(proof) > room-1 {
			proof = proof[len(proof)-(room-1):]
		}
		for _, p := range proof {
			lines = append(lines, "    "+s.Normal.Render(p))
		}
	}
	return append(lines, foot)
}
