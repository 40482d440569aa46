// Package ui is Pitstop's cockpit: a Bubble Tea v2 program that renders the engine's events (the
// topology, the plan's progress, gates, replication lag, what users see, command output) and sends
// the operator's decisions back. It knows nothing of SSH, nginx or PostgreSQL: only steps.Event in,
// steps.Decision out.
package ui

import (
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Config is what the cockpit needs from main.
type Config struct {
	Inventory *inventory.Inventory
	Plan      *steps.Plan
	// Demo is true when the world is simulated; the header says DEMO, otherwise LIVE.
	Demo bool
	// Operator names who drives; every decision carries it.
	Operator string
	// Journal is the path of the run's journal, shown in the footer.
	Journal string
	// Decide hands a decision to the engine. It must not block (steps.Engine.Decide does not).
	Decide func(steps.Decision)
	// Now is the wall clock shown in the header; nil means time.Now. Tests pin it.
	Now func() time.Time
	// Watchers lists the terminals attached to the cockpit's tmux session (nil: not known). It may
	// run a program: the cockpit calls it in a command, every few seconds.
	Watchers func() []Watcher
}

// Model is the cockpit's Bubble Tea model. Create it with NewModel.
type Model struct {
	cfg    Config
	now    func() time.Time
	keys   KeyMap
	styles *Styles
	help   help.Model
	out    outputPane

	width, height int

	run     *run
	dialog  *dialog
	pending *pending // a decision sent for the waiting gate that the engine has not answered yet

	fullOutput bool
	showHelp   bool
	// outputShown is whether the last layout had room for the output pane, so a message pointing at
	// the output can say where it is.
	outputShown bool
	watchers    []Watcher // attached terminals, newest list

	// queue is where a Cockpit's Emit puts events; nil when the model is fed eventsMsg directly.
	queue   *eventQueue
	framing bool // the frame tick is running
	frame   int  // spinner frame

	// Plan lookups, built once.
	stepTitle map[string]string
	hostW     int
}

// NewModel returns the cockpit model for cfg, styled for a dark background until the terminal
// reports its colour.
func NewModel(cfg Config) *Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Operator == "" {
		cfg.Operator = "operator"
	}
	if cfg.Plan == nil {
		cfg.Plan = &steps.Plan{}
	}
	if cfg.Inventory == nil {
		cfg.Inventory = &inventory.Inventory{}
	}
	m := &Model{
		cfg:       cfg,
		now:       cfg.Now,
		keys:      DefaultKeyMap(),
		help:      help.New(),
		run:       newRun(),
		stepTitle: map[string]string{},
		hostW:     8, // "balancer", "pitstop" label output too
	}
	m.run.planName = cfg.Plan.Name
	for _, st := range cfg.Plan.Steps() {
		m.stepTitle[st.ID] = st.Title
	}
	for _, h := range cfg.Inventory.HostNames() {
		m.hostW = max(m.hostW, min(len(h), 18))
	}
	m.out = newOutputPane()
	m.setStyles(NewStyles(true))
	m.refreshKeys()
	return m
}

// Init asks the terminal for its background colour and starts the header clock.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, clockTick(), m.watchersCmd(0))
}

func clockTick() tea.Cmd {
	return tea.Every(time.Second, func(time.Time) tea.Msg { return clockMsg{} })
}

func frameTick() tea.Cmd {
	return tea.Tick(frameEvery, func(time.Time) tea.Msg { return frameMsg{} })
}

func (m *Model) setStyles(s *Styles) {
	m.styles = s
	m.help.Styles = s.Help
	m.out.restyle(s, m.hostW)
}

