package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// collector gathers a command's output lines and calls on for each.
type collector struct {
	mu    sync.Mutex
	lines []string
	on    func(string)
}

func (c *collector) fn(_ steps.Stream, line string) {
	c.mu.Lock()
	c.lines = append(c.lines, line)
	c.mu.Unlock()
	if c.on != nil {
		c.on(line)
	}
}

func (c *collector) count(line string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if l == line {
			n++
		}
	}
	return n
}

// ranLines counts the lines of a command's own log: proof of how often it ran.
func ranLines(t *testing.T, log string) int {
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("the command's log: %v", err)
	}
	return strings.Count(string(b), "ran\n")
}

// TestDetachedOutputAndStatus: a detached command streams its output and returns its exit status, on
// a local host and over SSH alike.
func TestDetachedOutputAndStatus(t *testing.T) {
	h := newHome(t, homeOpts{})
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) {
			p := h.pool(t, Options{}, map[string]string{"h": r.ssh})
			c := &collector{}
			err := p.RunDetached(context.Background(), "h", "s.h.0.1", "echo one; echo two >&2; sleep 0.3; echo three; exit 4", c.fn)
			var xe *steps.ExitError
			if !errors.As(err, &xe) || xe.Status != 4 || xe.Command != "echo one; echo two >&2; sleep 0.3; echo three; exit 4" {
				t.Fatalf("err = %v, want exit 4 naming the command", err)
			}
			if c.count("one") != 1 || c.count("two") != 1 || c.count("three") != 1 {
				t.Errorf("output %q", c.lines)
			}
			if err := p.RunDetached(context.Background(), "h", "s.h.1.1", "true", nil); err != nil {
				t.Errorf("true: %v", err)
			}
		})
	}
}

// TestDetachedCommandSurvivesADrop: the host's sshd dies while a command runs on it. The command
// keeps running; RunDetached reconnects once sshd is back, re-attaches, and returns how the command
// really ended, with its output once. The command's own log proves it ran exactly once.
func TestDetachedCommandSurvivesADrop(t *testing.T) {
	s := startDropSSHD(t)
	h := newHome(t, homeOpts{knownHosts: []string{s.knownHostsLine()}})
	p := h.pool(t, Options{}, map[string]string{"db1": rootAt(s)})
	log := filepath.Join(t.TempDir(), "ran.log")
	cmd := "echo started; sleep 2; echo ran >> " + shell.Quote(log) + "; echo finished"
	var once sync.Once
	c := &collector{on: func(line string) {
		if line == "started" {
			once.Do(func() {
				go func() {
					s.kill()
					time.Sleep(500 * time.Millisecond)
					must(t, s.start())
				}()
			})
		}
	}}
	done := make(chan error, 1)
	go func() { done <- p.RunDetached(context.Background(), "db1", "upgrade.db1.0.1", cmd, c.fn) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunDetached: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("RunDetached did not return")
	}
	if c.count("started") != 1 || c.count("finished") != 1 {
		t.Errorf("output %q, want started and finished once each", c.lines)
	}
	if n := ranLines(t, log); n != 1 {
		t.Errorf("the command ran %d times, want 1", n)
	}
	if p.dials.Load() < 2 {
		t.Errorf("dials = %d, want a reconnection", p.dials.Load())
	}
}

