package steps

import (
	"fmt"
	"strings"
)

// Tally is what a run did off its plan's straight path, folded from its events: steps skipped, gates
// declined, steps retried, rollbacks and redone switches, and what users saw. The cockpit's end
// screen and the headless summary both read it, so both say the same.
type Tally struct {
	Skipped   []string // step IDs, in the order they were skipped
	Declined  []Count
	Retried   []Count
	Rollbacks []RollbackRecord
	// Redone counts switches redone after a rollback.
	Redone int
	// SkippedChecks and ConfirmedBy come from the plan's end: the verification steps skipped, and who
	// confirmed finishing without them.
	SkippedChecks []string
	ConfirmedBy   string
	Totals        ProbeTotals

	gates      map[string]GateKind // the kind of the gate each step waits at now
	rollbackBy string              // who asked for a rollback not yet done
}

// Count is how many times something happened at one step.
type Count struct {
	StepID string
	N      int
}

// RollbackRecord is one rollback: the sides, the step it interrupted, and who asked.
type RollbackRecord struct {
	From, To string
	StepID   string
	By       string
}

// Add folds one event into the tally.
func (t *Tally) Add(ev Event) {
	if t.gates == nil {
		t.gates = map[string]GateKind{}
	}
	switch ev.Kind {
	case EvGateWaiting:
		if ev.Gate != nil {
			t.gates[ev.StepID] = ev.Gate.Kind
		}
	case EvGateDecided:
		d := ev.Decision
		if d == nil {
			return
		}
		switch d.Kind {
		case Decline:
			t.Declined = bump(t.Declined, ev.StepID)
		case Retry:
			t.Retried = bump(t.Retried, ev.StepID)
		case Confirm:
			switch t.gates[ev.StepID] {
			case GateRolledBack:
				t.Redone++
			case GateFinish:
				t.ConfirmedBy = d.By
			}
		case Rollback:
			// At a gate the rollback is said done before it is said decided; while a step runs,
			// the other way round.
			if n := len(t.Rollbacks); n > 0 && t.Rollbacks[n-1].By == "" {
				t.Rollbacks[n-1].By = d.By
			} else {
				t.rollbackBy = d.By
			}
		}
	case EvStepFinished:
		if ev.Status == StatusSkipped {
			t.Skipped = append(t.Skipped, ev.StepID)
		}
	case EvRolledBack:
		rb := RollbackRecord{StepID: ev.StepID, By: t.rollbackBy}
		t.rollbackBy = ""
		if ev.Change != nil {
			rb.From, rb.To = ev.Change.From, ev.Change.To
		}
		t.Rollbacks = append(t.Rollbacks, rb)
	case EvReadings:
		if ev.Readings != nil {
			t.Totals = ev.Readings.Totals
		}
	case EvPlanFinished:
		if ev.Summary != nil {
			t.SkippedChecks = ev.Summary.SkippedChecks
		}
	}
}

func bump(cs []Count, id string) []Count {
	for i := range cs {
		if cs[i].StepID == id {
			cs[i].N++
			return cs
		}
	}
	return append(cs, Count{StepID: id, N: 1})
}

// Lines says the tally one item a line ("skipped: …", "declined: …", "retried: …", "rolled back: …",
// "users: …"), naming steps with name (a step's title, or its ID when name is nil). Items that did not
// happen are left out; the users line is always there.
func (t *Tally) Lines(name func(stepID string) string) []string {
	if name == nil {
		name = func(id string) string { return id }
	}
	var out []string
	if len(t.Skipped) > 0 {
		var names []string
		for _, id := range t.Skipped {
			names = append(names, name(id))
		}
		s := "skipped: " + strings.Join(names, "; ")
		if n := len(t.SkippedChecks); n > 0 {
			s += fmt.Sprintf(" (%d check%s never verified", n, plural(n))
			if t.ConfirmedBy != "" {
				s += "; finishing without them confirmed by " + t.ConfirmedBy
			}
			s += ")"
		}
		out = append(out, s)
	}
	counted := func(what string, cs []Count) {
		if len(cs) == 0 {
			return
		}
		var parts []string
		for _, c := range cs {
			parts = append(parts, fmt.Sprintf("%s (%d×)", name(c.StepID), c.N))
		}
		out = append(out, what+": "+strings.Join(parts, "; "))
	}
	counted("declined", t.Declined)
	counted("retried", t.Retried)
	if len(t.Rollbacks) > 0 {
		var parts []string
		for _, rb := range t.Rollbacks {
			s := rb.From + " → " + rb.To
			if rb.By != "" {
				s += " by " + rb.By
			}
			s += ", at " + name(rb.StepID)
			parts = append(parts, s)
		}
		s := "rolled back: " + strings.Join(parts, "; ")
		if t.Redone > 0 {
			s += fmt.Sprintf("; switch redone %d×", t.Redone)
		}
		out = append(out, s)
	}
	tot := t.Totals
	users := fmt.Sprintf("users: %d failed read%s, %d refused write%s", tot.FailedReads, plural(tot.FailedReads), tot.RefusedWrites, plural(tot.RefusedWrites))
	if tot.RefusedFor > 0 {
		users += fmt.Sprintf(" (refused for %.1f s)", tot.RefusedFor.Seconds())
	}
	if tot.FailedWrites > 0 {
		users += fmt.Sprintf(", %d failed write%s", tot.FailedWrites, plural(tot.FailedWrites))
	}
	return append(out, users)
}
