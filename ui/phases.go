package ui

import (
	"fmt"

	"github.com/pitstop-ops/pitstop/steps"
)

// spinFrames turn beside the running step, one frame per screen refresh.
var spinFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// phasesLines draws the plan as a checklist: each phase, then its steps with a status mark and a
// duration; the current step is highlighted. When the plan is taller than h, the window keeps the
// current step in view and says how many lines are hidden above and below.
func (m *Model) phasesLines(w, h int) []string {
	s := m.styles
	title := s.Title.Render("Plan ") + s.Bold.Render(orText(m.run.planName, "?"))
	var body []string
	cur, odd := -1, -1 // the current step's line; the first step that went off the straight path
	durW := 7
	for _, ss := range m.run.steps {
		if ss.rolledBack {
			durW = len("rolled back")
		}
	}
	for _, ph := range m.cfg.Plan.Phases {
		body = append(body, s.Phase.Render(ph.Name))
		for _, st := range ph.Steps {
			ss := m.run.steps[st.ID]
			mark, plain, dur := m.stepMark(ss)
			if odd < 0 && ss != nil && (ss.rolledBack || ss.status == steps.StatusSkipped || ss.status == steps.StatusFailed) {
				odd = len(body)
			}
			title := orText(st.Title, st.ID)
			line := pad(" "+mark+" "+title, w-durW-1) + " " + padLeft(dur, durW)
			if st.ID == m.run.current {
				// One style over the whole line: an inner reset would cut the highlight short.
				cur = len(body)
				line = s.Current.Render(pad("›"+plain+" "+title, w-durW-1) + " " + padLeft(dur, durW))
			}
			body = append(body, line)
		}
	}
	if len(body) == 0 {
		body = []string{s.Dim.Render("(empty plan)")}
	}
	rows := h - 1
	if rows <= 0 {
		return fitLines([]string{title}, w, h)
	}
	if len(body) > rows {
		// Keep the current step about a third of the way down so the next steps show. Below three
		// rows there is no room for the arrows: the window starts at the current step.
		start := 0
		if cur < 0 {
			cur = odd // at the end (or the finishing gate), what went off the path
		}
		if cur >= 0 {
			start = min(max(0, cur-rows/3), len(body)-rows)
		}
		end := start + rows
		win := append([]string(nil), body[start:end]...)
		if rows >= 3 && start > 0 {
			win[0] = s.Dim.Render(fmt.Sprintf("  ↑ %d more", start+1))
		}
		if rows >= 3 && end < len(body) {
			win[len(win)-1] = s.Dim.Render(fmt.Sprintf("  ↓ %d more", len(body)-end+1))
		}
		body = win
	}
	return fitLines(append([]string{title}, body...), w, h)
}

// phasesHeight is how many rows phasesLines needs to show the whole plan.
func (m *Model) phasesHeight() int {
	n := 1
	for _, ph := range m.cfg.Plan.Phases {
		n += 1 + len(ph.Steps)
	}
	return max(n, 2)
}

// stepMark returns a step's status symbol, styled and plain, and its duration column.
func (m *Model) stepMark(ss *stepState) (mark, plain, dur string) {
	s := m.styles
	status := steps.StatusPending
	if ss != nil {
		status = ss.status
	}
	switch status {
	case steps.StatusRunning:
		f := spinFrames[m.frame%len(spinFrames)]
		return s.Accent.Render(f), f, shortDur(m.run.last.Sub(ss.started))
	case steps.StatusWaiting:
		return s.Warn.Render("◆"), "◆", "gate"
	case steps.StatusDone:
		switch {
		case ss.rolledBack:
			return s.Warn.Render("↺"), "↺", "rolled back"
		case ss.redone:
			return s.OK.Render("✓"), "✓", "redone"
		}
		return s.OK.Render("✓"), "✓", shortDur(ss.dur)
	case steps.StatusFailed:
		return s.Bad.Render("✗"), "✗", shortDur(ss.dur)
	case steps.StatusSkipped:
		return s.Warn.Render("⤼"), "⤼", "skipped"
	case steps.StatusAborted:
		return s.Bad.Render("■"), "■", "aborted"
	}
	return s.Dim.Render("○"), "○", ""
}
