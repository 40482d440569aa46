package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// settleWait bounds how long Fence and Unfence wait for a reload to reach new sessions and for
// terminated sessions to exit.
const settleWait = 5 * time.Second

// Fence makes primary host refuse new write transactions and ends the sessions that could still
// write:
//
//  1. ALTER SYSTEM SET default_transaction_read_only = on, then pg_reload_conf(): every transaction
//     that starts afterwards is read-only unless its session asks otherwise.
//  2. Wait until a new connection sees the setting on (the reload is asynchronous).
//  3. Terminate every client session whose transaction began before that moment, and every one
//     holding a transaction ID (it has written): they began read-write and could still commit.
//     Read-only transactions that began before the fence are ended too; their clients reconnect.
//
// The setting lives in postgresql.auto.conf, so it survives a restart. What it does not stop is
// listed in docs/postgres.md: any session can SET default_transaction_read_only = off or
// BEGIN READ WRITE after the fence.
func (c *Cluster) Fence(ctx context.Context, host string) error {
	n, err := c.primary(ctx, host, "fence")
	if err != nil {
		return err
	}
	if err := n.setReadOnly(ctx, c.opt.QueryTimeout, "ALTER SYSTEM SET default_transaction_read_only = on"); err != nil {
		return err
	}
	cut, err := n.waitSetting(ctx, "on")
	if err != nil {
		return err
	}
	// Hold off our own readings of this server while sessions are terminated, so none of them is
	// caught in the sweep.
	n.reading.Lock()
	defer n.reading.Unlock()
	return n.terminateWriters(ctx, c.opt.QueryTimeout, cut)
}

// Unfence lifts the fence: ALTER SYSTEM RESET default_transaction_read_only and a reload, then checks
// that a new session is read-write again.
func (c *Cluster) Unfence(ctx context.Context, host string) error {
	n, err := c.node(host)
	if err != nil {
		return err
	}
	if err := n.setReadOnly(ctx, c.opt.QueryTimeout, "ALTER SYSTEM RESET default_transaction_read_only"); err != nil {
		return err
	}
	if _, err := n.waitSetting(ctx, "off"); err != nil {
		return fmt.Errorf("%w (is default_transaction_read_only also set in postgresql.conf, or by ALTER ROLE/DATABASE … SET?)", err)
	}
	return nil
}

// setReadOnly runs one ALTER SYSTEM statement and reloads the configuration. ALTER SYSTEM cannot run
// inside a transaction block, so the two are separate statements.
func (n *node) setReadOnly(ctx context.Context, timeout time.Duration, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return n.with(ctx, false, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return n.fail(stmt, err)
		}
		if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
			return n.fail("reload the configuration with pg_reload_conf()", err)
		}
		return nil
	})
}

// waitSetting connects afresh until a new session's default_transaction_read_only is want, and
// returns the server's clock at that moment: every session whose transaction began earlier may
// still have the old setting.
func (n *node) waitSetting(ctx context.Context, want string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	got := ""
	for {
		conn, err := n.connect(ctx, false)
		if err != nil {
			return time.Time{}, fmt.Errorf("check default_transaction_read_only from a new session: %w", err)
		}
		var now time.Time
		err = conn.QueryRow(ctx, "SELECT current_setting('default_transaction_read_only'), clock_timestamp()").Scan(&got, &now)
		conn.Close(context.Background())
		if err != nil {
			return time.Time{}, n.fail("read default_transaction_read_only from a new session", err)
		}
		if got == want {
			return now, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("postgres on %s: a new session still has default_transaction_read_only = %s after the reload, want %s",
				n.name, got, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// terminateWriters ends every other client session inside a transaction that began before cut or
// that holds a transaction ID, then waits until those sessions are gone.
func (n *node) terminateWriters(ctx context.Context, timeout time.Duration, cut time.Time) error {
	return n.with(ctx, false, func(conn *pgx.Conn) error {
		tctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		rows, err := conn.Query(tctx, `SELECT pid, coalesce(usename::text, ''), coalesce(application_name, ''),
			coalesce(host(client_addr), 'local'), pg_terminate_backend(pid)
			FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
			AND (backend_xid IS NOT NULL OR xact_start < $1)`, cut)
		if err != nil {
			return n.fail("terminate sessions with open transactions", err)
		}
		var pids []int32
		var refused []string
		for rows.Next() {
			var pid int32
			var user, app, addr string
			var ok bool
			if err := rows.Scan(&pid, &user, &app, &addr, &ok); err != nil {
				rows.Close()
				return n.fail("terminate sessions with open transactions", err)
			}
			if ok {
				pids = append(pids, pid)
			} else {
				refused = append(refused, fmt.Sprintf("pid %d (user %s, application %q, from %s)", pid, user, app, addr))
			}
		}
		if err := rows.Err(); err != nil {
			return n.fail("terminate sessions with open transactions", err)
		}
		if len(refused) > 0 {
			return fmt.Errorf("postgres on %s: fenced, but could not terminate %s: the role needs pg_signal_backend (or superuser for superuser sessions)",
				n.name, strings.Join(refused, ", "))
		}
		return n.waitGone(ctx, conn, pids)
	})
}

// waitGone waits until none of pids is in pg_stat_activity.
func (n *node) waitGone(ctx context.Context, conn *pgx.Conn, pids []int32) error {
	if len(pids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	for {
		var left []int32
		err := conn.QueryRow(ctx, "SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity WHERE pid = ANY($1)", pids).Scan(&left)
		if err == nil && len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return n.fail("check that terminated sessions exited", err)
			}
			return fmt.Errorf("postgres on %s: fenced, but sessions %v have not exited %s after pg_terminate_backend()", n.name, left, settleWait)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
