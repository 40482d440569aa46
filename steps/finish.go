package steps

import (
	"context"
	"fmt"
	"time"
)

// ProbeTotals counts what the probe saw go wrong over a whole run: reads that failed and writes the
// database refused (read-only) or that failed otherwise, each counted apart because they mean
// different things to users (an error page, a form that cannot be saved).
type ProbeTotals struct {
	Reads         int `json:"reads,omitempty"`
	FailedReads   int `json:"failed_reads"`
	Writes        int `json:"writes,omitempty"`
	RefusedWrites int `json:"refused_writes"`
	FailedWrites  int `json:"failed_writes,omitempty"`
	// RefusedFor is how long writes were refused: each run of refused writes counts from its first
	// refused write to the first write after it that was not refused (or, while it lasts, to its
	// newest refused write). Zero when the probe cannot tell (it counts per reading then).
	RefusedFor time.Duration `json:"refused_for,omitempty"`
}

// IsCheck reports whether st only verifies (reaches hosts, waits for replication, proves where users
// are served, asks each host its version): skipping one leaves something unproven, not undone.
func IsCheck(st *Step) bool {
	switch st.Action {
	case ActPreflight, ActWaitSync, ActVerifyTraffic, ActVerifyDirect:
		return true
	}
	return false
}

// noteSkipped remembers a skipped verification step for the finishing gate.
func (e *Engine) noteSkipped(st *Step) {
	if IsCheck(st) {
		e.skippedChecks = append(e.skippedChecks, st.Title)
	}
}

// confirmSkipped asks, at the end of a plan that skipped checks, whether to finish that way: only an
// operator's confirmation lets the plan end done (exit 0); an abort ends it aborted. Under
// AutoApprove nothing is ever skipped, so skipped checks there mean something went wrong: the plan fails.
func (e *Engine) confirmSkipped(ctx context.Context) error {
	n := len(e.skippedChecks)
	if n == 0 {
		return nil
	}
	if e.opt.AutoApprove {
		return fmt.Errorf("the plan finished with %d skipped check%s and --auto-approve does not confirm finishing without them", n, plural(n))
	}
	st := &Step{ID: "finish", Title: "Finish the plan"}
	d, err := e.gate(ctx, st, GateFinish, "", false)
	if err != nil {
		return err
	}
	if d.Kind != Confirm {
		return ErrAborted
	}
	return nil
}

// skippedChecks is " with N skipped checks" for the final line, or "" when none were skipped.
func skippedChecks(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" with %d skipped check%s", n, plural(n))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
