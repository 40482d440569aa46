package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/pitstop-ops/pitstop/steps"
)

// maxOutputLines bounds the output kept in memory; older lines are dropped.
const maxOutputLines = 5000

// outLine is one line of streamed output, kept raw so it can be restyled.
type outLine struct {
	host   string
	stderr bool
	text   string
	rule   bool // a step separator
}

// outputPane is the scrollable output of the steps' commands. It follows the newest line unless the
// operator scrolled up.
type outputPane struct {
	vp     viewport.Model
	raw    []outLine
	styled []string
	follow bool
	full   bool     // the viewport holds every kept line, not just the tail
	shown  []string // what the viewport holds
	dirty  bool
	styles *Styles
	hostW  int
	// runs counts how often each step started running; next is what its next section says after
	// its title ("retry by alice", "resumed after the redo").
	runs map[string]int
	next map[string]string
}

func newOutputPane() outputPane {
	vp := viewport.New()
	vp.MouseWheelEnabled = false
	return outputPane{vp: vp, follow: true, runs: map[string]int{}, next: map[string]string{}}
}

// restyle redraws every kept line with s (after the terminal reported its background).
func (o *outputPane) restyle(s *Styles, hostW int) {
	o.styles, o.hostW = s, hostW
	o.styled = o.styled[:0]
	for _, l := range o.raw {
		o.styled = append(o.styled, o.style(l))
	}
	o.dirty = true
	o.sync()
}

func (o *outputPane) style(l outLine) string {
	s := o.styles
	if l.rule {
		return s.Rule.Render("── ") + s.Phase.Render(l.text) + s.Rule.Render(" ──")
	}
	host := pad(l.host, o.hostW)
	if l.stderr {
		return s.Host.Render(host) + s.Stderr.Render(" ! "+l.text)
	}
	return s.Host.Render(host) + s.Dim.Render(" │ ") + l.text
}

func (o *outputPane) add(l outLine) {
	o.raw = append(o.raw, l)
	o.styled = append(o.styled, o.style(l))
	o.dirty = true
}

// event adds what ev shows in the output: command lines, and a separator when a step starts running.
func (o *outputPane) event(ev steps.Event, titles map[string]string) {
	switch ev.Kind {
	case steps.EvOutput:
		host := ev.Host
		if host == "" {
			host = "pitstop"
		}
		o.add(outLine{host: host, stderr: ev.Stream == steps.Stderr, text: clean(ev.Text)})
	case steps.EvStepStarted:
		if ev.Status == steps.StatusRunning || ev.Status == "" {
			o.runs[ev.StepID]++
			title := orText(titles[ev.StepID], ev.StepID)
			switch why := o.next[ev.StepID]; {
			case why != "":
				title += " (" + why + ")"
				delete(o.next, ev.StepID)
			case o.runs[ev.StepID] > 1:
				title += fmt.Sprintf(" (run %d)", o.runs[ev.StepID])
			}
			o.rule(title)
		}
	case steps.EvRolledBack:
		o.add(outLine{host: "pitstop", text: clean(ev.Text)})
	case steps.EvSwitched:
		if ev.Change != nil {
			o.add(outLine{host: "balancer", text: "traffic " + ev.Change.From + " → " + ev.Change.To + " (" + clean(ev.Change.File) + ")"})
		}
	}
}

// sync hands new lines to the viewport, dropping the oldest beyond maxOutputLines. While following
// the newest line the viewport gets only the tail it can show (measuring 5,000 lines for every frame
// would cost milliseconds); once the operator scrolls it gets everything.
func (o *outputPane) sync() {
	if !o.dirty {
		return
	}
	o.dirty = false
	cut := 0
	if n := len(o.raw); n > maxOutputLines {
		cut = n - maxOutputLines
		o.raw = append(o.raw[:0], o.raw[cut:]...)
		o.styled = append(o.styled[:0], o.styled[cut:]...)
	}
	if o.follow {
		tail := max(2*o.vp.Height(), 50)
		o.setContent(o.styled[max(0, len(o.styled)-tail):])
		o.vp.GotoBottom()
		o.full = false
		return
	}
	// Scrolled back: keep the same lines in view while new ones arrive and old ones drop.
	off := o.vp.YOffset()
	o.setContent(o.styled)
	o.vp.SetYOffset(max(0, off-cut))
}

func (o *outputPane) setContent(lines []string) {
	o.shown = lines
	o.vp.SetContentLines(lines)
}

// resize fits the viewport to w×h cells.
func (o *outputPane) resize(w, h int) {
	if o.vp.Width() == w && o.vp.Height() == h {
		return
	}
	o.vp.SetWidth(w)
	o.vp.SetHeight(h)
	if o.follow {
		o.dirty = true
		o.sync()
	}
}

// scroll moves the view for a scrolling key; reaching the bottom resumes following.
func (o *outputPane) scroll(k tea.KeyPressMsg, keys *KeyMap) {
	if !key.Matches(k, keys.Up, keys.Down, keys.PageUp, keys.PageDown, keys.Top, keys.Bottom, keys.Left, keys.Right) {
		return
	}
	if !o.full {
		o.setContent(o.styled)
		o.vp.GotoBottom()
		o.full = true
	}
	switch {
	case key.Matches(k, keys.Up):
		o.vp.ScrollUp(1)
	case key.Matches(k, keys.Down):
		o.vp.ScrollDown(1)
	case key.Matches(k, keys.PageUp):
		o.vp.PageUp()
	case key.Matches(k, keys.PageDown):
		o.vp.PageDown()
	case key.Matches(k, keys.Top):
		o.vp.GotoTop()
	case key.Matches(k, keys.Bottom):
		o.vp.GotoBottom()
	case key.Matches(k, keys.Left):
		o.vp.ScrollLeft(8)
	case key.Matches(k, keys.Right):
		o.vp.ScrollRight(8)
	}
	o.follow = o.vp.AtBottom()
}

// view draws the pane in w×h cells; an empty pane says so.
func (o *outputPane) view(w, h int) []string {
	if h <= 0 || w <= 0 {
		return nil
	}
	o.resize(w, h)
	if len(o.raw) == 0 {
		return []string{o.styles.Dim.Render("no command output yet")}
	}
	// The viewport keeps the scroll position; the visible lines are cut here rather than by
	// viewport.View, which pads every line through lipgloss and costs a third of a frame.
	off := min(max(o.vp.YOffset(), 0), len(o.shown))
	lines := make([]string, 0, h)
	x := o.vp.XOffset()
	for _, l := range o.shown[off:min(off+h, len(o.shown))] {
		if x > 0 {
			l = ansi.Cut(l, x, x+w+1) // one cell more, so fit still marks a cut with …
		}
		lines = append(lines, fit(l, w))
	}
	return lines
}

// rule starts a section of the output titled text.
func (o *outputPane) rule(text string) { o.add(outLine{rule: true, text: text}) }

// then notes why step id will run again, for the title of its next section.
func (o *outputPane) then(id, why string) { o.next[id] = why }
