package ui

import (
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// item is one entry of the cockpit's event queue: an engine event, or the engine's end.
type item struct {
	ev   steps.Event
	done bool
	err  error
}

// eventsMsg hands the model a batch of queued items to apply before the next frame.
type eventsMsg struct{ items []item }

// wakeMsg tells the model that its queue, idle until now, holds new items: it drains the queue and
// starts its frame tick.
type wakeMsg struct{}

// frameMsg is the frame tick: every frameEvery while events flow or a step runs, the model drains
// the queue, advances the spinner and redraws once.
type frameMsg struct{}

// clockMsg ticks once a second for the header clock.
type clockMsg struct{}

// decisionSentMsg reports that a decision was handed to the engine; quit is set when the cockpit
// quits right after it (abort on quit).
type decisionSentMsg struct {
	d    steps.Decision
	quit bool
}

// frameEvery is the refresh period while anything changes: 4 frames a second.
const frameEvery = 250 * time.Millisecond
