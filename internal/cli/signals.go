package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return "interrupted by " + signalName(e.sig) }

// signalContext is cancelled by SIGINT or SIGTERM, with the signal as its cause (see exitCode): the
// commands that are not runs (watch, check, switch, lab, rehearse's clean-up) exit 130 or 143 as runs
// do (runSignals). In the cockpit ctrl+c is a key, not a signal.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			cancel(&signalError{sig: s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(context.Canceled)
	}
}

// exitCode is code, unless ctx was cancelled by a signal: then 130 after SIGINT, 143 after SIGTERM.
func exitCode(ctx context.Context, code int) int {
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		if se.sig == os.Interrupt {
			return exitSIGINT
		}
		return exitSIGTERM
	}
	return code
}