// Update applies one message. Events arrive in batches and keys are answered at once; the screen is
// redrawn once per message, so events are never delivered one message each.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
	case tea.BackgroundColorMsg:
		if dark := msg.IsDark(); dark != m.styles.Dark {
			m.setStyles(NewStyles(dark))
		}
	case eventsMsg:
		m.apply(msg.items)
	case wakeMsg:
		if m.queue == nil {
			return m, nil
		}
		items, _ := m.queue.take(true)
		m.apply(items)
		if !m.framing {
			m.framing = true
			return m, frameTick()
		}
	case frameMsg:
		if m.queue == nil {
			m.framing = false
			return m, nil
		}
		items, more := m.queue.take(m.run.running())
		m.apply(items)
		if m.run.running() {
			m.frame++
		}
		if !more {
			m.framing = false
			return m, nil
		}
		return m, frameTick()
	case clockMsg:
		return m, clockTick()
	case watchersMsg:
		m.watchers = msg.list
		return m, m.watchersCmd(watchersEvery)
	case decisionSentMsg:
		if msg.quit {
			return m, tea.Quit
		}
		m.run.note("you sent " + string(msg.d.Kind) + " as " + msg.d.By)
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// apply folds queued items into the run and brings dialogs, keys and the output pane up to date.
func (m *Model) apply(items []item) {
	if len(items) == 0 {
		return
	}
	for _, it := range items {
		if it.done {
			m.run.engineDone = true
			if it.err != nil {
				m.run.engineErr = clean(it.err.Error())
			}
			continue
		}
		m.section(it.ev)
		m.run.apply(it.ev)
		m.out.event(it.ev, m.stepTitle)
		m.markSwitches(it.ev)
		m.answered(it.ev)
	}
	m.out.sync()
	m.reconcileDialog()
	m.refreshKeys()
}

// reconcileDialog drops questions that no longer apply and opens the one the engine asks.
func (m *Model) reconcileDialog() {
	g := m.run.gate
	if d := m.dialog; d != nil {
		switch d.kind {
		case askSkip:
			if g == nil || g.StepID != d.stepID || !g.Allows(steps.Skip) {
				m.dialog = nil
			}
		case askForceRollback:
			if m.run.rbAsk == "" {
				m.dialog = nil
			}
		case askAbort, askQuit:
			if !m.run.inProgress() {
				m.dialog = nil
			}
		}
	}
	if m.run.rbAsk != "" && m.dialog == nil {
		// While a step runs there is no gate: the forced rollback goes to whatever runs.
		m.dialog = &dialog{kind: askForceRollback, stepID: m.gateStep(), text: m.run.rbAsk, phrase: typePhrase(m.run.rbAsk)}
	}
}

// key answers one key press.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if m.dialog != nil {
		return m.answer(k)
	}
	keys := &m.keys
	switch {
	case key.Matches(k, keys.Quit):
		if !m.run.inProgress() {
			return tea.Quit
		}
		m.dialog = &dialog{kind: askQuit}
	case key.Matches(k, keys.Help):
		m.showHelp = !m.showHelp
		m.help.ShowAll = m.showHelp
	case key.Matches(k, keys.Output):
		m.fullOutput = !m.fullOutput
	case k.String() == "esc" && (m.showHelp || m.fullOutput):
		m.showHelp, m.fullOutput, m.help.ShowAll = false, false, false
	case key.Matches(k, keys.Confirm):
		return m.decide(steps.Confirm, false, false)
	case key.Matches(k, keys.Decline):
		return m.decide(steps.Decline, false, false)
	case key.Matches(k, keys.Retry):
		return m.decide(steps.Retry, false, false)
	case key.Matches(k, keys.Rollback):
		return m.decide(steps.Rollback, false, false)
	case key.Matches(k, keys.Skip):
		m.dialog = &dialog{kind: askSkip, stepID: m.run.gate.StepID}
	case key.Matches(k, keys.Abort):
		m.dialog = &dialog{kind: askAbort, stepID: m.gateStep()}
	default:
		m.out.scroll(k, keys)
	}
	return nil
}

// gateStep is the step of the waiting gate, or "" when none waits.
func (m *Model) gateStep() string {
	if m.run.gate == nil {
		return ""
	}
	return m.run.gate.StepID
}

// decide sends kind for the waiting gate.
func (m *Model) decide(kind steps.DecisionKind, force, quit bool) tea.Cmd {
	return m.decideFor(kind, m.gateStep(), force, quit)
}

// decideFor sends a decision from the operator for stepID, through a command so Update stays pure.
func (m *Model) decideFor(kind steps.DecisionKind, stepID string, force, quit bool) tea.Cmd {
	return m.send(steps.Decision{Kind: kind, By: m.cfg.Operator, StepID: stepID, Force: force}, quit)
}

