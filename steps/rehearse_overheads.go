package steps

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Overheads are the parts of a plan's write-refusal window that are neither the upgrade nor the
// migration — switches, proofs, the direct check, the engine's gates — as measured in an earlier run
// on this setup. The rehearse plan's prediction uses them instead of its defaults.
type Overheads struct {
	// Readonly is the readonly plan's overhead.
	Readonly time.Duration `json:"readonly"`
	// From names the journal they were read from.
	From string `json:"from"`
}

// ReadonlyOverhead reads a journal of a finished readonly run and returns its window's overhead: the
// time users were on the backup — from the switch to the backup's reload taking effect to the switch
// back's — minus the upgrade and migration steps and the time operators took at the gates in
// between (confirmations by --auto-approve are counted: they are the engine's own time).
func ReadonlyOverhead(r io.Reader) (time.Duration, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var on, off time.Time
	var work, operator time.Duration
	waiting := map[string]time.Time{}
	done := false
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return 0, fmt.Errorf("not a journal: %w", err)
		}
		if ev.Plan != PlanReadonly {
			continue
		}
		inWindow := !on.IsZero() && off.IsZero()
		switch {
		case ev.Kind == EvPlanStarted:
			on, off, work, operator, done = time.Time{}, time.Time{}, 0, 0, false // a new run in the same file
		case ev.Kind == EvOutput && strings.HasPrefix(ev.Text, "reload took effect"):
			switch ev.StepID {
			case "switch-to-backup":
				on = ev.Time
			case "switch-to-production":
				off = ev.Time
			}
		case ev.Kind == EvStepStarted && ev.Status == StatusWaiting && inWindow:
			waiting[ev.StepID] = ev.Time
		case ev.Kind == EvGateDecided && inWindow && ev.Decision != nil && ev.Decision.By != "auto-approve":
			if t, ok := waiting[ev.StepID]; ok {
				operator += ev.Time.Sub(t)
			}
		case ev.Kind == EvStepFinished && ev.Status == StatusDone && (ev.StepID == "upgrade-production" || ev.StepID == "migrate-production"):
			work += ev.Duration
		case ev.Kind == EvPlanFinished:
			done = ev.Status == StatusDone
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !done || on.IsZero() || off.IsZero() {
		return 0, errors.New("no finished readonly run with both switches in it")
	}
	return max(off.Sub(on)-work-operator, 0), nil
}
