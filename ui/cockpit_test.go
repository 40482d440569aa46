package ui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/pitstop-ops/pitstop/steps"
)

func TestEmitNeverBlocks(t *testing.T) {
	inv := fixtureInventory(2)
	c := New(Config{Inventory: inv, Plan: fixturePlan(inv)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20_000 {
			c.Emit(steps.Event{Kind: steps.EvReadings, Readings: &steps.Readings{Downtime: time.Duration(i)}})
			c.Emit(steps.Event{Kind: steps.EvOutput, Host: "app-p1", Text: "x"})
		}
		c.Done(nil)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Emit blocked with nobody reading")
	}
	items, _ := c.queue.take(false)
	var readings, outputs int
	var last time.Duration
	for _, it := range items {
		switch it.ev.Kind {
		case steps.EvReadings:
			readings++
			last = it.ev.Readings.Downtime
		case steps.EvOutput:
			outputs++
		}
	}
	if readings > maxQueuedReadings || outputs != 20_000 {
		t.Errorf("queued %d readings (max %d) and %d output lines (want all 20000)", readings, maxQueuedReadings, outputs)
	}
	if last != 19_999 {
		t.Errorf("coalescing lost the newest reading: last queued has %v", last)
	}
	if !items[len(items)-1].done {
		t.Error("Done was not queued last")
	}
}

func TestQueueWakesOnlyWhenIdle(t *testing.T) {
	q := newEventQueue()
	q.push(item{ev: steps.Event{Kind: steps.EvNotice}})
	q.push(item{ev: steps.Event{Kind: steps.EvNotice}})
	if len(q.wake) != 1 {
		t.Fatalf("wake tokens = %d after two pushes, want 1", len(q.wake))
	}
	<-q.wake
	if items, more := q.take(false); len(items) != 2 || !more {
		t.Fatalf("take = %d items, more=%v; want 2, true", len(items), more)
	}
	q.push(item{ev: steps.Event{Kind: steps.EvNotice}}) // the model is still ticking: no wake
	if len(q.wake) != 0 {
		t.Fatal("a push woke a model that is already ticking")
	}
	q.take(false)
	if _, more := q.take(false); more {
		t.Fatal("an empty take without animation should go idle")
	}
	q.push(item{ev: steps.Event{Kind: steps.EvNotice}})
	if len(q.wake) != 1 {
		t.Fatal("the first push after going idle did not wake the model")
	}
}

// TestIdleStopsTicking checks the refresh contract: a wake starts the 250 ms frame tick, ticks go on
// while events come or a step runs, and stop as soon as a frame finds nothing to do.
func TestIdleStopsTicking(t *testing.T) {
	inv := fixtureInventory(2)
	c := New(Config{Inventory: inv, Plan: fixturePlan(inv), Now: fixedNow})
	m := c.model
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	for _, ev := range toSwitchGate(inv).evs {
		c.Emit(ev)
	}
	<-c.queue.wake
	if _, cmd := m.Update(wakeMsg{}); cmd == nil || !m.framing {
		t.Fatal("a wake did not start the frame tick")
	}
	if m.run.gate == nil {
		t.Fatal("the wake did not apply the queued events")
	}
	if _, cmd := m.Update(frameMsg{}); cmd != nil || m.framing {
		t.Fatal("an idle frame (gate waiting, nothing new) kept ticking")
	}
	c.Emit(steps.Event{Kind: steps.EvStepStarted, StepID: "switch-backup", Status: steps.StatusRunning})
	<-c.queue.wake
	m.Update(wakeMsg{})
	if _, cmd := m.Update(frameMsg{}); cmd == nil {
		t.Fatal("the spinner stopped while a step runs")
	}
	if m.frame != 1 {
		t.Errorf("spinner frame = %d after one frame, want 1", m.frame)
	}
	c.Emit(steps.Event{Kind: steps.EvStepFinished, StepID: "switch-backup", Status: steps.StatusDone})
	m.Update(frameMsg{})
	if _, cmd := m.Update(frameMsg{}); cmd != nil {
		t.Fatal("ticks went on after the step finished")
	}
}

// syncBuffer is a bytes.Buffer safe for the renderer's goroutine and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCockpit runs a Cockpit on pipes instead of a terminal and returns its input, output, decisions
// and the channel Run's error arrives on.
func startCockpit(t *testing.T, ctx context.Context) (*Cockpit, io.Writer, *syncBuffer, chan steps.Decision, chan error) {
	t.Helper()
	inv := fixtureInventory(2)
	decisions := make(chan steps.Decision, 10)
	c := New(Config{Inventory: inv, Plan: fixturePlan(inv), Demo: true, Operator: "bob", Now: fixedNow,
		Decide: func(d steps.Decision) { decisions <- d }})
	in, inW := io.Pipe()
	out := &syncBuffer{}
	c.testOpts = []tea.ProgramOption{tea.WithInput(in), tea.WithOutput(out), tea.WithWindowSize(100, 30),
		tea.WithoutSignalHandler(), tea.WithColorProfile(colorprofile.Ascii)}
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	t.Cleanup(func() { inW.Close(); in.Close() })
	return c, inW, out, decisions, errc
}

func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed %q; last output:\n%s", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCockpitConfirmsAndStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, in, out, decisions, errc := startCockpit(t, ctx)
	for _, ev := range toSwitchGate(fixtureInventory(2)).evs {
		c.Emit(ev)
	}
	waitOutput(t, out, "confirming will change")
	if _, err := in.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-decisions:
		if d != (steps.Decision{Kind: steps.Confirm, By: "bob", StepID: "switch-backup"}) {
			t.Errorf("decision = %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("y at the gate sent no decision")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled")
	}
}

