package rundeck

// The Rundeck here is the stand-in server of fake_test.go, not a real Rundeck (which cannot be
// installed on these machines): see that file.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// lines records a command's output.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) out(s steps.Stream, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, string(s)+" "+line)
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// shellRunner records the commands that were not Rundeck jobs.
type shellRunner struct{ ran []string }

func (s *shellRunner) Run(_ context.Context, host, cmd string, _ steps.OutputFunc) error {
	s.ran = append(s.ran, host+": "+cmd)
	return nil
}

func jobCommand(t *testing.T, id string, opts map[string]string, filter string) string {
	t.Helper()
	return (&inventory.RundeckJob{Job: id, Options: opts, Filter: filter}).String()
}

func testJobs() map[string]*fakeJob {
	return map[string]*fakeJob{
		"upgrade-job": {name: "upgrade shop", final: "succeeded", pieces: [][]LogEntry{
			{{Log: "stopping shop", Level: "NORMAL", Node: "app-p1"}},
			{},
			{{Log: "installing 2.4.0", Level: "NORMAL", Node: "app-p1"}, {Log: "disk 91% full", Level: "WARN", Node: "app-p1"}},
			{{Log: "refreshing cache", Level: "NORMAL", Node: "cache-1"}},
		}},
		"failing-job": {name: "migrate", final: "failed", pieces: [][]LogEntry{
			{{Log: "migration 42 failed: relation exists", Level: "ERROR", Node: "app-p1"}},
		}},
		"endless-job": {name: "never ends", pieces: [][]LogEntry{{{Log: "working", Level: "NORMAL", Node: "app-p1"}}}},
	}
}

func TestRunJobStreamsLogInPieces(t *testing.T) {
	f := newFakeRundeck(t, testJobs())
	shell := &shellRunner{}
	r := &Runner{Next: shell, Client: f.client(t, goodToken), Poll: 10 * time.Millisecond}
	var out lines
	cmd := jobCommand(t, "upgrade-job", map[string]string{"version": "2.4.0"}, "name: app-p1")
	if err := r.Run(context.Background(), "app-p1", cmd, out.out); err != nil {
		t.Fatal(err)
	}
	got := out.text()
	want := []string{
		"stdout rundeck: execution 101 of job upgrade-job started: " + f.permalink(101),
		"stdout stopping shop",
		"stdout installing 2.4.0",
		"stderr disk 91% full",
		"stdout cache-1: refreshing cache", // another node's line says whose it is
		"stdout rundeck: execution 101 succeeded",
	}
	if got != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	ex := f.execution(101)
	if ex.options["version"] != "2.4.0" || ex.filter != "name: app-p1" {
		t.Errorf("run request had options %v filter %q", ex.options, ex.filter)
	}
	// Each read started where the previous answer said: 0, then past each piece.
	if len(ex.offsets) < 4 || ex.offsets[0] != 0 || ex.offsets[len(ex.offsets)-1] == 0 {
		t.Errorf("offsets asked %v", ex.offsets)
	}
	for i := 1; i < len(ex.offsets); i++ {
		if ex.offsets[i] < ex.offsets[i-1] {
			t.Errorf("offset went back: %v", ex.offsets)
		}
	}
	if len(shell.ran) != 0 {
		t.Errorf("a Rundeck job went to the shell runner: %v", shell.ran)
	}
	if err := r.Run(context.Background(), "app-p1", "sudo systemctl restart shop", out.out); err != nil || len(shell.ran) != 1 {
		t.Errorf("a shell command did not go to the shell runner: %v %v", err, shell.ran)
	}
}