// TestDetachedCommandOutlivesItsController: the process following a command (what dies with
// Pitstop) is killed with -9; the command goes on, and a new RunDetached with the same id re-attaches
// to it instead of starting it again: it returns its whole output and its status.
func TestDetachedCommandOutlivesItsController(t *testing.T) {
	h := newHome(t, homeOpts{})
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "ran.log")
			cmd := "echo started; sleep 1; echo ran >> " + shell.Quote(log) + "; echo finished; exit 3"
			first := h.pool(t, Options{}, map[string]string{"h": r.ssh})
			ctx, cancel := context.WithCancel(context.Background())
			if r.name == "local" {
				// Kill the follower the way a dying Pitstop would leave it: -9, no cleanup.
				dir := first.RunID() + "/job"
				follow := exec.Command("sh", "-c", detachScript, "pitstop", dir, cmd)
				follow.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				out, _ := follow.StdoutPipe()
				must(t, follow.Start())
				buf := make([]byte, 8)
				out.Read(buf)
				syscall.Kill(-follow.Process.Pid, syscall.SIGKILL)
				follow.Wait()
			} else {
				c := &collector{on: func(line string) {
					if line == "started" {
						cancel() // Pitstop's side goes away; nothing kills the command
					}
				}}
				// Cancelling would kill it (abort): to leave it running, follow it without RunDetached.
				err := first.runSSH(ctx, "h", mustTarget(t, first, "h"), "sh -c "+shell.Quote(detachScript)+" pitstop "+shell.Quote(first.RunID()+"/job")+" "+shell.Quote(cmd), c.fn)
				if err == nil {
					t.Fatal("the follower returned before it was cut")
				}
			}
			cancel()
			second := h.pool(t, Options{RunID: first.RunID()}, map[string]string{"h": r.ssh})
			c := &collector{}
			err := second.RunDetached(context.Background(), "h", "job", cmd, c.fn)
			var xe *steps.ExitError
			if !errors.As(err, &xe) || xe.Status != 3 {
				t.Fatalf("re-attach: %v, want the command's exit 3", err)
			}
			if c.count("started") != 1 || c.count("finished") != 1 {
				t.Errorf("re-attached output %q", c.lines)
			}
			if n := ranLines(t, log); n != 1 {
				t.Errorf("the command ran %d times, want 1", n)
			}
		})
	}
}

func mustTarget(t *testing.T, p *Pool, host string) (tg inventory.Target) {
	t.Helper()
	tg, err := p.target(host)
	must(t, err)
	return tg
}

// TestDetachedCancelKills: abort and rollback still stop the command on the host, its children too,
// and its status records the kill.
func TestDetachedCancelKills(t *testing.T) {
	h := newHome(t, homeOpts{})
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) {
			p := h.pool(t, Options{}, map[string]string{"h": r.ssh})
			pidfile := filepath.Join(t.TempDir(), "pid")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &collector{on: func(line string) {
				if line == "ready" {
					cancel()
				}
			}}
			err := p.RunDetached(ctx, "h", "kill.h.0.1", "sleep 300 & echo $! > "+pidfile+"; echo ready; wait", c.fn)
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "killed on the host") {
				t.Fatalf("err = %v, want context.Canceled and the kill said", err)
			}
			pid := readPid(t, pidfile)
			deadline := time.Now().Add(5 * time.Second)
			for !processGone(pid) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if !processGone(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("the command's child %d still runs after cancellation", pid)
			}
			home, _ := os.UserHomeDir()
			status, err := os.ReadFile(filepath.Join(home, RunsDir, p.RunID(), "kill.h.0.1", "status"))
			if err != nil || strings.TrimSpace(string(status)) != "137" {
				t.Errorf("status file %q, %v; want 137", status, err)
			}
		})
	}
}

// TestDetachedDirWithoutCommand: a command directory that exists but whose command never started (the
// controller was killed between creating it and starting the command) is not started now: creating the
// directory is what claims the start, so two attaches can never both run it. The attach ends as
// "ended without an exit status", naming the directory, instead of waiting forever.
func TestDetachedDirWithoutCommand(t *testing.T) {
	h := newHome(t, homeOpts{})
	p := h.pool(t, Options{}, map[string]string{"h": "local"})
	home, err := os.UserHomeDir()
	must(t, err)
	run := filepath.Join(home, RunsDir, p.RunID())
	t.Cleanup(func() { os.RemoveAll(run) })
	must(t, os.MkdirAll(filepath.Join(run, "never"), 0o755))
	log := filepath.Join(t.TempDir(), "ran.log")
	err = p.RunDetached(context.Background(), "h", "never", "echo ran >> "+shell.Quote(log), nil)
	if !errors.Is(err, steps.ErrConnectionLost) || !strings.Contains(err.Error(), "ended without an exit status") {
		t.Fatalf("attach to a directory whose command never started: %v; want 'ended without an exit status'", err)
	}
	if _, err := os.Stat(log); !os.IsNotExist(err) {
		t.Errorf("the command ran (its log: %v); the directory claimed the start, so it must not", err)
	}
}

