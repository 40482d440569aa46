package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pitstop-ops/pitstop/steps"
)

// runners are the two kinds of host every behaviour test runs against: the same commands, the same
// results. (The SSH target runs on this machine too, so tests can look at its processes and files.)
var runners = []struct{ name, ssh string }{
	{"local", "local"},
	{"ssh", "root@127.0.0.1:2201"},
}

// byStream splits collected lines into stdout and stderr, each in order.
func byStream(lines []string) (stdout, stderr []string) {
	for _, l := range lines {
		if s, ok := strings.CutPrefix(l, "stdout: "); ok {
			stdout = append(stdout, s)
		} else {
			stderr = append(stderr, strings.TrimPrefix(l, "stderr: "))
		}
	}
	return stdout, stderr
}

func TestRunOutputAndStatus(t *testing.T) {
	showLogs(t)
	h := newHome(t, homeOpts{})
	tests := []struct {
		name, command    string
		wantOut, wantErr []string
		wantStatus       int // 0 = success
		wantLens         []int
	}{
		{name: "streams kept apart", command: "echo out1; echo err1 >&2; echo out2; echo err2 >&2; printf 'no newline'",
			wantOut: []string{"out1", "out2", "no newline"}, wantErr: []string{"err1", "err2"}},
		{name: "empty lines and CRLF", command: `printf 'a\r\n\nb\n'`, wantOut: []string{"a", "", "b"}},
		{name: "long line without newline", command: "head -c 200000 /dev/zero | tr '\\0' a",
			wantLens: []int{MaxLine, MaxLine, MaxLine, 200000 - 3*MaxLine}},
		// 'a' then 100000 two-byte characters: a cut at exactly MaxLine would split one.
		{name: "long multibyte line", command: "printf a; head -c 100000 /dev/zero | tr '\\0' x | sed 's/x/é/g'",
			wantLens: []int{MaxLine - 1, MaxLine, MaxLine, 200001 - 3*MaxLine + 1}},
		{name: "exit status", command: "echo before; exit 3", wantOut: []string{"before"}, wantStatus: 3},
		{name: "killed by a signal", command: "kill -TERM $$", wantStatus: 128 + int(syscall.SIGTERM)},
		{name: "stdin is empty", command: "cat; echo done", wantOut: []string{"done"}},
		{name: "sh, not the login shell", command: `[ -z "$BASH_VERSION" ] && echo posix`, wantOut: []string{"posix"}},
		{name: "quotes survive", command: `printf '%s\n' "it's" '$HOME' "a  b"`, wantOut: []string{"it's", "$HOME", "a  b"}},
	}
	for _, r := range runners {
		p := h.pool(t, Options{}, map[string]string{"h": r.ssh})
		for _, tt := range tests {
			t.Run(r.name+"/"+tt.name, func(t *testing.T) {
				lines, err := run(t, p, "h", tt.command)
				if tt.wantStatus != 0 {
					var exit *steps.ExitError
					if !errors.As(err, &exit) {
						t.Fatalf("err = %v, want *steps.ExitError", err)
					}
					if *exit != (steps.ExitError{Host: "h", Command: tt.command, Status: tt.wantStatus}) {
						t.Errorf("ExitError = %+v, want status %d", *exit, tt.wantStatus)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				stdout, stderr := byStream(lines)
				if tt.wantLens != nil {
					var lens []int
					for _, l := range stdout {
						lens = append(lens, len(l))
						if !utf8.ValidString(l) {
							t.Errorf("a piece of %d bytes holds a broken character", len(l))
						}
					}
					if fmt.Sprint(lens) != fmt.Sprint(tt.wantLens) {
						t.Errorf("line lengths %v, want %v", lens, tt.wantLens)
					}
					return
				}
				if !equal(stdout, tt.wantOut) || !equal(stderr, tt.wantErr) {
					t.Errorf("stdout %q stderr %q, want %q %q", stdout, stderr, tt.wantOut, tt.wantErr)
				}
			})
		}
	}
}

func TestCancelKillsCommand(t *testing.T) {
	showLogs(t)
	h := newHome(t, homeOpts{})
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) {
			p := h.pool(t, Options{}, map[string]string{"h": r.ssh})
			pidfile := filepath.Join(t.TempDir(), "pid")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- p.Run(ctx, "h", "sleep 300 & echo $! > "+pidfile+"; echo ready; wait", func(_ steps.Stream, line string) {
					if line == "ready" {
						cancel()
					}
				})
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return after cancellation")
			}
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			pid := readPid(t, pidfile)
			if !processGone(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("the command's child %d still runs after cancellation", pid)
			}
			// The connection is still good for the next command.
			if _, err := run(t, p, "h", "true"); err != nil {
				t.Fatal(err)
			}
			if r.name == "ssh" && p.dials.Load() != 1 {
				t.Errorf("dials = %d, want the connection reused", p.dials.Load())
			}
		})
	}
}

