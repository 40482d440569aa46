package ui

import (
	"charm.land/bubbles/v2/key"
)

// KeyMap is every key the cockpit answers to. Keys that cannot act right now are disabled and their
// help says why ("retry (no failed step)"); ShortHelp and FullHelp still list them so the operator
// sees what exists and why it is off. Destructive actions say so in their help.
type KeyMap struct {
	Confirm  key.Binding
	Decline  key.Binding
	Skip     key.Binding
	Retry    key.Binding
	Rollback key.Binding
	Abort    key.Binding
	Output   key.Binding
	Help     key.Binding
	Quit     key.Binding

	// Output scrolling.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
	Left     key.Binding
	Right    key.Binding

	// quiet hides disabled actions from the short help once the run is over: none can come back.
	quiet bool
}

// DefaultKeyMap returns the cockpit's keys, all enabled; the model disables them as the run goes.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Confirm:  key.NewBinding(key.WithKeys("enter", "y"), key.WithHelp("y/enter", "confirm")),
		Decline:  key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "decline")),
		Skip:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip step (asks)")),
		Retry:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retry")),
		Rollback: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "ROLL BACK traffic")),
		Abort:    key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "ABORT plan (asks)")),
		Output:   key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "output full screen")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll output up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll output down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup/b", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "f", "space"), key.WithHelp("pgdn/f", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home/g", "oldest output")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end/G", "follow output")),
		Left:     key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "scroll output left")),
		Right:    key.NewBinding(key.WithKeys("right"), key.WithHelp("→", "scroll output right")),
	}
}

// set enables or disables b. A disabled binding's help names the reason; an enabled one gets desc.
func set(b *key.Binding, on bool, desc, reason string) {
	b.SetEnabled(on)
	if on || reason == "" {
		b.SetHelp(b.Help().Key, desc)
		return
	}
	b.SetHelp(b.Help().Key, desc+" ("+reason+")")
}

// ShortHelp lists the keys for the footer: what can be done now first, then what cannot and why.
func (k KeyMap) ShortHelp() []key.Binding {
	actions := []key.Binding{k.Confirm, k.Decline, k.Retry, k.Skip, k.Rollback, k.Abort}
	var on, off []key.Binding
	for _, b := range actions {
		if b.Enabled() {
			on = append(on, b)
		} else if !k.quiet {
			off = append(off, shown(b))
		}
	}
	out := append(on, k.Output, k.Help, shown(k.Quit))
	return append(out, off...)
}

// FullHelp lists every key in two columns, decisions and then the screen, narrow enough for 80
// columns even with the reasons of disabled keys.
func (k KeyMap) FullHelp() [][]key.Binding {
	scroll := key.NewBinding(key.WithKeys("up"), key.WithHelp("↑↓←→", "scroll output"))
	ends := key.NewBinding(key.WithKeys("g"), key.WithHelp("g/G", "oldest / newest"))
	decide := []key.Binding{k.Confirm, k.Decline, k.Skip, k.Retry, k.Rollback, k.Abort}
	for i := range decide {
		decide[i] = shown(decide[i])
	}
	return [][]key.Binding{decide, {shown(k.Quit), k.Help, k.Output, scroll, ends}}
}

// shown returns a copy of b that bubbles/help will display even when b is disabled (help hides
// disabled bindings); the copy's description already carries the reason.
func shown(b key.Binding) key.Binding {
	b.SetEnabled(true)
	return b
}