func TestCockpitQuitsWhenFinished(t *testing.T) {
	c, in, out, decisions, errc := startCockpit(t, context.Background())
	for _, ev := range toFinished(fixtureInventory(2)).evs {
		c.Emit(ev)
	}
	c.Done(nil)
	waitOutput(t, out, "PLAN FINISHED")
	if _, err := in.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run after q = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("q did not quit a finished plan")
	}
	if len(decisions) != 0 {
		t.Errorf("quitting a finished plan sent %d decisions", len(decisions))
	}
}

func TestCloneIsolatesEngineMemory(t *testing.T) {
	inv := fixtureInventory(2)
	c := New(Config{Inventory: inv, Plan: fixturePlan(inv)})
	g := switchGate(false, inv)
	r := &steps.Readings{Hosts: map[string]steps.HostState{"db-b": {Badges: []steps.Badge{steps.BadgeStandby}}}}
	c.Emit(steps.Event{Kind: steps.EvGateWaiting, Gate: g})
	c.Emit(steps.Event{Kind: steps.EvReadings, Readings: r})
	// The engine goes on changing its gate and readings after emitting them.
	g.Ready, g.Conditions[0].OK, g.Allowed[0] = true, true, steps.Abort
	r.Hosts["db-b"].Badges[0] = steps.BadgePromoted
	items, _ := c.queue.take(false)
	qg, qr := items[0].ev.Gate, items[1].ev.Readings
	if qg.Ready || qg.Conditions[0].OK || qg.Allowed[0] != steps.Confirm {
		t.Errorf("the queued gate changed with the engine's: %+v", qg)
	}
	if qr.Hosts["db-b"].Badges[0] != steps.BadgeStandby {
		t.Errorf("the queued readings changed with the engine's: %+v", qr.Hosts)
	}
}

// TestCockpitRestoresTerminalOnPanic makes the view panic mid-run: Run must return the panic as an
// error instead of hanging, after leaving the alternate screen.
func TestCockpitRestoresTerminalOnPanic(t *testing.T) {
	// Bubble Tea prints the panic and its stack to stderr; keep the test's output readable.
	stderr := os.Stderr
	if devnull, err := os.Open(os.DevNull); err == nil {
		os.Stderr = devnull
		defer func() { os.Stderr = stderr; devnull.Close() }()
	}
	var boom atomic.Bool
	inv := fixtureInventory(2)
	c := New(Config{Inventory: inv, Plan: fixturePlan(inv), Now: func() time.Time {
		if boom.Load() {
			panic("view exploded")
		}
		return fixedNow()
	}})
	in, inW := io.Pipe()
	defer inW.Close()
	out := &syncBuffer{}
	c.testOpts = []tea.ProgramOption{tea.WithInput(in), tea.WithOutput(out), tea.WithWindowSize(100, 30),
		tea.WithoutSignalHandler(), tea.WithColorProfile(colorprofile.Ascii)}
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	for _, ev := range toSwitchGate(inv).evs {
		c.Emit(ev)
	}
	waitOutput(t, out, "GATE")
	boom.Store(true)
	c.Emit(steps.Event{Kind: steps.EvNotice, Text: "trigger a frame"})
	select {
	case err := <-errc:
		if !errors.Is(err, tea.ErrProgramPanic) {
			t.Errorf("Run after a panic = %v, want an error wrapping tea.ErrProgramPanic", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the view panicked")
	}
	if !strings.Contains(out.String(), "\x1b[?1049l") {
		t.Error("the alternate screen was not left after the panic")
	}
}
