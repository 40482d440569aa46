// Package postgres drives the PostgreSQL servers of an inventory with pgx: it reads every replication
// link, pauses and resumes replay, fences and promotes, runs the logical reverse sync, takes the
// advisory lock that keeps two cockpits apart, and checks privileges for `pitstop check`.
// Cluster implements steps.Database.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

var (
	_ steps.Database    = (*Cluster)(nil)
	_ steps.FenceReader = (*Cluster)(nil)
)

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrNotStandby is returned by actions that need a standby (in recovery) when the host is a primary.
	ErrNotStandby = steps.ErrNotStandby
	// ErrNotPrimary is returned by actions that need a primary when the host is in recovery.
	ErrNotPrimary = errors.New("not a primary")
	// ErrLocked is returned by Lock when another session holds Pitstop's advisory lock.
	ErrLocked = errors.New("another pitstop holds the lock")
	// ErrNoDatabase is returned for a host the inventory gives no postgres connection string.
	ErrNoDatabase = errors.New("no postgres connection string")
)

// DialFunc opens a network connection; pgconn.Config.DialFunc has the same shape, and an SSH client's
// DialContext fits it.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options tune a Cluster.
type Options struct {
	// Dial, when set, opens every database connection (e.g. through an SSH connection). Host names in
	// connection strings are then resolved by the dialer, not locally.
	Dial DialFunc
	// DialHost, when set, returns the dialer for one inventory host (nil for a direct connection);
	// it takes precedence over Dial.
	DialHost func(host string) DialFunc
	// QueryTimeout bounds each reading and each statement of an action (default 5s). Promotion waits
	// up to 60s regardless.
	QueryTimeout time.Duration
	// ApplicationName is sent to every server unless the connection string sets one (default "pitstop").
	ApplicationName string
}

// Cluster is every PostgreSQL server of one inventory, addressed by inventory host name. Each server
// gets one connection for readings, opened on first use, reopened after a failure, kept until Close;
// each action opens a connection of its own for its duration.
type Cluster struct {
	inv *inventory.Inventory
	opt Options

	mu      sync.Mutex
	nodes   map[string]*node
	reverse *reverseLink // set by StartReverseSync, cleared by StopReverseSync
	closed  bool
}

// reverseLink is the logical link StartReverseSync created.
type reverseLink struct{ from, to string }

// New returns a Cluster for inv's database hosts. It connects to nothing until first used.
func New(inv *inventory.Inventory, opt Options) *Cluster {
	if opt.QueryTimeout <= 0 {
		opt.QueryTimeout = 5 * time.Second
	}
	if opt.ApplicationName == "" {
		opt.ApplicationName = "pitstop"
	}
	return &Cluster{inv: inv, opt: opt, nodes: map[string]*node{}}
}

// Close closes every reading connection. Locks taken with Lock are released by their own release func.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, n := range c.nodes {
		n.close()
	}
}

// node is one database server.
type node struct {
	name string
	cfg  *pgx.ConnConfig // never printed: it holds the password
	// secret is the password in use (from the connection string, PGPASSWORD or the passfile); error
	// texts are scrubbed of it.
	secret string

	// reading is held while a reading runs, so that at most one is in flight per server; it guards conn.
	reading sync.Mutex
	conn    *pgx.Conn

	lastMu sync.Mutex
	last   *snapshot
	// role is what the newest successful reading or action found.
	role role
}

type role int

const (
	roleUnknown role = iota
	rolePrimary
	roleStandby
)

// node returns the server on inventory host name, creating it on first use.
func (c *Cluster) node(name string) (*node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("postgres on %s: the cluster was closed", name)
	}
	if n := c.nodes[name]; n != nil {
		return n, nil
	}
	h := c.inv.Host(name)
	if h == nil {
		return nil, fmt.Errorf("database host %q is not in the inventory's hosts: %w", name, ErrNoDatabase)
	}
	if h.Postgres == "" {
		return nil, fmt.Errorf("host %s has no database: set hosts.%s.postgres in %s: %w", name, name, c.inv.Source, ErrNoDatabase)
	}
	cfg, err := pgx.ParseConfig(h.Postgres)
	if err != nil {
		// The parse error keeps the raw string in a field, so it is not wrapped: only its
		// redacted text travels on. The password may come from the environment or a passfile
		// instead, and the string may quote it elsewhere (a wrong key, say): hide those too.
		env := envSecrets(h.Postgres)
		return nil, fmt.Errorf("host %s: cannot parse its postgres connection string %q in %s: %s",
			name, hide(redact(h.Postgres), env...), c.inv.Source, hide(parseReason(err, h.Postgres), env...))
	}
	c.tune(name, cfg)
	n := &node{name: name, cfg: cfg, secret: cfg.Password}
	c.nodes[name] = n
	return n, nil
}

