package ui

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/pitstop-ops/pitstop/steps"
)

// Cockpit runs the cockpit program and feeds it the engine's events.
//
//	ck := ui.New(cfg)
//	eng := steps.New(inv, plan, world, steps.Options{Emit: ck.Emit, …})
//	go func() { ck.Done(eng.Run(ctx)) }()
//	err := ck.Run(ctx)
type Cockpit struct {
	model *Model
	queue *eventQueue
	// testOpts replace the terminal in tests.
	testOpts []tea.ProgramOption
}

// New returns a cockpit for cfg. Events may be emitted before Run starts; they wait in the queue.
func New(cfg Config) *Cockpit {
	q := newEventQueue()
	m := NewModel(cfg)
	m.queue = q
	return &Cockpit{model: m, queue: q}
}

// Emit queues one engine event for the screen. It never blocks: the queue is unbounded, except that
// readings are coalesced when the screen falls far behind. It copies what the event points to,
// because the engine keeps changing its gate after emitting it.
func (c *Cockpit) Emit(ev steps.Event) { c.queue.push(item{ev: clone(ev)}) }

// Done tells the cockpit that the engine's Run returned, with its error.
func (c *Cockpit) Done(err error) { c.queue.push(item{done: true, err: err}) }

// Run shows the cockpit on the terminal (alternate screen) until the operator quits or ctx is
// cancelled, and restores the terminal in every case, a panic included. It returns nil when the
// operator quit, ctx's error when ctx was cancelled.
func (c *Cockpit) Run(ctx context.Context) (err error) {
	// The screen changes at most frameEvery; 20 flushes a second keep keys snappy (≤ 50 ms) while an
	// idle cockpit wakes a third as often as at Bubble Tea's default 60.
	opts := append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithFPS(maxFPS)}, colorOptions(os.Environ())...)
	p := tea.NewProgram(c.model, append(opts, c.testOpts...)...)

	pumpCtx, stop := context.WithCancel(ctx)
	defer stop()
	go c.queue.pump(pumpCtx, p.Send)

	_, err = p.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, tea.ErrProgramPanic):
		return ctx.Err()
	}
	return fmt.Errorf("cockpit: %w", err)
}

// maxFPS caps how often the renderer flushes to the terminal.
const maxFPS = 20

// colorOptions honours NO_COLOR as no-color.org defines it: any non-empty value turns colour off
// (words, symbols, bold and reverse stay). colorprofile alone only understands boolean values.
func colorOptions(env []string) []tea.ProgramOption {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			return []tea.ProgramOption{tea.WithColorProfile(colorprofile.Ascii)}
		}
	}
	return nil
}

// eventQueue hands events from the engine's goroutine to the program. While the model is idle the
// first push wakes it (one wakeMsg through Program.Send); from then on the model drains the queue on
// its own frame tick until a tick finds nothing to do. So the screen redraws at most once per frame
// however fast events come, and not at all when nothing happens.
type eventQueue struct {
	mu          sync.Mutex
	items       []item
	readings    int  // readings events queued
	lastReading int  // index in items of the newest queued readings event
	active      bool // the model is draining on its frame tick, or has been woken to
	wake        chan struct{}
}

// maxQueuedReadings is how many readings may wait before newer ones replace the newest queued.
const maxQueuedReadings = 32

func newEventQueue() *eventQueue { return &eventQueue{wake: make(chan struct{}, 1)} }

func (q *eventQueue) push(it item) {
	q.mu.Lock()
	if it.ev.Kind == steps.EvReadings {
		if q.readings >= maxQueuedReadings {
			// The screen is far behind: the newest reading replaces the last one queued.
			q.items[q.lastReading] = it
			q.mu.Unlock()
			return
		}
		q.readings++
		q.lastReading = len(q.items)
	}
	q.items = append(q.items, it)
	wake := !q.active
	q.active = true
	q.mu.Unlock()
	if wake {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// take returns everything queued. more reports whether the model should tick again: when it got
// items or animate is set. When it reports false the queue goes idle and the next push wakes the
// model.
func (q *eventQueue) take(animate bool) (items []item, more bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items, q.items, q.readings = q.items, nil, 0
	more = len(items) > 0 || animate
	q.active = more
	return items, more
}

// pump delivers wake-ups to the program until ctx ends.
func (q *eventQueue) pump(ctx context.Context, send func(tea.Msg)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
			send(wakeMsg{})
		}
	}
}

// clone deep-copies what ev points to, so the cockpit never shares memory with the engine.
func clone(ev steps.Event) steps.Event {
	if g := ev.Gate; g != nil {
		c := *g
		c.Changes = slices.Clone(g.Changes)
		c.Conditions = slices.Clone(g.Conditions)
		c.Allowed = slices.Clone(g.Allowed)
		ev.Gate = &c
	}
	if d := ev.Decision; d != nil {
		c := *d
		ev.Decision = &c
	}
	if r := ev.Readings; r != nil {
		c := *r
		c.Lags = slices.Clone(r.Lags)
		c.Probe.Upstreams = maps.Clone(r.Probe.Upstreams)
		c.Probe.Hosts = slices.Clone(r.Probe.Hosts)
		if r.Hosts != nil {
			c.Hosts = make(map[string]steps.HostState, len(r.Hosts))
			for k, h := range r.Hosts {
				h.Badges = slices.Clone(h.Badges)
				c.Hosts[k] = h
			}
		}
		ev.Readings = &c
	}
	if ch := ev.Change; ch != nil {
		c := *ch
		ev.Change = &c
	}
	if s := ev.Summary; s != nil {
		c := *s
		ev.Summary = &c
	}
	return ev
}
