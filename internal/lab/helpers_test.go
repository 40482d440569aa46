package lab_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/lab"
)

// startLab brings a lab up in a fresh directory and stops it when the test ends, even when the test
// fails or panics.
func startLab(t *testing.T, opt lab.Options) *lab.Report {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = labDir(t)
	}
	t.Cleanup(func() {
		if err := lab.Down(opt.Dir); err != nil {
			t.Errorf("lab.Down in cleanup: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	opt.Progress = testWriter{t}
	st, err := lab.Up(ctx, opt)
	if err != nil {
		t.Fatalf("lab.Up: %v", err)
	}
	t.Logf("lab.Up took %s", time.Since(start).Round(time.Millisecond))
	return st
}

// labDir is a fresh directory the postgres user can reach (t.TempDir's parent is 0700).
func labDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pitstop-lab-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		} else {
			t.Logf("lab directory kept for inspection: %s", dir)
		}
	})
	return filepath.Join(dir, "lab")
}

// response is what a test needs from one HTTP exchange.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, r.body)
	}
}

func do(t *testing.T, method, url, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// eventually retries f every 50ms until it returns nil or d passes, then fails with f's last error.
func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sh runs a command line as the inventory's runner would on a local host.
func sh(t *testing.T, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	return string(out)
}

// assertNoListeners fails for every address that still accepts connections.
func assertNoListeners(t *testing.T, st *lab.Report) {
	t.Helper()
	for _, c := range st.Components {
		if conn, err := net.DialTimeout("tcp", c.Addr, 300*time.Millisecond); err == nil {
			conn.Close()
			t.Errorf("%s (%s) still accepts connections after Down", c.Addr, c.Name)
		}
	}
}

// assertGone fails for every process of st that still runs.
func assertGone(t *testing.T, st *lab.Report) {
	t.Helper()
	for _, c := range st.Components {
		if c.PID == 0 {
			t.Errorf("%s had no pid while the lab was up", c.Name)
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(c.PID), "stat")); err == nil {
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] != 'Z' {
				t.Errorf("%s (pid %d) still runs after Down", c.Name, c.PID)
			}
		}
	}
}

// runOut runs a program and returns its combined output and error.
func runOut(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// testWriter sends each write to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
