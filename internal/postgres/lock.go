package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// lockKey is Pitstop's session advisory lock: the bytes of "pitstop".
const lockKey int64 = 0x70697473746f70

// Lock takes Pitstop's advisory lock on host (normally production's primary) on a connection of its
// own, held until release is called or the cockpit exits, so two cockpits cannot drive one primary.
// When another session holds it, the error wraps ErrLocked and says who (pid, application_name,
// client address, since when). Advisory locks live in one database: both cockpits must use the
// database the inventory names. If that connection drops, the lock is lost with it.
func (c *Cluster) Lock(ctx context.Context, host string) (release func(), err error) {
	l, err := c.LockSession(ctx, host)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// LockSession is Lock, returning the handle so that the caller can watch the lock (Alive).
func (c *Cluster) LockSession(ctx context.Context, host string) (*DBLock, error) {
	n, err := c.node(host)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.QueryTimeout)
	defer cancel()
	conn, err := n.connect(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("take the pitstop lock: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey).Scan(&got); err != nil {
		conn.Close(context.Background())
		return nil, n.fail("take the pitstop lock with pg_try_advisory_lock()", err)
	}
	if !got {
		defer conn.Close(context.Background())
		var pid int32
		var app, addr, user string
		var since time.Time
		err := conn.QueryRow(ctx, `SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'),
			coalesce(a.usename::text, ''), a.backend_start
			FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid::bigint = $1 AND l.objid::bigint = $2`, lockKey>>32, lockKey&0xffffffff).
			Scan(&pid, &app, &addr, &user, &since)
		if err != nil {
			return nil, fmt.Errorf("postgres on %s: %w (the holder could not be identified: %v)", host, ErrLocked, scrub(err, n.secret))
		}
		// Never advise ending that session: the run holding it would carry on without its lock.
		return nil, fmt.Errorf("postgres on %s: %w: session pid %d, application %q, user %s, from %s, connected since %s; wait until that run ends, or stop it there (quit its cockpit)",
			host, ErrLocked, pid, app, user, addr, since.Format(time.RFC3339))
	}
	return &DBLock{host: host, conn: conn, timeout: c.opt.QueryTimeout, secret: n.secret}, nil
}

// DBLock is Pitstop's advisory lock held on its own session. Alive tells whether that session still
// holds it: the lock lives as long as the connection, and pg_terminate_backend frees it silently.
type DBLock struct {
	host    string
	mu      sync.Mutex
	conn    *pgx.Conn
	timeout time.Duration
	secret  string
	once    sync.Once
}

// Alive checks, on the lock's own session, that the lock is still held.
func (l *DBLock) Alive(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	var held bool
	err := l.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
		AND classid::bigint = $1 AND objid::bigint = $2)`, lockKey>>32, lockKey&0xffffffff).Scan(&held)
	switch {
	case err != nil:
		return fmt.Errorf("its session on %s ended (%v)", l.host, scrub(err, l.secret))
	case !held:
		return fmt.Errorf("its session on %s no longer holds the advisory lock", l.host)
	}
	return nil
}

// Release gives the lock back and closes its session.
func (l *DBLock) Release() {
	l.once.Do(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		defer cancel()
		// Closing the session releases the lock even when the unlock fails.
		_, _ = l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockKey)
		l.conn.Close(ctx)
	})
}
