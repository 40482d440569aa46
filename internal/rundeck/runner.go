package rundeck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Runner runs the commands that are Rundeck jobs through the API and hands every other command to
// Next. It implements steps.Runner, so the engine runs a Rundeck job like any command of a step: on
// each host of the step, in order, with the job's log as the command's output.
type Runner struct {
	Next   steps.Runner
	Client *Client
	// Poll is how often the log is read while nothing new arrives (default 500ms).
	Poll time.Duration
}

var _ steps.Runner = (*Runner)(nil)

// JobError is a Rundeck execution that did not succeed.
type JobError struct {
	Job       string
	ID        int64
	Status    string
	Permalink string
}

func (e *JobError) Error() string {
	s := fmt.Sprintf("Rundeck job %s, execution %d, ended %s", e.Job, e.ID, e.Status)
	if e.Permalink != "" {
		s += "; its log: " + e.Permalink
	}
	return s
}

// Run runs command on host: a Rundeck job through the API, anything else through Next.
func (r *Runner) Run(ctx context.Context, host, command string, out steps.OutputFunc) error {
	job, ok, err := inventory.ParseRundeckJob(command)
	if !ok {
		return r.Next.Run(ctx, host, command, out)
	}
	if err != nil {
		return err
	}
	if out == nil {
		out = func(steps.Stream, string) {}
	}
	// The start is not cut by ctx: a request cancelled in flight could start an execution whose id
	// never arrives, which nothing could then abort. Once the id is known, ctx is looked at again.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	ex, err := r.Client.Run(sctx, job.Job, job.Options, job.Filter)
	cancel()
	if err != nil {
		return err
	}
	out(steps.Stdout, fmt.Sprintf("rundeck: execution %d of job %s started: %s", ex.ID, job.Job, ex.Permalink))
	if ctx.Err() != nil {
		return r.abort(ctx, ex, out)
	}
	return r.follow(ctx, host, job.Job, ex, out)
}

// follow streams the execution's log until it has ended and the log is read, then reports its end.
// When ctx ends first (abort, rollback), the execution is aborted in Rundeck.
func (r *Runner) follow(ctx context.Context, host, jobID string, ex *Execution, out steps.OutputFunc) error {
	poll := r.Poll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	var offset, lastmod int64
	failures := 0
	state := ""
	for {
		o, err := r.Client.Output(ctx, ex.ID, offset, lastmod)
		if ctx.Err() != nil {
			return r.abort(ctx, ex, out)
		}
		if err != nil {
			// A hiccup reading the log does not stop the job; a lasting one fails the step, saying where
			// the execution can be followed.
			if failures++; failures >= 5 || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w; execution %d may still be running: %s", err, ex.ID, ex.Permalink)
			}
		} else {
			failures = 0
			for _, e := range o.Entries {
				line := e.Log
				if e.Node != "" && e.Node != host {
					line = e.Node + ": " + line
				}
				stream := steps.Stdout
				if e.Level == "ERROR" || e.Level == "WARN" {
					stream = steps.Stderr
				}
				for _, l := range strings.Split(line, "\n") {
					out(stream, l)
				}
			}
			offset, lastmod = int64(o.Offset), int64(o.LastMod)
			state = o.ExecState
			if o.ExecCompleted && o.Completed {
				break
			}
			if len(o.Entries) > 0 && !o.Completed {
				continue // more log is waiting: read it at once
			}
		}
		select {
		case <-ctx.Done():
			return r.abort(ctx, ex, out)
		case <-time.After(poll):
		}
	}
	if state == "" || !slices.Contains([]string{"succeeded", "failed", "aborted", "timedout", "failed-with-retry"}, state) {
		// The output answer does not always carry the final state: ask for the execution.
		final, err := r.Client.Execution(ctx, ex.ID)
		if err != nil {
			return fmt.Errorf("%w; see %s", err, ex.Permalink)
		}
		state = final.Status
	}
	if state != "succeeded" {
		return &JobError{Job: jobID, ID: ex.ID, Status: state, Permalink: ex.Permalink}
	}
	out(steps.Stdout, fmt.Sprintf("rundeck: execution %d succeeded", ex.ID))
	return nil
}

// abort aborts the execution with a context of its own (ctx has ended) and returns ctx's error.
func (r *Runner) abort(ctx context.Context, ex *Execution, out steps.OutputFunc) error {
	actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, err := r.Client.Abort(actx, ex.ID)
	if err != nil {
		out(steps.Stderr, fmt.Sprintf("rundeck: could not abort execution %d (%v); abort it in Rundeck: %s", ex.ID, err, ex.Permalink))
		return fmt.Errorf("%w; Rundeck execution %d was not aborted: %v", context.Cause(ctx), ex.ID, err)
	}
	out(steps.Stderr, fmt.Sprintf("rundeck: execution %d abort %s: %s", ex.ID, status, ex.Permalink))
	return context.Cause(ctx)
}

// Check reads the token's validity and every job the inventory's commands use, one line per check:
// what pitstop check and a run's preflight need before anything changes.
func Check(ctx context.Context, c *Client, inv *inventory.Inventory) (lines []string, err error) {
	v, err := c.SystemInfo(ctx)
	if err != nil {
		return nil, err
	}
	lines = append(lines, fmt.Sprintf("rundeck: %s answers (Rundeck %s), the API token is accepted", c.Base.Redacted(), v))
	seen := map[string]bool{}
	for _, cmd := range append(append([]string{}, inv.Upgrade.Commands...), inv.Upgrade.Migrate.Commands...) {
		j, ok, _ := inventory.ParseRundeckJob(cmd)
		if !ok || seen[j.Job] {
			continue
		}
		seen[j.Job] = true
		info, err := c.Job(ctx, j.Job)
		if err != nil {
			return lines, err
		}
		lines = append(lines, fmt.Sprintf("rundeck: job %s is %q in project %s", j.Job, strings.TrimPrefix(info.Group+"/"+info.Name, "/"), info.Project))
	}
	return lines, nil
}
