package ui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
)

// Watcher is a terminal attached to the cockpit's tmux session, as tmux reports it.
type Watcher struct {
	User     string
	TTY      string
	ReadOnly bool
}

// watchersMsg carries the newest list of attached terminals.
type watchersMsg struct{ list []Watcher }

// watchersEvery is how often the cockpit asks who is attached.
const watchersEvery = 2 * time.Second

// watchersCmd asks Config.Watchers (which runs tmux) off the update loop; nil when there is no way
// to know.
func (m *Model) watchersCmd(delay time.Duration) tea.Cmd {
	ask := m.cfg.Watchers
	if ask == nil {
		return nil
	}
	if delay == 0 {
		return func() tea.Msg { return watchersMsg{ask()} }
	}
	return tea.Tick(delay, func(time.Time) tea.Msg { return watchersMsg{ask()} })
}

// watchersText says who is attached, in the roomiest form that fits w cells: every client, or a
// count, or nothing.
func watchersText(ws []Watcher, w int) string {
	if len(ws) == 0 {
		return ""
	}
	var parts []string
	ro := 0
	for _, x := range ws {
		s := x.User + " " + x.TTY
		if x.ReadOnly {
			s += " (ro)"
			ro++
		}
		parts = append(parts, s)
	}
	if long := "attached: " + strings.Join(parts, ", "); width(long) <= w {
		return long
	}
	short := fmt.Sprintf("%d attached", len(ws))
	if ro > 0 {
		short += fmt.Sprintf(" (%d ro)", ro)
	}
	if width(short) > w {
		return ""
	}
	return short
}