func TestRunJobFailedExecution(t *testing.T) {
	f := newFakeRundeck(t, testJobs())
	r := &Runner{Next: &shellRunner{}, Client: f.client(t, goodToken), Poll: 10 * time.Millisecond}
	var out lines
	err := r.Run(context.Background(), "app-p1", jobCommand(t, "failing-job", nil, ""), out.out)
	var je *JobError
	if !errors.As(err, &je) || je.Status != "failed" || je.Permalink != f.permalink(101) {
		t.Fatalf("error %v; want a JobError with status failed and the execution's link", err)
	}
	if !strings.Contains(err.Error(), "execution 101, ended failed; its log: "+f.permalink(101)) {
		t.Errorf("message %q", err)
	}
	if !strings.Contains(out.text(), "stderr migration 42 failed") {
		t.Errorf("the failure's log line is missing:\n%s", out.text())
	}
}

func TestRunJobAbortedWhenCancelled(t *testing.T) {
	f := newFakeRundeck(t, testJobs())
	r := &Runner{Next: &shellRunner{}, Client: f.client(t, goodToken), Poll: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	var out lines
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, "app-p1", jobCommand(t, "endless-job", nil, ""), out.out) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.text(), "working") {
		if time.Now().After(deadline) {
			t.Fatal("the job's log never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel() // what the engine does on abort or rollback
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if ex := f.execution(101); ex.status != "aborted" || f.aborts != 1 {
		t.Errorf("execution %s after %d aborts; want aborted once", ex.status, f.aborts)
	}
	if !strings.Contains(out.text(), "rundeck: execution 101 abort aborted") {
		t.Errorf("the abort is not in the output:\n%s", out.text())
	}
}

func TestClientErrors(t *testing.T) {
	f := newFakeRundeck(t, testJobs())
	ctx := context.Background()
	// 401: a bad token, named as such, never printed.
	bad := f.client(t, "wrong-secret-token")
	_, err := bad.SystemInfo(ctx)
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "wrong-secret-token") || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("bad token: %v", err)
	}
	r := &Runner{Next: &shellRunner{}, Client: bad}
	if err := r.Run(ctx, "app-p1", jobCommand(t, "upgrade-job", nil, ""), nil); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("run with a bad token: %v", err)
	}
	// 404: an unknown job.
	good := f.client(t, goodToken)
	_, err = good.Run(ctx, "no-such-job", nil, "")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "Job ID does not exist: no-such-job") {
		t.Errorf("unknown job: %v", err)
	}
	if _, err := good.Output(ctx, 999, 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown execution: %v", err)
	}
	// Unreachable: a server that has gone away.
	gone := newFakeRundeck(t, nil)
	c := gone.client(t, goodToken)
	gone.srv.Close()
	if _, err := c.SystemInfo(ctx); !errors.Is(err, ErrUnreachable) || strings.Contains(err.Error(), goodToken) {
		t.Errorf("unreachable: %v", err)
	}
}

func TestCheck(t *testing.T) {
	f := newFakeRundeck(t, testJobs())
	inv := &inventory.Inventory{Upgrade: inventory.Upgrade{
		Commands: inventory.CommandList{"true", jobCommand(t, "upgrade-job", nil, "")},
		Migrate:  inventory.Migrate{Commands: inventory.CommandList{jobCommand(t, "failing-job", nil, "")}},
	}}
	lines, err := Check(context.Background(), f.client(t, goodToken), inv)
	if err != nil {
		t.Fatal(err)
	}
	want := `rundeck: job upgrade-job is "shop/upgrade shop" in project ops`
	if len(lines) != 3 || !strings.Contains(lines[0], "the API token is accepted") || lines[1] != want {
		t.Errorf("check lines %q", lines)
	}
	inv.Upgrade.Commands = append(inv.Upgrade.Commands, jobCommand(t, "gone-job", nil, ""))
	if _, err := Check(context.Background(), f.client(t, goodToken), inv); !errors.Is(err, ErrNotFound) {
		t.Errorf("check with a missing job: %v", err)
	}
	if _, err := Check(context.Background(), f.client(t, "nope"), inv); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("check with a bad token: %v", err)
	}
}
