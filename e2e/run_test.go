package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// recRunner is the real runner, with every error it returned kept: the engine reports failures as
// text, and a test wants errors.Is on the error itself.
type recRunner struct {
	steps.Runner
	mu   sync.Mutex
	errs []error
}

func (r *recRunner) Run(ctx context.Context, host, command string, out steps.OutputFunc) error {
	err := r.Runner.Run(ctx, host, command, out)
	if err != nil {
		r.mu.Lock()
		r.errs = append(r.errs, err)
		r.mu.Unlock()
	}
	return err
}

// RunDetached forwards to the real runner's detached mode (see steps.DetachedRunner), keeping errors too.
func (r *recRunner) RunDetached(ctx context.Context, host, id, command string, out steps.OutputFunc) error {
	dr, ok := r.Runner.(steps.DetachedRunner)
	if !ok {
		return r.Run(ctx, host, command, out)
	}
	err := dr.RunDetached(ctx, host, id, command, out)
	if err != nil {
		r.mu.Lock()
		r.errs = append(r.errs, err)
		r.mu.Unlock()
	}
	return err
}

// run is one plan driven by the engine against the real lab through live.OpenLocked, with every event kept.
type run struct {
	t      *testing.T
	eng    *steps.Engine
	world  *live.World
	runner *recRunner
	done   chan struct{}
	err    error

	mu     sync.Mutex
	events []steps.Event
	wake   chan struct{} // closed and replaced on every event
	// confirm, while true, confirms every confirmation gate as soon as its conditions hold.
	confirm bool
	pending map[string]bool // steps confirmed whose gate has not decided yet
	// stopConfirming, when set, ends the confirming at the first event it returns true for.
	stopConfirming func(steps.Event) bool
	onEvent        func(steps.Event)
	log            bytes.Buffer
}

// runOptions say how a plan is driven.
type runOptions struct {
	plan string
	// auto runs with AutoApprove (headless); otherwise every gate is confirmed by the test.
	auto bool
	// stopConfirming ends the test's confirmations at the first event it matches.
	stopConfirming func(steps.Event) bool
	// onEvent, when set, sees every event first, on the engine's goroutine: the engine waits for it.
	onEvent func(steps.Event)
}

// startRun opens the real adapters for l's inventory (inv when given) and starts the plan. The
// adapters are closed when the test ends.
func startRun(t *testing.T, inv *inventory.Inventory, o runOptions) *run {
	t.Helper()
	plan, err := steps.Build(inv, o.plan)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	w, err := live.OpenLocked(ctx, inv, live.Options{Operator: "e2e"})
	if err != nil {
		cancel()
		t.Fatalf("live.OpenLocked: %v", err)
	}
	r := &run{t: t, world: w, done: make(chan struct{}), wake: make(chan struct{}), confirm: !o.auto,
		pending: map[string]bool{}, stopConfirming: o.stopConfirming, onEvent: o.onEvent}
	ports := w.Ports()
	r.runner = &recRunner{Runner: ports.Hosts}
	ports.Hosts = r.runner
	pr := &steps.Printer{W: &lockedWriter{mu: &r.mu, w: &r.log}, ReadingsEvery: 2 * time.Second}
	r.eng = steps.New(inv, plan, ports, steps.Options{AutoApprove: o.auto, Operator: "e2e",
		Emit: func(ev steps.Event) { pr.Print(ev); r.emit(ev) }})
	t.Cleanup(func() {
		cancel()
		<-r.done
		for _, h := range inv.HostNames() { // the run's detached commands' directories, in this user's home
			_ = w.Hosts.RemoveRun(context.Background(), h)
		}
		w.Close()
		if t.Failed() {
			r.mu.Lock()
			t.Logf("events of the %s run:\n%s", o.plan, r.log.String())
			r.mu.Unlock()
		}
	})
	go func() {
		defer close(r.done)
		r.err = r.eng.Run(ctx)
	}()
	return r
}

