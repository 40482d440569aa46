package ui

import (
	"strings"

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
	// idle, when set, is why no decision can be taken now ("no gate waiting"). The short help then
	// lists the decision keys off for that reason as one compact entry ahead of the screen keys, so
	// the reason shows even in a narrow footer.
	idle string
	// why holds, for each decision key (kConfirm…kAbort), why it is off ("" when it is on).
	why [nDecisionKeys]string
}

// The decision keys in the order the short help lists them.
const (
	kConfirm = iota
	kDecline
	kRetry
	kSkip
	kRollback
	kAbort
	nDecisionKeys
)

// decisions returns the decision keys in short-help order.
func (k *KeyMap) decisions() [nDecisionKeys]*key.Binding {
	return [nDecisionKeys]*key.Binding{&k.Confirm, &k.Decline, &k.Retry, &k.Skip, &k.Rollback, &k.Abort}
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
// While no decision can be taken, the keys that are off for that reason share one entry ("off: y n
// s r (no gate waiting)") placed before the screen keys; other disabled keys come last.
func (k KeyMap) ShortHelp() []key.Binding {
	var on, group, off []key.Binding
	keys := k.decisions()
	grouped := func(i int) bool { return !keys[i].Enabled() && !k.quiet && k.idle != "" && k.why[i] == k.idle }
	for i, b := range keys {
		switch {
		case b.Enabled():
			on = append(on, *b)
		case k.quiet, grouped(i):
		default:
			off = append(off, shown(*b))
		}
	}
	var names []string
	for _, i := range []int{kConfirm, kDecline, kSkip, kRetry, kRollback, kAbort} { // as the full help
		if grouped(i) {
			names = append(names, strings.SplitN(keys[i].Help().Key, "/", 2)[0])
			group = append(group, shown(*keys[i]))
		}
	}
	switch len(names) {
	case 0, 1: // one key alone reads better with its own words
	default:
		group = []key.Binding{key.NewBinding(key.WithKeys(names...),
			key.WithHelp("off: "+strings.Join(names, " "), "("+k.idle+")"))}
	}
	out := append(on, group...)
	if len(group) > 0 {
		// Quit and help before the output key: a footer of 100 cells has room for these.
		help := k.Help
		help.SetHelp(help.Help().Key, "help")
		out = append(out, shown(k.Quit), help, k.Output)
	} else {
		out = append(out, k.Output, k.Help, shown(k.Quit))
	}
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