// TestBackgroundProcessSurvives: a command that starts a daemon (output redirected) returns, and the
// daemon is not killed when the command ends normally.
func TestBackgroundProcessSurvives(t *testing.T) {
	h := newHome(t, homeOpts{})
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) {
			p := h.pool(t, Options{}, map[string]string{"h": r.ssh})
			pidfile := filepath.Join(t.TempDir(), "pid")
			if _, err := run(t, p, "h", "sleep 300 >/dev/null 2>&1 & echo $! > "+pidfile); err != nil {
				t.Fatal(err)
			}
			pid := readPid(t, pidfile)
			defer syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(300 * time.Millisecond) // give a wrongly triggered watchdog time to strike
			if !alive(pid) {
				t.Fatalf("background process %d is gone after a successful command", pid)
			}
		})
	}
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	must(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	must(t, err)
	return pid
}

func TestCommandTimeout(t *testing.T) {
	h := newHome(t, homeOpts{})
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) {
			p := h.pool(t, Options{CommandTimeout: 300 * time.Millisecond}, map[string]string{"h": r.ssh})
			_, err := run(t, p, "h", "sleep 30")
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 300ms on h") {
				t.Fatalf("err = %v, want a command timeout", err)
			}
		})
	}
}

// TestConcurrentRuns: many commands at once on one host share one connection (dialed once, even though
// they all ask for it at the same moment), and each gets its own output.
func TestConcurrentRuns(t *testing.T) {
	showLogs(t)
	h := newHome(t, homeOpts{})
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) {
			p := h.pool(t, Options{}, map[string]string{"h": r.ssh, "h2": r.ssh})
			const n = 24 // more than one connection's session limit
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					host := []string{"h", "h2"}[i%2]
					var mu sync.Mutex
					var got []string
					err := p.Run(context.Background(), host, fmt.Sprintf("echo %d; sleep 0.2; echo %d >&2", i, i), func(s steps.Stream, line string) {
						mu.Lock()
						got = append(got, string(s)+" "+line)
						mu.Unlock()
					})
					if err != nil {
						errs <- err
						return
					}
					if want := []string{fmt.Sprintf("stdout %d", i), fmt.Sprintf("stderr %d", i)}; !equal(got, want) {
						errs <- fmt.Errorf("run %d: output %q, want %q", i, got, want)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if r.name == "ssh" && p.dials.Load() != 2 {
				t.Errorf("dials = %d, want one per host", p.dials.Load())
			}
		})
	}
}

func TestCheck(t *testing.T) {
	h := newHome(t, homeOpts{})
	p := h.pool(t, Options{}, map[string]string{"app": rootAt(theLab.target), "me": "local"})
	for _, host := range []string{"app", "me"} {
		if err := p.Check(context.Background(), host); err != nil {
			t.Errorf("Check(%s): %v", host, err)
		}
	}
	p.Close()
	if err := p.Check(context.Background(), "app"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Check after Close: %v", err)
	}
}
