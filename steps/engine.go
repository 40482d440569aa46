package steps

import (
	"context"
	"errors"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// ErrAborted is returned by Run when an operator aborted the plan.
var ErrAborted = errors.New("plan aborted by operator")

// Options tune a run.
type Options struct {
	// Parallel bounds how many hosts one step acts on at once (default 10).
	Parallel int
	// AutoApprove confirms each gate as soon as its conditions hold, and fails the run at the first
	// failed step instead of waiting for a decision.
	AutoApprove bool
	// Operator names who drives, for the journal and gate decisions.
	Operator string
	// Emit receives every event, in order, from the engine's goroutine. It must not block for long.
	Emit func(Event)
	// PollEvery is how often readings are taken (default 500ms of the world's clock).
	PollEvery time.Duration
}

// Engine runs one plan against one world. Create it with New, start it with Run, and feed it the
// operator's decisions with Decide from any goroutine.
type Engine struct {
	inv       *inventory.Inventory
	plan      *Plan
	world     World
	opt       Options
	decisions chan Decision
}

// New returns an engine ready to run plan.
func New(inv *inventory.Inventory, plan *Plan, w World, opt Options) *Engine {
	if opt.Parallel <= 0 {
		opt.Parallel = 10
	}
	if opt.PollEvery <= 0 {
		opt.PollEvery = 500 * time.Millisecond
	}
	if opt.Emit == nil {
		opt.Emit = func(Event) {}
	}
	if w.Clock == nil {
		w.Clock = WallClock{}
	}
	return &Engine{inv: inv, plan: plan, world: w, opt: opt, decisions: make(chan Decision, 16)}
}

// Decide hands the engine an operator's decision. It never blocks; a decision the current gate does
// not allow is ignored with a notice event.
func (e *Engine) Decide(d Decision) {
	select {
	case e.decisions <- d:
	default:
	}
}

// Run executes the plan until it finishes, fails (with AutoApprove), is aborted, or ctx is cancelled.
// It returns nil when every step is done or skipped.
func (e *Engine) Run(ctx context.Context) error {
	return errors.New("not implemented yet")
}
