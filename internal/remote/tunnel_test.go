package remote

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// Ports of the tunnel tests, outside the lab's 2200-2299: what the hosts' sshd connects to.
const (
	echoAddr   = "127.0.0.1:2310" // an echo server
	closedAddr = "127.0.0.1:2311" // nothing listens here
	otherAddr  = "127.0.0.1:2312" // an echo server PermitOpen does not allow
)

// echoServer listens on network/addr and sends back every line it receives, prefixed with "echo ".
func echoServer(t *testing.T, network, addr string) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewScanner(c)
				for r.Scan() {
					if _, err := io.WriteString(c, "echo "+r.Text()+"\n"); err != nil {
						return
					}
				}
			}()
		}
	}()
}

func dialT(t *testing.T, p *Pool, host, network, addr string) (net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := p.DialContext(ctx, host, network, addr)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// roundTrip sends line and returns the answer line.
func roundTrip(c net.Conn, line string) (string, error) {
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	got, err := r.ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

// TestDialThroughSSH: connections to TCP addresses and unix sockets on the host, opened over the
// host's pooled SSH connection, which commands share; deadlines work on them; local hosts dial
// directly.
func TestDialThroughSSH(t *testing.T) {
	showLogs(t)
	echoServer(t, "tcp", echoAddr)
	sock := filepath.Join(t.TempDir(), "echo.sock")
	echoServer(t, "unix", sock)
	h := newHome(t, homeOpts{})
	p := h.pool(t, Options{}, map[string]string{"db1": rootAt(theLab.target), "here": "local"})
	if _, err := run(t, p, "db1", "true"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ host, network, addr string }{
		{"db1", "tcp", echoAddr},
		{"db1", "unix", sock},
		{"here", "tcp", echoAddr},
		{"here", "unix", sock},
	} {
		t.Run(tc.host+"/"+tc.network, func(t *testing.T) {
			c, err := dialT(t, p, tc.host, tc.network, tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := roundTrip(c, "ping "+tc.network)
			if err != nil || got != "echo ping "+tc.network {
				t.Fatalf("round trip: %q, %v", got, err)
			}
		})
	}
	if got := p.dials.Load(); got != 1 {
		t.Errorf("dials = %d, want 1: commands and forwarded connections share the host's SSH connection", got)
	}

	// A deadline interrupts a read that waits (pgx cancels queries this way); the connection still
	// works afterwards.
	c, err := dialT(t, p, "db1", "tcp", echoAddr)
	must(t, err)
	must(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: err = %v, want os.ErrDeadlineExceeded", err)
	}
	must(t, c.SetReadDeadline(time.Time{}))
	if got, err := roundTrip(c, "again"); err != nil || got != "echo again" {
		t.Fatalf("after a deadline: %q, %v", got, err)
	}
	if ra := c.RemoteAddr().String(); ra != echoAddr+" via db1" {
		t.Errorf("RemoteAddr = %q", ra)
	}

	if _, err := dialT(t, p, "db1", "udp", echoAddr); err == nil || !strings.Contains(err.Error(), "only tcp and unix") {
		t.Errorf("udp: err = %v", err)
	}
}

// TestDialRefused: the host's sshd cannot reach the address, or is configured not to forward there;
// each error names the host and the address and says what to change.
func TestDialRefused(t *testing.T) {
	echoServer(t, "tcp", echoAddr)
	echoServer(t, "tcp", otherAddr)
	sock := filepath.Join(t.TempDir(), "echo.sock")
	echoServer(t, "unix", sock)
	s := startDropSSHD(t, "PermitOpen "+echoAddr, "AllowStreamLocalForwarding no")
	h := newHome(t, homeOpts{knownHosts: []string{s.knownHostsLine(), theLab.target.knownHostsLine()}})
	p := h.pool(t, Options{}, map[string]string{"db1": rootAt(theLab.target), "db2": rootAt(s)})
	if c, err := dialT(t, p, "db2", "tcp", echoAddr); err != nil {
		t.Fatalf("to the address PermitOpen allows: %v", err)
	} else if got, err := roundTrip(c, "x"); err != nil || got != "echo x" {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	for _, tc := range []struct{ host, network, addr, hint string }{
		{"db1", "tcp", closedAddr, "check that something listens at " + closedAddr + " as seen from db1"},
		{"db2", "tcp", otherAddr, "AllowTcpForwarding yes, and PermitOpen " + otherAddr},
		{"db2", "unix", sock, "AllowStreamLocalForwarding yes"},
		{"db1", "unix", sock + ".missing", "check that the socket " + sock + ".missing exists on db1"},
	} {
		_, err := dialT(t, p, tc.host, tc.network, tc.addr)
		if err == nil {
			t.Errorf("%s %s: no error", tc.host, tc.addr)
			continue
		}
		for _, want := range []string{"sshd on " + tc.host, tc.addr, tc.hint} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s %s: error lacks %q: %v", tc.host, tc.addr, want, err)
			}
		}
		if errors.Is(err, steps.ErrConnectionLost) {
			t.Errorf("%s %s: a refusal is not a lost connection: %v", tc.host, tc.addr, err)
		}
	}
}

// TestTunnelDropped: the host's sshd dies while a forwarded connection is open. Its reads fail with
// steps.ErrConnectionLost naming the host and the address; once sshd is back, the next dial
// reconnects by itself.
func TestTunnelDropped(t *testing.T) {
	echoServer(t, "tcp", echoAddr)
	s := startDropSSHD(t)
	h := newHome(t, homeOpts{knownHosts: []string{s.knownHostsLine()}})
	p := h.pool(t, Options{}, map[string]string{"db1": rootAt(s)})
	c, err := dialT(t, p, "db1", "tcp", echoAddr)
	must(t, err)
	if got, err := roundTrip(c, "before"); err != nil || got != "echo before" {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	s.kill()
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, steps.ErrConnectionLost) {
		t.Fatalf("read after sshd died: err = %v, want steps.ErrConnectionLost", err)
	}
	for _, want := range []string{"db1", rootAt(s), echoAddr} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}

	// While sshd is down a dial fails to connect, and says to what.
	_, err = dialT(t, p, "db1", "tcp", echoAddr)
	if err == nil || errors.Is(err, steps.ErrConnectionLost) || !strings.Contains(err.Error(), "connection refused") ||
		!strings.Contains(err.Error(), echoAddr) {
		t.Fatalf("with sshd down: err = %v, want a refused connection naming %s", err, echoAddr)
	}

	must(t, s.start())
	c, err = dialT(t, p, "db1", "tcp", echoAddr)
	if err != nil {
		t.Fatalf("after sshd restarted: %v", err)
	}
	if got, err := roundTrip(c, "after"); err != nil || got != "echo after" {
		t.Fatalf("round trip after the restart: %q, %v", got, err)
	}
	if got := p.dials.Load(); got != 3 {
		t.Errorf("dials = %d, want 3 (first, refused, after restart)", got)
	}
}
