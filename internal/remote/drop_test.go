package remote

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pitstop-ops/pitstop/steps"
)

// startDropSSHD starts an sshd of the test's own on 127.0.0.3, for tests that break it.
func startDropSSHD(t *testing.T, extra ...string) *sshd {
	t.Helper()
	s, err := newSSHD(t.TempDir(), "drop", dropIP, dropPort, ssh.MarshalAuthorizedKey(theLab.clientPub), extra...)
	must(t, err)
	must(t, s.start())
	t.Cleanup(s.kill)
	showLogs(t, s)
	return s
}

// runUntil runs command in the background and calls then() once a line "started" is printed. It
// returns the Run's result.
func runUntil(t *testing.T, p *Pool, host, command string, then func()) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		done <- p.Run(context.Background(), host, command, func(_ steps.Stream, line string) {
			if line == "started" {
				then()
			}
		})
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the connection broke")
		return nil
	}
}

// TestDroppedConnection: the host's sshd dies in the middle of a command. Run reports
// steps.ErrConnectionLost naming the host, the remote command does not linger, and once sshd is back
// the next Run reconnects by itself.
func TestDroppedConnection(t *testing.T) {
	s := startDropSSHD(t)
	h := newHome(t, homeOpts{knownHosts: []string{s.knownHostsLine()}})
	p := h.pool(t, Options{}, map[string]string{"db1": rootAt(s)})
	if _, err := run(t, p, "db1", "true"); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(t.TempDir(), "pid")
	err := runUntil(t, p, "db1", "sleep 300 & echo $! > "+pidfile+"; echo started; wait", s.kill)
	if !errors.Is(err, steps.ErrConnectionLost) {
		t.Fatalf("err = %v, want steps.ErrConnectionLost", err)
	}
	for _, want := range []string{"db1", rootAt(s), "half-run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if pid := readPid(t, pidfile); !processGone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the command's child %d still runs after its connection dropped", pid)
	}

	// While sshd is down, a Run fails to connect (and says so, without claiming a half-run command).
	_, err = run(t, p, "db1", "true")
	if err == nil || errors.Is(err, steps.ErrConnectionLost) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("with sshd down: err = %v, want a refused connection", err)
	}

	must(t, s.start())
	lines, err := run(t, p, "db1", "echo back")
	if err != nil {
		t.Fatalf("after sshd restarted: %v", err)
	}
	if !equal(lines, []string{"stdout: back"}) {
		t.Errorf("output %q", lines)
	}

	// A connection that died while idle is replaced without an error: nothing was running on it.
	s.kill()
	must(t, s.start())
	if _, err := run(t, p, "db1", "true"); err != nil {
		t.Fatalf("after an idle drop: %v", err)
	}
	if got := p.dials.Load(); got != 4 {
		t.Errorf("dials = %d, want 4 (first, refused, after restart, after idle drop)", got)
	}
}

// TestKeepaliveDetectsSilentHost: the host stops answering without closing the connection (as when it
// vanishes from the network). Keepalives (ServerAliveInterval) notice and the Run fails instead of
// hanging.
func TestKeepaliveDetectsSilentHost(t *testing.T) {
	s := startDropSSHD(t)
	config := fmt.Sprintf("Host frozen\n  HostName %s\n  Port %d\n  User root\n  ServerAliveInterval 1\n  ServerAliveCountMax 2\n", dropIP, dropPort)
	h := newHome(t, homeOpts{config: config, knownHosts: []string{s.knownHostsLine()}})
	p := h.pool(t, Options{}, map[string]string{"app": "frozen"})
	defer s.signalSessions(syscall.SIGCONT)
	start := time.Now()
	err := runUntil(t, p, "app", "echo started; sleep 300", func() { s.signalSessions(syscall.SIGSTOP) })
	if !errors.Is(err, steps.ErrConnectionLost) {
		t.Fatalf("err = %v, want steps.ErrConnectionLost", err)
	}
	t.Logf("detected after %v", time.Since(start).Round(100*time.Millisecond))
}
