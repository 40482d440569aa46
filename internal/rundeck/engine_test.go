package rundeck

// The engine driving a plan whose upgrade is a Rundeck job: the Runner wraps the world's runner as
// live.World.Ports does. The Rundeck is the stand-in of fake_test.go; the rest of the world (hosts,
// nginx, databases, probe) is the simulated demo world, since only the Rundeck path is under test here
// (the real lab runs it in e2e.TestRundeckJobsUpgradeLab).

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/demo"
	"github.com/pitstop-ops/pitstop/steps"
)

// engineRun runs the readonly plan with the upgrade as job; onEvent sees each event (with the engine).
func engineRun(t *testing.T, f *fakeRundeck, job string, onEvent func(*steps.Engine, steps.Event, context.CancelFunc)) ([]steps.Event, error) {
	t.Helper()
	inv, err := demo.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	inv.Upgrade.Commands = []string{jobCommand(t, job, map[string]string{"version": "{version}"}, "name: {host}")}
	plan, err := steps.Build(inv, steps.PlanReadonly)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := demo.NewWorld(inv, demo.Options{Speed: 50, Seed: 1})
	w.Start(ctx)
	defer w.Close()
	ports := w.Ports()
	ports.Hosts = &Runner{Next: ports.Hosts, Client: f.client(t, goodToken), Poll: 10 * time.Millisecond}
	var mu sync.Mutex
	var events []steps.Event
	var eng *steps.Engine
	eng = steps.New(inv, plan, ports, steps.Options{AutoApprove: true, Operator: "test", Emit: func(ev steps.Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		if onEvent != nil {
			onEvent(eng, ev, cancel)
		}
	}})
	err = eng.Run(ctx)
	mu.Lock()
	defer mu.Unlock()
	return events, err
}

func TestEngineFailsStepOnFailedExecution(t *testing.T) {
	f := newFakeRundeck(t, testJobs())
	events, err := engineRun(t, f, "failing-job", nil)
	if err == nil {
		t.Fatal("the plan succeeded although the job failed")
	}
	var failed *steps.Event
	for i, ev := range events {
		if ev.Kind == steps.EvStepFinished && ev.StepID == "upgrade-production" {
			failed = &events[i]
		}
	}
	if failed == nil || failed.Status != steps.StatusFailed || !strings.Contains(failed.Err, "ended failed; its log: "+f.srv.URL+"/project/ops/execution/show/") {
		t.Fatalf("upgrade-production ended %+v; want failed with the execution's status and link", failed)
	}
	logged := false
	for _, ev := range events {
		logged = logged || (ev.Kind == steps.EvOutput && ev.StepID == "upgrade-production" && ev.Stream == steps.Stderr &&
			strings.HasPrefix(ev.Host, "app-p") && ev.Text == "migration 42 failed: relation exists")
	}
	if !logged {
		t.Error("the job's log is not in the step's output under its host")
	}
}

func TestEngineAbortAbortsExecution(t *testing.T) {
	f := newFakeRundeck(t, testJobs())
	var once sync.Once
	_, err := engineRun(t, f, "endless-job", func(eng *steps.Engine, ev steps.Event, _ context.CancelFunc) {
		if ev.Kind == steps.EvOutput && ev.StepID == "upgrade-production" && ev.Text == "working" {
			once.Do(func() { go eng.Decide(steps.Decision{Kind: steps.Abort, By: "test", StepID: ev.StepID}) })
		}
	})
	if !errors.Is(err, steps.ErrAborted) {
		t.Fatalf("run ended with %v; want aborted", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.exec) == 0 || f.aborts != len(f.exec) {
		t.Errorf("%d executions, %d aborted; want every one aborted", len(f.exec), f.aborts)
	}
	for id, ex := range f.exec {
		if ex.status != "aborted" {
			t.Errorf("execution %d is %s", id, ex.status)
		}
	}
}

func TestEngineRollbackAbortsExecution(t *testing.T) {
	f := newFakeRundeck(t, testJobs())
	var once sync.Once
	decided := false
	var started, aborted int
	engineRun(t, f, "endless-job", func(eng *steps.Engine, ev steps.Event, stop context.CancelFunc) {
		if ev.Kind == steps.EvOutput && ev.StepID == "upgrade-production" && ev.Text == "working" {
			once.Do(func() {
				go eng.Decide(steps.Decision{Kind: steps.Rollback, By: "test", StepID: ev.StepID, Force: true})
			})
		}
		if ev.Kind == steps.EvGateDecided && ev.Decision != nil && ev.Decision.Kind == steps.Rollback && !decided {
			// The engine says the rollback is decided once the step has stopped: by then the
			// executions it ran must have been aborted.
			decided = true
			f.mu.Lock()
			started, aborted = len(f.exec), f.aborts
			f.mu.Unlock()
			stop()
		}
	})
	if !decided {
		t.Fatal("no rollback was decided")
	}
	if started == 0 || aborted != started {
		t.Errorf("%d executions, %d aborted when the rollback was decided; want every one aborted", started, aborted)
	}
}