// parseReason says why pgx could not parse conn without quoting conn: pgx's own message quotes it with
// best-effort redaction, which misses parts of a malformed password.
func parseReason(err error, conn string) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return scrub(err, secrets(conn)...).Error()
	}
	inner := errors.Unwrap(pe)
	if inner == nil {
		return "not a valid libpq connection string (key=value pairs or a postgres:// URL)"
	}
	msg := strings.ReplaceAll(inner.Error(), conn, redact(conn))
	return scrub(errors.New(msg), secrets(conn)...).Error()
}

// tune applies the options to one connection configuration.
func (c *Cluster) tune(host string, cc *pgx.ConnConfig) {
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = c.opt.ApplicationName
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = c.opt.QueryTimeout
	}
	dial := c.opt.Dial
	if c.opt.DialHost != nil {
		dial = c.opt.DialHost(host)
	}
	if dial != nil {
		cc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dial(ctx, network, addr)
		}
		// The far end of the dialer resolves the name; the cockpit may not know it.
		cc.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	}
}

// close closes the reading connection, waiting for a reading in progress to end.
func (n *node) close() {
	n.reading.Lock()
	defer n.reading.Unlock()
	if n.conn != nil {
		n.conn.Close(context.Background())
		n.conn = nil
	}
}

// readConn returns the reading connection, connecting if needed. Call it with n.reading held.
func (n *node) readConn(ctx context.Context) (*pgx.Conn, error) {
	if n.conn != nil && !n.conn.IsClosed() {
		return n.conn, nil
	}
	conn, err := n.connect(ctx, false)
	if err != nil {
		return nil, err
	}
	n.conn = conn
	return conn, nil
}

// dropReadConn closes the reading connection after an error, so the next reading reconnects.
// Call it with n.reading held.
func (n *node) dropReadConn() {
	if n.conn != nil {
		n.conn.Close(context.Background())
		n.conn = nil
	}
}

// fail wraps err with the host and what was being done, its text scrubbed of the password. An error
// from connecting already names the host, and only gets what was being done in front.
func (n *node) fail(doing string, err error) error {
	var ce *connectError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", hide(doing, n.secret), err)
	}
	return fmt.Errorf("postgres on %s: %s: %w", n.name, hide(doing, n.secret), scrub(err, n.secret))
}

// connectError is a failure to connect to a host.
type connectError struct {
	host string
	err  error
}

func (e *connectError) Error() string {
	return "cannot connect to postgres on " + e.host + ": " + e.err.Error()
}
func (e *connectError) Unwrap() error { return e.err }

// queryRow runs one single-row query on a connection of its own within timeout.
func (n *node) queryRow(ctx context.Context, timeout time.Duration, sql string, args []any, dest ...any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return n.with(ctx, false, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, sql, args...).Scan(dest...)
	})
}

// with runs fn on a new connection and closes it afterwards. Connection errors are already
// wrapped with the host; fn's errors are returned as they are.
func (n *node) with(ctx context.Context, readWrite bool, fn func(conn *pgx.Conn) error) error {
	conn, err := n.connect(ctx, readWrite)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return fn(conn)
}

// connect opens a new connection. With readWrite the session ignores a fence
// (default_transaction_read_only), which Pitstop's own writes on a fenced primary need.
func (n *node) connect(ctx context.Context, readWrite bool) (*pgx.Conn, error) {
	cc := n.cfg.Copy()
	if readWrite {
		cc.RuntimeParams["default_transaction_read_only"] = "off"
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, &connectError{host: n.name, err: scrub(err, n.secret)}
	}
	return conn, nil
}

// setRole records what the server turned out to be.
func (n *node) setRole(r role) {
	n.lastMu.Lock()
	n.role = r
	n.lastMu.Unlock()
}

func (n *node) getRole() role {
	n.lastMu.Lock()
	defer n.lastMu.Unlock()
	return n.role
}

// inRecovery asks the server whether it is a standby, and records the answer.
func (n *node) inRecovery(ctx context.Context, timeout time.Duration) (bool, error) {
	var rec bool
	if err := n.queryRow(ctx, timeout, "SELECT pg_is_in_recovery()", nil, &rec); err != nil {
		return false, n.fail("read pg_is_in_recovery()", err)
	}
	if rec {
		n.setRole(roleStandby)
	} else {
		n.setRole(rolePrimary)
	}
	return rec, nil
}

// primaryName is the database host of the production side: the source of every physical link.
func (c *Cluster) primaryName() string { return c.inv.Sides.Production.Database }
