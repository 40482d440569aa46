package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// localWaitDelay is how long a finished (or killed) local command's output pipes stay open for
// processes it left behind; after that they are closed and Run returns.
const localWaitDelay = 2 * time.Second

// runLocal runs command with `sh -c` on this machine, in its own process group, its input from
// /dev/null. Cancelling ctx kills the whole group.
func runLocal(ctx context.Context, host, command string, out steps.OutputFunc) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = localWaitDelay
	so, se := newLineWriter(steps.Stdout, out), newLineWriter(steps.Stderr, out)
	cmd.Stdout, cmd.Stderr = so, se
	err := cmd.Run()
	so.Flush()
	se.Flush()
	if ctx.Err() != nil && (cmd.ProcessState == nil || !cmd.ProcessState.Success()) {
		return fmt.Errorf("run %q on %s (local): %w; the command was killed", command, host, context.Cause(ctx))
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// The command ended but left a process holding its output; its exit status is what counts.
		err = nil
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		if st := cmd.ProcessState; st != nil && !st.Success() {
			return &steps.ExitError{Host: host, Command: command, Status: status(st)}
		}
		return nil
	case errors.As(err, &exit):
		return &steps.ExitError{Host: host, Command: command, Status: status(exit.ProcessState)}
	}
	return fmt.Errorf("run %q on %s (local): %w; check that sh is installed and in PATH", command, host, err)
}

// status is the exit status the way a shell reports it: 128+N for a process killed by signal N.
func status(st *os.ProcessState) int {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}
