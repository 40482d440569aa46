package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// link is a logged-in SSH client and the bastion clients it runs through.
type link struct {
	*ssh.Client
	bastions []*ssh.Client
	// done is closed when the connection is gone (closed by us, by the server, or by the network).
	done chan struct{}
}

// Close closes the connection and the bastion connections under it.
func (l *link) Close() error {
	err := l.Client.Close()
	for _, b := range l.bastions {
		b.Close()
	}
	return err
}

// alive reports whether the connection is still up.
func (l *link) alive() bool {
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

// dial connects and logs in to e, through its bastions if it has any. host names the inventory host
// in errors. The whole chain must be up within e's connect timeout.
func dial(ctx context.Context, host string, e *endpoint, home string) (*link, error) {
	ctx, cancel := context.WithTimeout(ctx, e.connectTimeout)
	defer cancel()
	l, err := dialChain(ctx, host, e, home)
	if err != nil {
		return nil, err
	}
	l.done = make(chan struct{})
	go func() {
		l.Wait()
		l.Close() // the target is gone: its bastions are of no further use
		close(l.done)
	}()
	if e.aliveInterval > 0 {
		go keepalive(l, e.aliveInterval, e.aliveCountMax)
	}
	return l, nil
}

func dialChain(ctx context.Context, host string, e *endpoint, home string) (*link, error) {
	var conn net.Conn
	var bastions []*ssh.Client
	var err error
	if e.jump == nil {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", e.addr())
		if err != nil {
			return nil, connectError(ctx, host, e, fmt.Errorf("%w; check that sshd runs on %s and that the inventory's ssh field and ssh_config (HostName, Port) point at it", err, e.addr()))
		}
	} else {
		b, err := dialChain(ctx, "bastion "+e.jump.spec+" of "+host, e.jump, home)
		if err != nil {
			return nil, err
		}
		bastions = append(b.bastions, b.Client)
		conn, err = b.DialContext(ctx, "tcp", e.addr())
		if err != nil {
			closeAll(bastions)
			hint := "check that the target is reachable from the bastion"
			if strings.Contains(err.Error(), "prohibited") {
				hint = "the bastion refuses to forward: allow it with AllowTcpForwarding yes (and PermitOpen) in the bastion's sshd_config"
			}
			return nil, connectError(ctx, host, e, fmt.Errorf("bastion %s could not open %s: %w; %s", e.jump.spec, e.addr(), err, hint))
		}
	}
	client, err := handshake(ctx, host, e, conn, home)
	if err != nil {
		closeAll(bastions)
		return nil, err
	}
	return &link{Client: client, bastions: bastions}, nil
}

func closeAll(clients []*ssh.Client) {
	for _, c := range clients {
		c.Close()
	}
}

// handshake runs the SSH handshake over conn: strict host key check, then public key login. conn is
// closed if ctx ends first (x/crypto's handshake has no deadline of its own).
func handshake(ctx context.Context, host string, e *endpoint, conn net.Conn, home string) (*ssh.Client, error) {
	hk, err := loadHostKeys(e.knownHosts)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to %s (ssh %s): %w", host, e, err)
	}
	keys := loadKeys(e, home)
	defer keys.Close()
	cfg := &ssh.ClientConfig{
		User:              e.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(keys.signers...)},
		HostKeyCallback:   hk.callback(host, e, home),
		HostKeyAlgorithms: hk.algorithms(e.addr()),
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, e.addr(), cfg)
	if !stop() {
		// ctx ended: the conn is (being) closed even if the handshake had just finished.
		if err == nil {
			c.Close()
		}
		return nil, connectError(ctx, host, e, fmt.Errorf("no SSH handshake within %v", e.connectTimeout))
	}
	if err != nil {
		conn.Close()
		var hkErr *HostKeyError
		switch {
		case errors.As(err, &hkErr):
			return nil, hkErr
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("log in to %s as %s (ssh %s): %s: %w", host, e.user, e, keys.authAdvice(e), err)
		case strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, fmt.Errorf("connect to %s (ssh %s): the host offers no key of the types %s lists for %s (%v); verify the host's keys out of band and update known_hosts: %w",
				host, e, strings.Join(hk.files, ", "), knownHostsName(e.addr()), cfg.HostKeyAlgorithms, err)
		}
		return nil, connectError(ctx, host, e, err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// connectError wraps a failure to reach e, saying whether the connect timeout ran out.
func connectError(ctx context.Context, host string, e *endpoint, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !strings.Contains(err.Error(), "no SSH handshake") {
		err = fmt.Errorf("%w (connect timeout %v)", err, e.connectTimeout)
	}
	return fmt.Errorf("connect to %s (ssh %s): %w", host, e, err)
}

// keepalive sends keepalive@openssh.com every interval and closes the connection when countMax in a row
// go unanswered, so a command on a host that vanished from the network fails instead of hanging.
func keepalive(l *link, interval time.Duration, countMax int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := l.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				l.Close()
				return
			}
			missed = 0
		case <-time.After(interval):
			if missed++; missed >= countMax {
				l.Close()
				return
			}
		case <-l.done:
			return
		}
	}
}
