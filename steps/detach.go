package steps

import (
	"context"
	"fmt"
)

// DetachedRunner is a Runner whose commands outlive the controller: a command started with
// RunDetached keeps running on its host if Pitstop dies or the connection drops, with its output and
// exit status kept there, and a later call with the same id re-attaches to it (its output from the
// start, then how it ended) instead of starting it again. Cancelling ctx kills it explicitly.
type DetachedRunner interface {
	RunDetached(ctx context.Context, host, id, command string, out OutputFunc) error
}

// CommandID names the attempt-th run of the i-th command of step on host: the id a DetachedRunner
// keeps the command under. A retry is a new attempt, so it runs the command again.
func CommandID(step, host string, i, attempt int) string {
	return fmt.Sprintf("%s.%s.%d.%d", step, host, i, attempt)
}

// runOn runs the i-th command of st on host: detached when the world's runner can, so that a step's
// commands survive a crash of Pitstop or a dropped connection.
func (e *Engine) runOn(ctx context.Context, st *Step, host string, i int, cmd string, out OutputFunc) error {
	dr, ok := e.world.Hosts.(DetachedRunner)
	if !ok {
		return e.world.Hosts.Run(ctx, host, cmd, out)
	}
	key := CommandID(st.ID, host, i, 0)
	e.busyMu.Lock()
	if e.attempts == nil {
		e.attempts = map[string]int{}
	}
	e.attempts[key]++
	n := e.attempts[key]
	e.busyMu.Unlock()
	return dr.RunDetached(ctx, host, CommandID(st.ID, host, i, n), cmd, out)
}
