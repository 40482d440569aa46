package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// fakeRunDirs records which hosts' run directories were removed; fail makes a host's removal fail.
type fakeRunDirs struct {
	mu      sync.Mutex
	removed []string
	fail    map[string]error
}

func (f *fakeRunDirs) RemoveRun(_ context.Context, host string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[host]; err != nil {
		return err
	}
	f.removed = append(f.removed, host)
	return nil
}

func (f *fakeRunDirs) RunDir() string { return "~/.cache/pitstop/runs/RUN" }

// runJournal writes a journal of two processes of run "r1" (one killed after starting a command on
// app-b1 it never saw end, and its resume), with a command of an earlier run "r0" on old-host, a
// Rundeck job on rd-host, and a command still running on db-b.
func runJournal(t *testing.T, openOnDB bool) *steps.Journal {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.jsonl")
	write := func(run string, evs ...steps.Event) *steps.Journal {
		j, _, err := steps.OpenJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Begin(steps.JournalHeader{Plan: "readonly", Inventory: "/shop.yaml", Run: run}); err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			j.Write(ev)
		}
		return j
	}
	cmd := func(step, host, c string, finished bool) []steps.Event {
		evs := []steps.Event{{Kind: steps.EvOutput, StepID: step, Host: host, Text: "$ " + c}}
		if finished {
			evs = append(evs, steps.Event{Kind: steps.EvCommandFinished, StepID: step, Host: host, Text: c, Status: steps.StatusDone})
		}
		return evs
	}
	write("r0", cmd("upgrade-production", "old-host", "true", false)...).Close()
	write("r1", slices.Concat(cmd("upgrade-production", "app-p1", "install", true), cmd("upgrade-backup", "app-b1", "install", false),
		cmd("upgrade-backup", "rd-host", (&inventory.RundeckJob{Job: "deploy"}).String(), true))...).Close()
	// The resume re-attaches to app-b1's command and sees it end.
	return write("r1", slices.Concat(cmd("upgrade-backup", "app-b1", "install", true), cmd("rebuild-backup", "db-b", "rebuild", !openOnDB))...)
}

// TestEndRunDirs: a run that is over removes its directory on each host a command of it ran on (its
// interrupted processes' included, an earlier run's and Rundeck's not), keeps it where a command's end
// is not recorded, warns when a removal fails and never fails the run; a run stopped half-way keeps
// every one and says where.
func TestEndRunDirs(t *testing.T) {
	inv := &inventory.Inventory{Source: "shop.yaml"}
	for _, tc := range []struct {
		name        string
		runErr      error
		openOnDB    bool
		fail        map[string]error
		wantRemoved []string
		wantOut     []string
	}{
		{name: "finished", wantRemoved: []string{"app-b1", "app-p1", "db-b"}},
		{name: "aborted, a command's end not recorded", runErr: steps.ErrAborted, openOnDB: true, wantRemoved: []string{"app-b1", "app-p1"},
			wantOut: []string{"pitstop: kept ~/.cache/pitstop/runs/RUN on db-b: db-b: " + remote.ErrCommandsLeft.Error()}},
		{name: "a removal fails", fail: map[string]error{"app-p1": errors.New("app-p1: connection refused")}, wantRemoved: []string{"app-b1", "db-b"},
			wantOut: []string{"pitstop: warning: could not remove ~/.cache/pitstop/runs/RUN on app-p1: app-p1: connection refused; the run is not affected"}},
		{name: "stopped half-way", runErr: &steps.HaltError{StepID: "x", Reason: "SIGHUP"},
			wantOut: []string{"pitstop: the commands' output and exit status stay in ~/.cache/pitstop/runs/RUN on app-b1, app-p1, db-b; pitstop run -i shop.yaml re-attaches to them there"}},
		{name: "failed step", runErr: fmt.Errorf("step upgrade-backup failed"), wantOut: []string{"stay in ~/.cache/pitstop/runs/RUN on app-b1, app-p1, db-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := runJournal(t, tc.openOnDB)
			defer j.Close()
			f := &fakeRunDirs{fail: tc.fail}
			s := &session{journal: j, runDirs: f, sig: &runSignals{halt: steps.NewHalter()}}
			var out strings.Builder
			s.endRunDirs(inv, tc.runErr, &out)
			slices.Sort(f.removed)
			if !slices.Equal(f.removed, tc.wantRemoved) {
				t.Errorf("removed on %v, want %v", f.removed, tc.wantRemoved)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if len(tc.wantOut) == 0 && out.Len() > 0 {
				t.Errorf("output %q, want none", out.String())
			}
		})
	}
}
