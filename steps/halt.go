package steps

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrHalted is wrapped by the error Run returns when a Halter stopped the run at a gate.
var ErrHalted = errors.New("run stopped at a gate")

// Halter asks a run to stop at its next gate: the step running now finishes (its commands are not
// cut), and the run ends before the next step starts, or at once if it is waiting at a gate. It is
// how a lost terminal (SIGHUP) or a journal that can no longer be written ends a run without leaving
// a step half-done. The zero value is not usable; a nil *Halter never halts.
type Halter struct {
	once   sync.Once
	ch     chan struct{}
	mu     sync.Mutex
	reason string
}

// NewHalter returns a Halter that has not halted.
func NewHalter() *Halter { return &Halter{ch: make(chan struct{})} }

// Halt asks the run to stop at its next gate; reason says why, in the final message and the journal.
// Only the first call counts. It is safe from any goroutine (a signal handler, the journal's writer).
func (h *Halter) Halt(reason string) {
	h.once.Do(func() {
		h.mu.Lock()
		h.reason = reason
		h.mu.Unlock()
		close(h.ch)
	})
}

// Done is closed once Halt was called; nil (never ready) for a nil Halter.
func (h *Halter) Done() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.ch
}

// Reason is the reason given to the first Halt, or "" when the run was not halted.
func (h *Halter) Reason() string {
	if h == nil {
		return ""
	}
	select {
	case <-h.ch:
	default:
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reason
}

// HaltError is the error of a run a Halter stopped: where it stopped and why.
type HaltError struct {
	// StepID and Title name the step the run stopped before (or at whose gate it was waiting).
	StepID, Title string
	Reason        string
}

func (e *HaltError) Error() string {
	return fmt.Sprintf("stopped before step %q (%s), nothing of it run: %s", e.StepID, e.Title, e.Reason)
}

// Unwrap makes errors.Is(err, ErrHalted) true.
func (e *HaltError) Unwrap() error { return ErrHalted }

// halted returns a HaltError for st when the run was asked to halt, else nil.
func (e *Engine) halted(st *Step) error {
	if r := e.opt.Halt.Reason(); r != "" {
		return &HaltError{StepID: st.ID, Title: st.Title, Reason: r}
	}
	return nil
}

// commandFinished is the EvCommandFinished event for cmd on host, which ended with err: done, failed,
// or aborted when the run's context cut it.
func commandFinished(ctx context.Context, st *Step, host, cmd string, err error) Event {
	ev := Event{Kind: EvCommandFinished, StepID: st.ID, Host: host, Text: cmd, Status: StatusDone}
	switch {
	case err != nil && ctx.Err() != nil:
		ev.Status, ev.Err = StatusAborted, err.Error()
	case err != nil:
		ev.Status, ev.Err = StatusFailed, err.Error()
	}
	return ev
}
