package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// detachWrapper runs a detached command on this machine: $1 its directory, $2 the command. It is
// detachScript's inner shell, with the same files: output appended to out and err, the exit status
// written to status (atomically) when the command ends — also when Pitstop is gone by then.
const detachWrapper = `sh -c "$2" >>"$1/out" 2>>"$1/err" </dev/null; echo $? >"$1/status.tmp"; mv "$1/status.tmp" "$1/status"`

// runDetachedLocal is RunDetached for a host with `ssh: local`: the same directory, files and
// re-attach rule as detachScript (creating the directory claims the start), without a shell loop
// between Pitstop and the command. Pitstop starts the wrapper itself in a session of its own (so
// neither a signal to Pitstop's process group nor Pitstop's death reaches it), writes its pid, and
// follows the files itself: when it started the command it learns at once that it ended; when it
// re-attaches to one started by an earlier Pitstop it looks at the files and the pid as the script
// does. The error is what runLocal would give for the script: nil, or a *steps.ExitError with the
// command's status (255: it ended without one).
func runDetachedLocal(ctx context.Context, host, dir, command string, out steps.OutputFunc) error {
	home := os.Getenv("HOME")
	if home == "" {
		home = "/tmp"
	}
	d := filepath.Join(home, RunsDir, dir)
	if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
		return &steps.ExitError{Host: host, Command: command, Status: 125}
	}
	var done chan struct{} // closed when the wrapper exits, when this process started it
	switch err := os.Mkdir(d, 0o755); {
	case err == nil:
		ch, err := startWrapper(d, command)
		if err != nil {
			return fmt.Errorf("start %q on %s (local) under %s: %w", command, host, d, err)
		}
		done = ch
	case !errors.Is(err, os.ErrExist):
		return &steps.ExitError{Host: host, Command: command, Status: 125}
	}
	f := &follower{dir: d, stdout: newLineWriter(steps.Stdout, out), stderr: newLineWriter(steps.Stderr, out)}
	defer f.close()
	start := time.Now()
	gone := 0
	for {
		_, statErr := os.Stat(filepath.Join(d, "status"))
		finished := statErr == nil
		f.copy()
		if finished {
			return f.exit(host, command)
		}
		if done == nil { // re-attached: is the command still alive?
			if pid := f.pid(); pid > 0 {
				if syscall.Kill(pid, 0) != nil {
					gone++
				}
			} else if time.Since(start) > 500*time.Millisecond {
				gone = 3
			}
			if gone > 2 {
				f.copy()
				f.stderr.Write([]byte("pitstop: the command ended without an exit status (killed, or the host restarted); see " + d + "\n"))
				return &steps.ExitError{Host: host, Command: command, Status: 255}
			}
		}
		wait := 5 * time.Millisecond
		switch since := time.Since(start); {
		case since > 2500*time.Millisecond:
			wait = 200 * time.Millisecond
		case since > 500*time.Millisecond:
			wait = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			f.copy()
			return fmt.Errorf("run %q on %s (local): %w", command, host, context.Cause(ctx))
		case <-done:
			done = nil // the status file is there now (or the wrapper died: then the pid says so)
		case <-time.After(wait):
		}
	}
}

// startWrapper starts detachWrapper for the command directory d in a session of its own, writes its
// pid to d/pid (atomically), and returns a channel that is closed when it exits. The wrapper is this
// process's child only so that it is reaped; it does not depend on this process.
func startWrapper(d, command string) (chan struct{}, error) {
	if err := os.WriteFile(filepath.Join(d, "out"), nil, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d, "err"), nil, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d, "cmd"), []byte(command+"\n"), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("sh", "-c", detachWrapper, "pitstop", d, command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil { // stdin, stdout and stderr are /dev/null
		return nil, err
	}
	tmp := filepath.Join(d, "pid.tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err == nil {
		os.Rename(tmp, filepath.Join(d, "pid"))
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	return done, nil
}

// follower copies a detached command's out and err files, as they grow, to line writers.
type follower struct {
	dir            string
	stdout, stderr *lineWriter
	outF, errF     *os.File
}

// copy passes on what was appended to out and err since the last copy.
func (f *follower) copy() {
	f.outF = f.drain(f.outF, "out", f.stdout)
	f.errF = f.drain(f.errF, "err", f.stderr)
}

func (f *follower) drain(file *os.File, name string, w io.Writer) *os.File {
	if file == nil {
		var err error
		if file, err = os.Open(filepath.Join(f.dir, name)); err != nil {
			return nil
		}
	}
	io.Copy(w, file)
	return file
}

func (f *follower) pid() int {
	b, err := os.ReadFile(filepath.Join(f.dir, "pid"))
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// exit returns how the command ended, from its status file.
func (f *follower) exit(host, command string) error {
	f.copy()
	f.stdout.Flush()
	f.stderr.Flush()
	b, err := os.ReadFile(filepath.Join(f.dir, "status"))
	st, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		st = 255
	}
	if st == 0 {
		return nil
	}
	return &steps.ExitError{Host: host, Command: command, Status: st}
}

func (f *follower) close() {
	for _, file := range []*os.File{f.outF, f.errF} {
		if file != nil {
			file.Close()
		}
	}
}