// lockedWriter serialises writes to w with mu (the run's lock).
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// emit runs on the engine's goroutine: keep the event, confirm ready gates while confirming.
func (r *run) emit(ev steps.Event) {
	if r.onEvent != nil {
		r.onEvent(ev)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	close(r.wake)
	r.wake = make(chan struct{})
	if r.stopConfirming != nil && r.stopConfirming(ev) {
		r.confirm = false
	}
	switch ev.Kind {
	case steps.EvGateDecided:
		delete(r.pending, ev.StepID)
	case steps.EvGateWaiting:
		g := ev.Gate
		if r.confirm && g.Kind == steps.GateConfirm && g.Ready && g.Allows(steps.Confirm) && !r.pending[ev.StepID] {
			r.pending[ev.StepID] = true
			r.eng.Decide(steps.Decision{Kind: steps.Confirm, By: "e2e", StepID: ev.StepID})
		}
	}
}

// decide sends a decision for step id, as an operator's key press would.
func (r *run) decide(id string, k steps.DecisionKind) {
	r.eng.Decide(steps.Decision{Kind: k, By: "e2e", StepID: id})
}

// waitFor waits up to d for an event that matches and returns the first one, searching every event
// of the run so far.
func (r *run) waitFor(what string, d time.Duration, match func(steps.Event) bool) steps.Event {
	r.t.Helper()
	deadline := time.After(d)
	seen := 0
	// next looks at the events emitted since the last look; when none matches, it returns the
	// channel that the next event closes, read under the same lock so no event slips between.
	next := func() (steps.Event, bool, chan struct{}) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for ; seen < len(r.events); seen++ {
			if match(r.events[seen]) {
				return r.events[seen], true, nil
			}
		}
		return steps.Event{}, false, r.wake
	}
	for {
		ev, ok, wake := next()
		if ok {
			return ev
		}
		select {
		case <-wake:
		case <-r.done:
			// The run ended: look once more at what it emitted last.
			if ev, ok, _ := next(); ok {
				return ev
			}
			r.t.Fatalf("waiting for %s: the run ended first (err: %v)", what, r.err)
		case <-deadline:
			r.t.Fatalf("waiting for %s: nothing after %s", what, d)
		}
	}
}

// wait waits for Run to return and gives its error.
func (r *run) wait(d time.Duration) error {
	r.t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(d):
		r.t.Fatalf("the plan did not finish within %s", d)
		return nil
	}
}

// summary returns the plan's closing summary.
func (r *run) summary() *steps.Summary {
	r.t.Helper()
	return r.waitFor("plan-finished", time.Second, func(ev steps.Event) bool { return ev.Kind == steps.EvPlanFinished }).Summary
}

// when returns the time of the first event of kind for step id (and status, when given).
func (r *run) when(kind steps.Kind, id string, status steps.Status) time.Time {
	r.t.Helper()
	return r.waitFor(fmt.Sprintf("%s %s %s", kind, id, status), time.Second, func(ev steps.Event) bool {
		return ev.Kind == kind && ev.StepID == id && (status == "" || ev.Status == status)
	}).Time
}

// is matches an event of kind for step id.
func is(kind steps.Kind, id string) func(steps.Event) bool {
	return func(ev steps.Event) bool { return ev.Kind == kind && ev.StepID == id }
}

// gateOf matches a gate of kind at step id.
func gateOf(kind steps.GateKind, id string) func(steps.Event) bool {
	return func(ev steps.Event) bool {
		return ev.Kind == steps.EvGateWaiting && ev.StepID == id && ev.Gate.Kind == kind
	}
}

// output returns the output lines of step id that contain s.
func (r *run) output(id, s string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		if ev.Kind == steps.EvOutput && ev.StepID == id && strings.Contains(ev.Text, s) {
			out = append(out, ev.Text)
		}
	}
	return out
}