// detachChildEnv makes the test binary a Pitstop that runs one detached command on a local host (its
// run ID and command in PITSTOP_TEST_RUN and PITSTOP_TEST_CMD) and prints its output, to be killed.
const detachChildEnv = "PITSTOP_TEST_DETACH_CHILD"

func detachChild() int {
	p := New(testInventory(map[string]string{"h": "local"}), Options{RunID: os.Getenv("PITSTOP_TEST_RUN")})
	err := p.RunDetached(context.Background(), "h", "job", os.Getenv("PITSTOP_TEST_CMD"), func(_ steps.Stream, line string) {
		os.Stdout.WriteString(line + "\n")
	})
	if err != nil {
		return 1
	}
	return 0
}

// TestLocalDetachedCommandOutlivesPitstop: Pitstop itself (here: this test binary as a child) is
// killed with -9 while it runs a detached command on an `ssh: local` host; the command goes on, and a
// new Pitstop with the same run ID re-attaches, gets its whole output and exit status, and the
// command ran once.
func TestLocalDetachedCommandOutlivesPitstop(t *testing.T) {
	h := newHome(t, homeOpts{})
	log := filepath.Join(t.TempDir(), "ran.log")
	cmd := "echo started; sleep 1; echo ran >> " + shell.Quote(log) + "; echo finished; exit 3"
	run := newRunID()
	home, err := os.UserHomeDir()
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(filepath.Join(home, RunsDir, run)) })

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), detachChildEnv+"=1", "PITSTOP_TEST_RUN="+run, "PITSTOP_TEST_CMD="+cmd)
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := child.StdoutPipe()
	must(t, err)
	must(t, child.Start())
	buf := make([]byte, len("started\n"))
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "started\n" {
		syscall.Kill(-child.Process.Pid, syscall.SIGKILL)
		t.Fatalf("the child Pitstop said %q, %v; want started", buf, err)
	}
	syscall.Kill(-child.Process.Pid, syscall.SIGKILL) // its whole process group, as a terminal's would be
	child.Wait()

	second := h.pool(t, Options{RunID: run}, map[string]string{"h": "local"})
	c := &collector{}
	err = second.RunDetached(context.Background(), "h", "job", cmd, c.fn)
	var xe *steps.ExitError
	if !errors.As(err, &xe) || xe.Status != 3 {
		t.Fatalf("re-attach after Pitstop was killed: %v, want the command's exit 3", err)
	}
	if c.count("started") != 1 || c.count("finished") != 1 {
		t.Errorf("re-attached output %q", c.lines)
	}
	if n := ranLines(t, log); n != 1 {
		t.Errorf("the command ran %d times, want 1", n)
	}
}

// TestRemoveRun: once a run is over, RemoveRun removes its directory on the host, commands' files and
// all, locally and over SSH; a second call (nothing left) is no error. A host where a command of the
// run may still run keeps its directory.
func TestRemoveRun(t *testing.T) {
	h := newHome(t, homeOpts{})
	home, _ := os.UserHomeDir()
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) {
			p := h.pool(t, Options{}, map[string]string{"h": r.ssh})
			dir := filepath.Join(home, RunsDir, p.RunID())
			if err := p.RunDetached(context.Background(), "h", "rm.h.0.1", "echo output", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "rm.h.0.1", "status")); err != nil {
				t.Fatalf("the command's files: %v", err)
			}
			if err := p.RemoveRun(context.Background(), "h"); err != nil {
				t.Fatalf("RemoveRun: %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after RemoveRun: %v, want it gone", dir, err)
			}
			if err := p.RemoveRun(context.Background(), "h"); err != nil {
				t.Errorf("RemoveRun of a run directory that is not there: %v", err)
			}

			// A command Pitstop could not stop: its directory stays.
			if err := p.RunDetached(context.Background(), "h", "rm.h.1.1", "true", nil); err != nil {
				t.Fatal(err)
			}
			p.unsettle("h")
			err := p.RemoveRun(context.Background(), "h")
			if !errors.Is(err, ErrCommandsLeft) || !strings.Contains(err.Error(), p.RunDir()) {
				t.Errorf("RemoveRun with a command left: %v, want ErrCommandsLeft naming %s", err, p.RunDir())
			}
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("%s was removed although a command may still run there: %v", dir, err)
			}
			os.RemoveAll(dir)
		})
	}
}
