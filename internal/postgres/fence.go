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

// UnfenceSQL is the SQL that lifts the fence, for messages that tell an operator how to do it by
// hand: run it on the fenced host in psql, as a superuser or a role granted ALTER SYSTEM ON
// PARAMETER default_transaction_read_only and EXECUTE on pg_reload_conf(). It is two statements,
// and psql's prompt, psql -f and psql's standard input send them one at a time, as they must be:
// a single psql -c string does not work, because ALTER SYSTEM cannot run inside the implicit
// transaction such a string becomes. Unfence runs exactly these two statements.
const UnfenceSQL = unfenceStmt + "; " + reloadStmt + ";"

// The statements of the fence.
const (
	fenceStmt   = "ALTER SYSTEM SET default_transaction_read_only = on"
	unfenceStmt = "ALTER SYSTEM RESET default_transaction_read_only"
	reloadStmt  = "SELECT pg_reload_conf()"
)

// stillFenced tells the operator that host stays fenced, and how to lift the fence by hand.
func stillFenced(host string) string {
	return fmt.Sprintf("%s stays fenced read-only (even across a restart) until the fence is lifted: in psql on %s run %s", host, host, UnfenceSQL)
}

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
// The setting lives in postgresql.auto.conf, so it survives a restart; Unfence, or UnfenceSQL run by
// hand, lifts it. What it does not stop is listed in docs/postgres.md#the-fence-and-what-it-does-not-stop:
// any session can SET default_transaction_read_only = off or BEGIN READ WRITE after the
// fence, for one. When Fence fails after the setting was written, its error says the host stays
// fenced and quotes UnfenceSQL.
func (c *Cluster) Fence(ctx context.Context, host string) error {
	n, err := c.primary(ctx, host, "fence")
	if err != nil {
		return err
	}
	if err := n.setReadOnly(ctx, c.opt.QueryTimeout, fenceStmt); err != nil {
		return fmt.Errorf("%w; %s may be fenced now, or become fenced at its next reload or restart (ALTER SYSTEM writes postgresql.auto.conf): to be sure it is not, in psql on %s run %s",
			err, host, host, UnfenceSQL)
	}
	cut, err := n.waitSetting(ctx, "on")
	if err != nil {
		return fmt.Errorf("%w; %s", err, stillFenced(host))
	}
	// Hold off our own readings of this server while sessions are terminated, so none of them is
	// caught in the sweep.
	n.reading.Lock()
	defer n.reading.Unlock()
	if err := n.terminateWriters(ctx, c.opt.QueryTimeout, cut); err != nil {
		return fmt.Errorf("%w; %s", err, stillFenced(host))
	}
	return nil
}

// Unfence lifts the fence by running UnfenceSQL — ALTER SYSTEM RESET default_transaction_read_only;
// SELECT pg_reload_conf(); — as two statements, then checks that a new session is read-write again.
// Unfencing a server that is not fenced is harmless.
func (c *Cluster) Unfence(ctx context.Context, host string) error {
	n, err := c.node(host)
	if err != nil {
		return err
	}
	if err := n.setReadOnly(ctx, c.opt.QueryTimeout, unfenceStmt); err != nil {
		return fmt.Errorf("%w; if %s was fenced, it still is: lift the fence by hand, in psql on %s: %s", err, host, host, UnfenceSQL)
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
		if _, err := conn.Exec(ctx, reloadStmt); err != nil {
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

// qTerminateWriters ends every other client session inside a transaction that began before $1 or
// that holds a transaction ID. A session the role may not see (without pg_read_all_stats, other
// roles' sessions show no backend_type, state or transaction) is listed but not touched: it
// comes back with a NULL result.
const qTerminateWriters = `SELECT pid, coalesce(usename::text, ''), coalesce(application_name, ''),
	coalesce(host(client_addr), 'local'),
	CASE WHEN backend_type IS NULL THEN NULL ELSE pg_terminate_backend(pid) END,
	quote_ident(current_user)
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
AND ((backend_type = 'client backend' AND (backend_xid IS NOT NULL OR xact_start < $1))
	OR (backend_type IS NULL AND usesysid IS NOT NULL))`

// terminateWriters ends every other client session inside a transaction that began before cut or
// that holds a transaction ID, then waits until those sessions are gone. It fails when the role
// cannot see whether some session is in a transaction: that session could still write.
func (n *node) terminateWriters(ctx context.Context, timeout time.Duration, cut time.Time) error {
	return n.with(ctx, false, func(conn *pgx.Conn) error {
		tctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		const doing = "terminate sessions with open transactions (the role needs pg_signal_backend, and superuser to end a superuser's session)"
		rows, err := conn.Query(tctx, qTerminateWriters, cut)
		if err != nil {
			return n.fail(doing, err)
		}
		var pids []int32
		var hidden []string
		var role string
		for rows.Next() {
			var pid int32
			var user, app, addr string
			var ok *bool
			if err := rows.Scan(&pid, &user, &app, &addr, &ok, &role); err != nil {
				rows.Close()
				return n.fail(doing, err)
			}
			switch {
			case ok == nil:
				hidden = append(hidden, fmt.Sprintf("pid %d (user %s)", pid, user))
			case *ok:
				pids = append(pids, pid)
			}
			// false: pg_terminate_backend found no such process any more; it is gone already.
		}
		if err := rows.Err(); err != nil {
			return n.fail(doing, err)
		}
		if len(hidden) > 0 {
			return fmt.Errorf("postgres on %s: fenced, but role %s cannot see whether %d session(s) of other roles are inside a transaction that could still write: %s; GRANT pg_read_all_stats TO %s (pg_monitor includes it), or fence as a superuser",
				n.name, role, len(hidden), strings.Join(hidden, ", "), role)
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
