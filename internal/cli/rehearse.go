package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/steps"
)

// cleanupTimeout bounds the clean-up after a failed, aborted or interrupted rehearsal.
const cleanupTimeout = 3 * time.Minute

func cmdRehearse(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("rehearse", "rehearse -i FILE [--plan NAME] [--auto-approve] [--cleanup]", stderr)
	f.register(fs, true)
	cleanupOnly := fs.Bool("cleanup", false, "only stop and remove the copy and the rehearsal app an earlier rehearsal left behind (killed, say), then exit")
	overheadsFrom := fs.String("overheads-from", "", "read the switch and gate overheads from this readonly run's journal `FILE` (default: the newest finished one of this inventory in the journal directory)")
	cmdTimeout := fs.Duration("command-timeout", 0, "stop any one command that runs longer than this, failing its step (0: no limit)")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	if *cmdTimeout < 0 {
		fmt.Fprintf(stderr, "pitstop rehearse: --command-timeout %s: give 0 (no limit) or a positive duration, e.g. 30m\n", *cmdTimeout)
		return exitBadInput
	}
	if err := f.check(); err != nil {
		fmt.Fprintln(stderr, "pitstop rehearse:", err)
		return exitBadInput
	}
	inv, code := loadReal("rehearse", f.inventory, "there is no database to copy (the demo cannot rehearse on real data)", stderr)
	if inv == nil {
		return code
	}
	forPlan := f.plan
	plan, err := steps.BuildRehearse(inv, forPlan)
	if err != nil {
		fmt.Fprintln(stderr, "pitstop rehearse:", err)
		return exitBadInput
	}
	ov, err := overheads(inv.Name, *overheadsFrom)
	if err != nil {
		fmt.Fprintln(stderr, "pitstop rehearse:", err)
		return exitBadInput
	}
	plan.Step("predict").Overheads = ov
	ctx, stop := signalContext()
	defer stop()
	opt := live.Options{Parallel: f.parallel, Remote: remote.Options{CommandTimeout: *cmdTimeout}}
	if *cleanupOnly {
		w, rh, err := live.OpenRehearsal(ctx, inv, opt)
		if err != nil {
			fmt.Fprintln(stderr, "pitstop rehearse:", err)
			return exitFailed
		}
		defer w.Close()
		fmt.Fprintf(stdout, "rehearse: stopping and removing the copy in %s on %s\n", inv.Rehearsal.DataDir, inv.Rehearsal.Host)
		if err := rh.Cleanup(ctx, stdout); err != nil {
			fmt.Fprintln(stderr, "pitstop rehearse --cleanup:", err)
			return exitFailed
		}
		fmt.Fprintln(stdout, "rehearse: clean")
		return exitOK
	}
	f.plan = steps.PlanRehearse
	s, code := prepare("rehearse", inv, &f, stderr)
	if s == nil {
		return code
	}
	s.plan = plan
	opt.Remote.RunID = s.runID() // as a run's: the directory of its detached commands is named after the journal
	w, rh, err := live.OpenRehearsal(ctx, inv, opt)
	if err != nil {
		s.abandon()
		fmt.Fprintln(stderr, "pitstop rehearse:", err)
		return exitFailed
	}
	defer w.Close()
	s.runDirs = w.Hosts // the rehearsal's commands run detached like a run's: their directories go at the end
	s.oneShot = true
	// Before anything starts: a directory or port something else holds is bad input; an earlier
	// rehearsal's leftovers are removed.
	if err := rh.Prepare(ctx, stdout); err != nil {
		s.abandon()
		fmt.Fprintln(stderr, "pitstop rehearse:", err)
		if errors.Is(err, live.ErrRehearsalBusy) {
			return exitBadInput
		}
		return exitFailed
	}
	code = drive(ctx, inv, s, rh.Ports(), f, stdout, stderr)
	if code != exitOK {
		// Failed, aborted or interrupted: the copy and the rehearsal app must not stay behind. A
		// kill -9 skips this; the next rehearse (or rehearse --cleanup) removes them.
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		fmt.Fprintf(stdout, "rehearse: cleaning up: stopping and removing the copy in %s on %s\n", inv.Rehearsal.DataDir, inv.Rehearsal.Host)
		j, _, jerr := steps.OpenJournal(s.journal.Path())
		out := io.Writer(stdout)
		if jerr == nil {
			defer j.Close()
			out = io.MultiWriter(stdout, journalLines{j})
		}
		if err := rh.Cleanup(cctx, out); err != nil {
			fmt.Fprintf(stderr, "pitstop rehearse: the clean-up failed: %v; run pitstop rehearse --cleanup -i %s\n", err, inv.Source)
		} else {
			fmt.Fprintln(out, "rehearse: clean-up done")
		}
	}
	return exitCode(ctx, code) // 130 after SIGINT, like every command
}

// overheads reads the readonly plan's switch and gate overheads from file, or, when file is empty,
// from the newest journal of a finished readonly run of this inventory in the default journal
// directory; nil (the defaults) when there is none.
func overheads(inv, file string) (*steps.Overheads, error) {
	read := func(path string) (*steps.Overheads, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		d, err := steps.ReadonlyOverhead(f)
		if err != nil {
			return nil, err
		}
		return &steps.Overheads{Readonly: d, From: path}, nil
	}
	if file != "" {
		ov, err := read(file)
		if err != nil {
			return nil, fmt.Errorf("--overheads-from %s: %w; name the journal of a readonly run that finished", file, err)
		}
		return ov, nil
	}
	pattern := filepath.Join(filepath.Dir(defaultJournal(inv, steps.PlanReadonly)), fileSafe(inv)+"-"+steps.PlanReadonly+"-*.jsonl")
	files, _ := filepath.Glob(pattern)
	sort.Sort(sort.Reverse(sort.StringSlice(files))) // the names end in their start time
	for _, f := range files {
		if ov, err := read(f); err == nil {
			return ov, nil
		}
	}
	return nil, nil
}

// journalLines writes each line it is given to the journal as a notice of the rehearsal's clean-up.
type journalLines struct{ j *steps.Journal }

func (w journalLines) Write(p []byte) (int, error) {
	w.j.Write(steps.Event{Time: time.Now(), Kind: steps.EvNotice, Plan: steps.PlanRehearse, StepID: "cleanup", Text: string(p)})
	return len(p), nil
}
