package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// linkGoneWait bounds how long a tunnel whose channel ended waits to learn whether the whole SSH
// connection went with it (the channels close a moment before the connection reports its end).
const linkGoneWait = time.Second

// DialFunc opens a network connection; pgconn.Config.DialFunc and postgres.DialFunc have its shape.
type DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer returns a DialFunc that opens connections from host, as DialContext does. The pool must
// outlive the connections it opens.
func (p *Pool) Dialer(host string) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return p.DialContext(ctx, host, network, addr)
	}
}

// DialContext opens a connection to addr as seen from the inventory host named host: through host's
// pooled SSH connection (the one commands use, dialed first if needed, with the same host key checks),
// which makes host's sshd connect to addr — addr is resolved and reached on host. network is "tcp"
// (also "tcp4", "tcp6") for host:port or "unix" for a socket path on host; sshd must allow it
// (AllowTcpForwarding, PermitOpen, AllowStreamLocalForwarding). For a "local" host it dials addr
// directly. A connection found dead is replaced once, as for commands.
//
// The connection returned supports deadlines. If the SSH connection drops while it is open, its
// reads and writes fail with an error wrapping steps.ErrConnectionLost, and the next DialContext
// reconnects.
func (p *Pool) DialContext(ctx context.Context, host, network, addr string) (net.Conn, error) {
	t, err := p.target(host)
	if err != nil {
		return nil, err
	}
	if t.Local {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, fmt.Errorf("connect to %s %s from %s (local): %w", network, addr, host, err)
		}
		return c, nil
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("connect to %s %s through the SSH connection to %s (ssh %s): SSH forwards only tcp and unix connections", network, addr, host, t)
	}
	for attempt := 0; ; attempt++ {
		c, err := p.conn(ctx, host, t)
		if err != nil {
			return nil, fmt.Errorf("connect to %s through the SSH connection to %s: %w", addr, host, err)
		}
		ch, err := c.l.DialContext(ctx, network, addr)
		if err == nil {
			return newTunnel(p, c.l, host, t, network, addr, ch), nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s through the SSH connection to %s (ssh %s): %w", addr, host, t, context.Cause(ctx))
		}
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) {
			return nil, refusedError(host, t, network, addr, refused)
		}
		if p.isClosed() {
			return nil, fmt.Errorf("connect to %s through the SSH connection to %s: %w", addr, host, errPoolClosed)
		}
		// The connection is gone (it dropped while idle, or while the channel opened): nothing was
		// sent through it, so one fresh connection is tried.
		p.forget(host, c)
		if attempt > 0 {
			return nil, fmt.Errorf("%w: %s (ssh %s) while opening a connection to %s: %v; check the host's sshd and try again",
				steps.ErrConnectionLost, host, t, addr, err)
		}
	}
}

// refusedError explains why host's sshd would not open a connection to addr.
func refusedError(host string, t inventory.Target, network, addr string, err *ssh.OpenChannelError) error {
	var hint string
	switch {
	case network == "unix":
		// OpenSSH answers "connect failed" both when the socket is missing and when its
		// configuration forbids forwarding to sockets, which AllowTcpForwarding and PermitOpen
		// govern too.
		hint = fmt.Sprintf("check that the socket %s exists on %s, that the SSH user may connect to it, and that the host's sshd_config allows it (AllowStreamLocalForwarding yes and AllowTcpForwarding yes; no DisableForwarding; no PermitOpen, which leaves out every socket)", addr, host)
	case err.Reason == ssh.Prohibited:
		hint = fmt.Sprintf("allow it in that host's sshd_config with AllowTcpForwarding yes, and PermitOpen %s if PermitOpen is set (also check DisableForwarding and the authorized_keys options)", addr)
	case err.Reason == ssh.ConnectionFailed:
		hint = fmt.Sprintf("check that something listens at %s as seen from %s (the address is resolved and dialed on that host)", addr, host)
	default:
		hint = "check that host's sshd log"
	}
	return fmt.Errorf("sshd on %s (ssh %s) refused to open a connection to %s %s: %w; %s", host, t, network, addr, err, hint)
}

// tunnel is a connection forwarded over a host's SSH connection. SSH channels have no deadlines, and
// pgx cancels a query by setting one, so the channel is coupled to one end of a net.Pipe; the other
// end, which has deadlines, is what the caller reads and writes.
type tunnel struct {
	net.Conn // the caller's end of the pipe
	p        *Pool
	l        *link
	host     string
	target   inventory.Target
	remote   tunnelAddr
	closed   atomic.Bool
}

func newTunnel(p *Pool, l *link, host string, t inventory.Target, network, addr string, ch net.Conn) *tunnel {
	mine, inner := net.Pipe()
	go func() {
		// The caller's writes go out; when the caller closes, the channel is closed.
		io.Copy(ch, inner)
		ch.Close()
	}()
	go func() {
		// What arrives comes in; when the far end or the SSH connection closes, the caller reads EOF.
		io.Copy(inner, ch)
		inner.Close()
	}()
	return &tunnel{Conn: mine, p: p, l: l, host: host, target: t, remote: tunnelAddr{network, addr, host}}
}

// Read reads from the forwarded connection.
func (t *tunnel) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	return n, t.lost(err)
}

// Write writes to the forwarded connection.
func (t *tunnel) Write(b []byte) (int, error) {
	n, err := t.Conn.Write(b)
	return n, t.lost(err)
}

// Close closes the forwarded connection; the SSH connection stays for the next use.
func (t *tunnel) Close() error {
	t.closed.Store(true)
	return t.Conn.Close()
}

// RemoteAddr is the address the connection was opened to, on its host.
func (t *tunnel) RemoteAddr() net.Addr { return t.remote }

// lost turns an error of the forwarded connection into one wrapping steps.ErrConnectionLost when the
// SSH connection under it has dropped. Deadlines and the far end closing are passed on as they are.
func (t *tunnel) lost(err error) error {
	if err == nil || t.closed.Load() || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	select {
	case <-t.l.done:
	case <-time.After(linkGoneWait):
		return err
	}
	if t.p.isClosed() {
		return fmt.Errorf("connection to %s through the SSH connection to %s: %w", t.remote.addr, t.host, errPoolClosed)
	}
	why := err.Error()
	if errors.Is(err, io.ErrClosedPipe) {
		why = "closed"
	}
	return fmt.Errorf("%w: %s (ssh %s), which carried the connection to %s: %s; the next connection reconnects",
		steps.ErrConnectionLost, t.host, t.target, t.remote.addr, why)
}

// tunnelAddr is the far end of a tunnel: an address on a host.
type tunnelAddr struct{ network, addr, host string }

// Network is "tcp" or "unix".
func (a tunnelAddr) Network() string { return a.network }

// String is the address followed by the host it is reached from.
func (a tunnelAddr) String() string { return a.addr + " via " + a.host }
