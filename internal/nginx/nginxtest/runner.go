// Package nginxtest is the test harness shared by the nginx and probe packages: a local command runner,
// small Go HTTP backends that say who they are, and a real nginx started in a private prefix on
// loopback, stopped again when the test ends (even when it fails or panics).
package nginxtest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// LocalRunner runs commands on this machine with `sh -c`, whatever host they name. It stands in for
// the SSH runner in tests.
type LocalRunner struct{}

// Run runs command with sh, streams each output line to out, and returns a *steps.ExitError when the
// command exits non-zero.
func (LocalRunner) Run(ctx context.Context, host, command string, out steps.OutputFunc) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	// A process group, so that cancelling kills what the shell started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex // out is called from one goroutine at a time, as a runner on one host would
	stream := func(r io.Reader, s steps.Stream) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if out != nil {
				mu.Lock()
				out(s, sc.Text())
				mu.Unlock()
			}
		}
	}
	wg.Add(2)
	go stream(stdout, steps.Stdout)
	go stream(stderr, steps.Stderr)
	wg.Wait()
	err = cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &steps.ExitError{Host: host, Command: command, Status: ee.ExitCode()}
	}
	return err
}