// send sends d to the engine and marks it pending.
func (m *Model) send(d steps.Decision, quit bool) tea.Cmd {
	kind, stepID := d.Kind, d.StepID
	switch g := m.run.gate; {
	case g != nil && g.StepID == stepID && kind != steps.Abort:
		m.pending = &pending{stepID: g.StepID, gate: g.Kind, kind: kind}
		m.refreshKeys()
	case g == nil && kind == steps.Rollback:
		// A rollback while a step runs: the engine first checks the side it goes back to.
		m.pending = &pending{kind: kind, running: true}
		m.refreshKeys()
	}
	decide := m.cfg.Decide
	return func() tea.Msg {
		if decide != nil {
			decide(d)
		}
		return decisionSentMsg{d: d, quit: quit}
	}
}

// refreshKeys enables the keys that can act now and says why the others cannot.
func (m *Model) refreshKeys() {
	k := &m.keys
	k.quiet = !m.run.inProgress()
	g := m.run.gate
	var why string
	switch {
	case m.run.finished:
		why = "plan finished"
	case m.run.engineDone:
		why = "engine stopped"
	case m.run.rolling != nil:
		why = "rolling back"
	case m.pending.isFor(g), g == nil && m.pending != nil && m.pending.running:
		why = "waiting for the engine"
	case g == nil:
		why = "no gate waiting"
	}
	open := why == ""
	allows := func(d steps.DecisionKind) bool { return open && g.Allows(d) }
	reason := func(d steps.DecisionKind, notHere string) string {
		if !open {
			return why
		}
		if !g.Allows(d) {
			return notHere
		}
		return ""
	}

	confirm := "confirm"
	switch {
	case g == nil:
	case g.Kind == steps.GateRolledBack:
		confirm = "redo the switch"
	case g.Kind == steps.GateFinish:
		confirm = "finish without them"
	}
	cr := reason(steps.Confirm, "nothing to confirm")
	if cr == "" && !g.Ready {
		cr = "conditions not met yet"
	}
	set(&k.Confirm, cr == "", confirm, cr)
	dr := reason(steps.Decline, "nothing to decline")
	if dr == "" && g.Declined {
		dr = "already declined"
	}
	set(&k.Decline, dr == "", "decline", dr)
	sr, tr := reason(steps.Skip, "cannot skip here"), reason(steps.Retry, "no failed step")
	set(&k.Skip, allows(steps.Skip), "skip step (asks)", sr)
	set(&k.Retry, allows(steps.Retry), "retry", tr)
	// The engine takes a rollback while a step runs too: it stops the step first.
	rbRunning := g == nil && m.run.running() && m.run.switched && m.run.rolling == nil && m.pending == nil
	rr := reason(steps.Rollback, "no switch to undo")
	if rbRunning {
		rr = ""
	} else if g == nil && !m.run.switched && m.run.inProgress() {
		rr = "no switch to undo"
	}
	set(&k.Rollback, allows(steps.Rollback) || rbRunning, "ROLL BACK traffic", rr)

	ab := ""
	switch {
	case !m.run.inProgress():
		ab = why
	case m.run.rolling != nil:
		ab = why // the engine takes no decision until the balancer is back
	case g != nil && !g.Allows(steps.Abort):
		ab = "not at this gate"
	}
	set(&k.Abort, ab == "", "ABORT plan (asks)", ab)
	k.why = [nDecisionKeys]string{kConfirm: cr, kDecline: dr, kRetry: tr, kSkip: sr, kRollback: rr, kAbort: ab}
	k.idle = ""
	if !open && m.run.inProgress() {
		k.idle = why
	}
	set(&k.Output, true, map[bool]string{false: "output full screen", true: "back to cockpit"}[m.fullOutput], "")
	set(&k.Help, true, map[bool]string{false: "more keys", true: "close this help"}[m.showHelp], "")
	set(&k.Quit, true, map[bool]string{false: "quit", true: "quit (asks)"}[m.run.inProgress()], "")
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	m.refreshKeys()
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "pitstop · " + m.cfg.Inventory.Name + " · " + m.run.planName
	return v
}
