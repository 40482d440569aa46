package remote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// watchdog runs the command ($1) with sh, its input from /dev/null, and a watcher that waits for the
// session's input (kept on fd 3: an asynchronous list's own input is /dev/null) to end. Pitstop keeps
// that input open while the command runs and closes it to cancel; sshd closes it when the connection
// drops. Either way the watcher then kills the whole process group (sshd makes each session its own),
// so a cancelled command, or one whose connection dropped, does not linger on the host. When the
// command ends by itself the watcher is stopped and the command's status returned. The wrapper's own
// stderr is /dev/null so that sh's job reports ("Terminated") never mix with the command's output.
const watchdog = `exec 3<&0 4>&2 </dev/null 2>/dev/null; sh -c "$1" 2>&4 3<&- 4>&- & c=$!; ` +
	`{ read -r _ <&3; kill -KILL 0; } >/dev/null 4>&- & w=$!; exec 3<&- 4>&-; wait $c; s=$?; kill $w; exit $s`

// wrap is the command line sent to sshd. It is run by the user's login shell, so it only needs that shell
// to understand POSIX single quotes; the command itself always runs under sh, as it does on local hosts.
func wrap(command string) string {
	return "exec sh -c " + shell.Quote(watchdog) + " pitstop " + shell.Quote(command)
}

// closeWait bounds how long a cancelled session may take to close before the connection is dropped.
const closeWait = 5 * time.Second

// runSSH runs command on host over the pooled connection.
func (p *Pool) runSSH(ctx context.Context, host string, t inventory.Target, command string, out steps.OutputFunc) error {
	c, sess, release, err := p.session(ctx, host, t, command)
	if err != nil {
		return err
	}
	defer release()
	defer sess.Close()
	err = runSession(ctx, sess, command, out)
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		if errors.Is(err, errStuck) {
			p.forget(host, c)
		}
		return fmt.Errorf("run %q on %s: %w; the command was killed", command, host, context.Cause(ctx))
	case errors.As(err, &exit):
		return &steps.ExitError{Host: host, Command: command, Status: exit.ExitStatus()}
	case p.isClosed():
		return fmt.Errorf("run %q on %s: %w", command, host, errPoolClosed)
	}
	// The session ended without an exit status. Usually the connection is gone (then the next command
	// reconnects); if it is still up, sshd closed this one session and the others on it carry on.
	select {
	case <-c.l.done:
	case <-time.After(time.Second):
	}
	if !c.l.alive() {
		p.forget(host, c)
		return fmt.Errorf("%w: %s (ssh %s) while running %q: %v; the command may have half-run: check the host before running it again (the next command reconnects)",
			steps.ErrConnectionLost, host, t, command, err)
	}
	return fmt.Errorf("%w: sshd on %s (ssh %s) ended %q without an exit status (%v); the command may have half-run: check the host before running it again",
		steps.ErrConnectionLost, host, t, command, err)
}

// session opens a session on host's connection, within the connection's session limit. A connection
// found dead (it dropped while idle) is replaced once: no command had started on it, so that is safe.
func (p *Pool) session(ctx context.Context, host string, t inventory.Target, command string) (*conn, *ssh.Session, func(), error) {
	for attempt := 0; ; attempt++ {
		c, err := p.conn(ctx, host, t)
		if err != nil {
			return nil, nil, nil, err
		}
		select {
		case c.sessions <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, nil, fmt.Errorf("run %q on %s: %w", command, host, context.Cause(ctx))
		}
		release := func() { <-c.sessions }
		sess, err := c.l.NewSession()
		if err == nil {
			return c, sess, release, nil
		}
		release()
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) {
			return nil, nil, nil, fmt.Errorf("sshd on %s (ssh %s) refused a session for %q: %w; raise MaxSessions in its sshd_config (Pitstop opens up to %d per host)",
				host, t, command, err, maxSessions)
		}
		p.forget(host, c)
		if attempt > 0 {
			return nil, nil, nil, fmt.Errorf("open a session on %s (ssh %s) for %q: %w; check the host's sshd and run again", host, t, command, err)
		}
	}
}

// errStuck reports a cancelled session that did not close in time.
var errStuck = errors.New("the session did not close after cancellation")

// runSession starts command in sess, streams its output and waits for it. When ctx ends it signals
// KILL, closes the command's input (the watchdog then kills the process group) and closes the session.
func runSession(ctx context.Context, sess *ssh.Session, command string, out steps.OutputFunc) error {
	stdin, err := sess.StdinPipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	so, se := newLineWriter(steps.Stdout, out), newLineWriter(steps.Stderr, out)
	sess.Stdout, sess.Stderr = so, se
	if err := sess.Start(wrap(command)); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		stdin.Close()
		sess.Close()
		select {
		case err = <-done:
		case <-time.After(closeWait):
			return errStuck
		}
	}
	so.Flush()
	se.Flush()
	return err
}
