// Package remote runs commands on inventory hosts: over SSH (golang.org/x/crypto/ssh) for hosts whose
// ssh field is "user@host[:port]" or an ssh_config alias, and with `sh -c` on this machine for "local"
// hosts. A Pool implements steps.Runner: one connection per host, reused by every command, output
// streamed line by line, host keys checked strictly against known_hosts.
package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// maxSessions bounds the commands running at once on one connection: OpenSSH's sshd refuses more than
// MaxSessions (default 10) sessions per connection.
const maxSessions = 10

// Options tune a Pool. The zero value is ready to use.
type Options struct {
	// ConfigFile is the ssh_config to read (default ~/.ssh/config). The inventory's ssh_config field,
	// when set, overrides it.
	ConfigFile string
	// KnownHosts are the known_hosts files to check host keys against. By default each host uses its
	// ssh_config UserKnownHostsFile, else ~/.ssh/known_hosts.
	KnownHosts []string
	// ConnectTimeout bounds connecting and logging in to a host, bastions included (default: ssh_config
	// ConnectTimeout, else 10s).
	ConnectTimeout time.Duration
	// CommandTimeout bounds each command (0 = no limit).
	CommandTimeout time.Duration
	// Home is the home directory whose ~/.ssh is used (default os.UserHomeDir()); tests point it at a
	// private one.
	Home string
	// RunID names the directory under ~/.cache/pitstop/runs on each host where detached commands
	// keep their output and status (see RunDetached); default a random one per Pool. A resumed run
	// passes the interrupted run's to re-attach to its commands.
	RunID string
}

// Pool runs commands on the hosts of one inventory. It is safe for concurrent use; Close it when done.
type Pool struct {
	inv *inventory.Inventory
	opt Options

	// ctx bounds every dial; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	cfgOnce sync.Once
	res     *resolver
	cfgErr  error

	mu     sync.Mutex
	conns  map[string]*conn
	closed bool
	// unsettled holds the hosts where a detached command may still run (see RemoveRun).
	unsettled map[string]bool

	// dials counts connection attempts (tests check that connections are shared).
	dials atomic.Int64
}

// conn is the connection to one host. ready is closed once the dial finished, successfully (l) or not (err).
type conn struct {
	ready    chan struct{}
	l        *link
	err      error
	sessions chan struct{}
}

// usable reports whether c can take another command, or is still being dialed.
func (c *conn) usable() bool {
	select {
	case <-c.ready:
		return c.err == nil && c.l.alive()
	default:
		return true
	}
}

// New returns a Pool for inv's hosts. It connects to nothing until a command is run.
func New(inv *inventory.Inventory, opt Options) *Pool {
	if opt.Home == "" {
		opt.Home, _ = os.UserHomeDir()
	}
	if opt.RunID == "" {
		opt.RunID = newRunID()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{inv: inv, opt: opt, ctx: ctx, cancel: cancel, conns: map[string]*conn{}}
}

var _ steps.Runner = (*Pool)(nil)

// Run runs command on the inventory host named host and streams its output, line by line, to out (which
// may be nil). It returns a *steps.ExitError when the command exits non-zero, an error wrapping
// steps.ErrConnectionLost when the connection dropped while it ran (the command may have half-run), and
// ctx's error when ctx ended first (the command is killed).
func (p *Pool) Run(ctx context.Context, host, command string, out steps.OutputFunc) error {
	if p.opt.CommandTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, p.opt.CommandTimeout,
			fmt.Errorf("command timed out after %v on %s: %w", p.opt.CommandTimeout, host, context.DeadlineExceeded))
		defer cancel()
	}
	t, err := p.target(host)
	if err != nil {
		return err
	}
	if t.Local {
		return runLocal(ctx, host, command, out)
	}
	return p.runSSH(ctx, host, t, command, out)
}

// Check connects to host (checking its host key and logging in) and runs `true`; `pitstop check` uses it.
func (p *Pool) Check(ctx context.Context, host string) error {
	return p.Run(ctx, host, "true", nil)
}

// Close closes every connection. Commands still running fail, and later ones are refused.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = map[string]*conn{}
	p.mu.Unlock()
	p.cancel()
	for _, c := range conns {
		<-c.ready
		if c.l != nil {
			c.l.Close()
		}
	}
	return nil
}

// target parses host's ssh field.
func (p *Pool) target(host string) (inventory.Target, error) {
	var h *inventory.Host
	if p.inv != nil {
		h = p.inv.Host(host)
	}
	if h == nil {
		var names []string
		if p.inv != nil {
			names = p.inv.HostNames()
		}
		return inventory.Target{}, fmt.Errorf("host %q is not in the inventory (hosts: %s); fix the host name or add it under hosts:", host, strings.Join(names, ", "))
	}
	t, err := inventory.ParseTarget(h.SSH)
	if err != nil {
		return inventory.Target{}, fmt.Errorf("host %s: ssh field: %w; write user@host[:port], an ssh_config alias, or local", host, err)
	}
	return t, nil
}

// endpoint resolves host's ssh target through ssh_config (read once per Pool).
func (p *Pool) endpoint(host string, t inventory.Target) (*endpoint, error) {
	p.cfgOnce.Do(func() {
		cfg, err := loadSSHConfig(p.inv, p.opt)
		if err != nil {
			p.cfgErr = err
			return
		}
		p.res = newResolver(cfg, p.opt)
	})
	if p.cfgErr != nil {
		return nil, fmt.Errorf("host %s: %w", host, p.cfgErr)
	}
	e, err := p.res.resolve(t.String(), t, 0)
	if err != nil {
		return nil, fmt.Errorf("host %s (ssh %s): %w", host, t, err)
	}
	return e, nil
}

// conn returns the live connection to host, dialing it if there is none. Concurrent callers share one
// dial; the dial is bounded by the connect timeout and Close, not by ctx, so a caller that gives up
// does not spoil it for the others.
func (p *Pool) conn(ctx context.Context, host string, t inventory.Target) (*conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("run on %s: the connection pool is closed", host)
	}
	c := p.conns[host]
	if c == nil || !c.usable() {
		e, err := p.endpoint(host, t)
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		c = &conn{ready: make(chan struct{}), sessions: make(chan struct{}, maxSessions)}
		p.conns[host] = c
		p.dials.Add(1)
		go func() {
			c.l, c.err = dial(p.ctx, host, e, p.opt.Home)
			close(c.ready)
		}()
	}
	p.mu.Unlock()
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to %s (ssh %s): %w", host, t, context.Cause(ctx))
	}
	if c.err != nil {
		return nil, c.err
	}
	return c, nil
}

// forget drops c if it is still host's connection, so the next command dials afresh.
func (p *Pool) forget(host string, c *conn) {
	p.mu.Lock()
	if p.conns[host] == c {
		delete(p.conns, host)
	}
	p.mu.Unlock()
	if c.l != nil {
		c.l.Close()
	}
}

// isClosed reports whether Close was called.
func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// errPoolClosed is wrapped when Close interrupted a command.
var errPoolClosed = errors.New("the connection pool was closed while the command ran")
