package steps

import (
	"errors"
	"time"
)

// timed adds to a command's EvCommandFinished how long it ran and, when it ran to its end, its exit
// status: 0, or the status of an *ExitError. A command cut off or never started (connection lost,
// cancelled) has no exit status, only Err.
func timed(ev Event, d time.Duration, err error) Event {
	ev.Duration = d
	var xe *ExitError
	switch {
	case err == nil:
		ev.Exit = new(int)
	case errors.As(err, &xe):
		ev.Exit = &xe.Status
	}
	return ev
}

// Past says what the decision did, for a line like "bob approved from pts/3".
func (d Decision) Past() string {
	verb := map[DecisionKind]string{Confirm: "approved", Decline: "declined", Skip: "skipped", Retry: "retried",
		Abort: "aborted", Rollback: "rolled back"}[d.Kind]
	if verb == "" {
		verb = string(d.Kind)
	}
	s := d.By + " " + verb
	if d.From != "" {
		s += " from " + d.From
	}
	return s
}
