package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// connectWait bounds how long StartReverseSync waits for the new subscription to reach its slot.
const connectWait = 15 * time.Second

// SQL that removes what is left of a reverse sync by hand, quoted in messages. Each part can be run
// again. The subscription goes first: a slot a subscriber still uses cannot be dropped.
const (
	// dropSubscriptionSQL runs on the subscriber (production). DROP SUBSCRIPTION connects to the
	// publisher and drops the slot there too; it fails when it cannot reach the publisher.
	dropSubscriptionSQL = "DROP SUBSCRIPTION IF EXISTS " + reverseName + ";"
	// detachSubscriptionSQL runs on the subscriber: it drops the subscription without touching
	// the publisher, whose slot stays.
	detachSubscriptionSQL = "ALTER SUBSCRIPTION " + reverseName + " DISABLE; ALTER SUBSCRIPTION " + reverseName +
		" SET (slot_name = NONE); DROP SUBSCRIPTION " + reverseName + ";"
	// dropCaptureSQL runs on the publisher (the backup): it drops the slot and the publication.
	dropCaptureSQL = "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + reverseName +
		"'; DROP PUBLICATION IF EXISTS " + reverseName + ";"
)

// qNoIdentity lists the permanent tables whose UPDATE and DELETE cannot be published: no replica
// identity at all, or the default one without a primary key, or an index identity that is gone.
const qNoIdentity = `SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence = 'p'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND (c.relreplident = 'n'
    OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
    OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
ORDER BY 1`

// CheckReverseSync is the preflight of a reverse-sync plan: `from` is the database that will take
// writes and publish them (the backup), `to` the one that will subscribe (production). It checks
// wal_level = logical on from, that every table has a primary key or replica identity on both sides
// (without one, UPDATE and DELETE on that table fail on from once it is published; from may not have
// replayed the newest DDL yet, hence both), superuser on both (PostgreSQL
// 15 needs it for CREATE PUBLICATION FOR ALL TABLES and CREATE SUBSCRIPTION), and that no slot,
// publication or subscription of an earlier run is left over. It returns every problem found.
func (c *Cluster) CheckReverseSync(ctx context.Context, from, to string) error {
	var errs []error
	fn, err := c.node(from)
	if err != nil {
		return err
	}
	tn, err := c.node(to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.QueryTimeout)
	defer cancel()
	err = fn.with(ctx, false, func(conn *pgx.Conn) error {
		var walLevel string
		var slots, senders int
		var super, leftover bool
		if err := conn.QueryRow(ctx, `SELECT current_setting('wal_level'),
			current_setting('max_replication_slots')::int, current_setting('max_wal_senders')::int,
			(SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
			EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)
			OR EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, reverseName).
			Scan(&walLevel, &slots, &senders, &super, &leftover); err != nil {
			return fn.fail("read settings for the reverse sync", err)
		}
		if walLevel != "logical" {
			errs = append(errs, fmt.Errorf("postgres on %s: wal_level is %s; the reverse sync needs wal_level = logical (set it in postgresql.conf on every database host and restart)", from, walLevel))
		}
		if slots < 1 || senders < 1 {
			errs = append(errs, fmt.Errorf("postgres on %s: max_replication_slots = %d and max_wal_senders = %d; the reverse sync needs one free of each", from, slots, senders))
		}
		if !super {
			errs = append(errs, fmt.Errorf("postgres on %s: the role is not a superuser; PostgreSQL 15 allows CREATE PUBLICATION … FOR ALL TABLES only to superusers", from))
		}
		if leftover {
			errs = append(errs, fmt.Errorf("postgres on %s: a replication slot or publication named %s is left from an earlier run; the slot keeps WAL on %s and may hold changes that never reached %s. Once that run is over, remove it: first in psql on %s: %s then in psql on %s: %s",
				from, reverseName, from, to, to, dropSubscriptionSQL, from, dropCaptureSQL))
		}
		tables, err := noIdentity(ctx, conn)
		if err != nil {
			return fn.fail("list tables without a primary key", err)
		}
		if len(tables) > 0 {
			errs = append(errs, noIdentityError(from, tables))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	err = tn.with(ctx, false, func(conn *pgx.Conn) error {
		// The same schema, but from may not have replayed the newest DDL yet.
		tables, err := noIdentity(ctx, conn)
		if err != nil {
			return tn.fail("list tables without a primary key", err)
		}
		if len(tables) > 0 {
			errs = append(errs, noIdentityError(to, tables))
		}
		var super, leftover bool
		if err := conn.QueryRow(ctx, `SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
			EXISTS (SELECT 1 FROM pg_stat_subscription WHERE subname = $1)`, reverseName).Scan(&super, &leftover); err != nil {
			return tn.fail("read settings for the reverse sync", err)
		}
		if !super {
			errs = append(errs, fmt.Errorf("postgres on %s: the role is not a superuser; PostgreSQL 15 allows CREATE SUBSCRIPTION only to superusers", to))
		}
		if leftover {
			errs = append(errs, fmt.Errorf("postgres on %s: a subscription %s is left from an earlier run: remove it, in psql on %s: %s (it also drops its slot on the publisher; if it cannot reach the publisher, detach it instead: %s)",
				to, reverseName, to, dropSubscriptionSQL, detachSubscriptionSQL))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func noIdentity(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, qNoIdentity)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func noIdentityError(host string, tables []string) error {
	return fmt.Errorf("postgres on %s: tables without a primary key or replica identity: %s; once published, UPDATE and DELETE on them fail — add a primary key, or ALTER TABLE … REPLICA IDENTITY FULL",
		host, strings.Join(tables, ", "))
}

// StartCapture starts recording every change on host, a primary that has not taken writes yet: it
// creates the publication pitstop_reverse FOR ALL TABLES, then the logical slot pitstop_reverse
// (pgoutput), which holds WAL from this moment until the subscriber consumes it. It refuses when a
// table lacks a primary key or replica identity (UPDATE/DELETE on it would fail once published), and
// when a slot of that name already exists (it may hold changes of an earlier run).
func (c *Cluster) StartCapture(ctx context.Context, host string) error {
	n, err := c.primary(ctx, host, "start capture")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*c.opt.QueryTimeout)
	defer cancel()
	return n.with(ctx, true, func(conn *pgx.Conn) error {
		var walLevel string
		var pubAll, slotExists *bool
		if err := conn.QueryRow(ctx, `SELECT current_setting('wal_level'),
			(SELECT puballtables FROM pg_publication WHERE pubname = $1),
			(SELECT true FROM pg_replication_slots WHERE slot_name = $1)`, reverseName).
			Scan(&walLevel, &pubAll, &slotExists); err != nil {
			return n.fail("read the capture's state", err)
		}
		if walLevel != "logical" {
			return fmt.Errorf("postgres on %s: wal_level is %s; capturing changes needs wal_level = logical (postgresql.conf, then restart)", host, walLevel)
		}
		if slotExists != nil {
			return fmt.Errorf("postgres on %s: replication slot %s already exists and may hold changes of an earlier run. Once that run is over, remove it: first in psql on the database that subscribed to it (production): %s then in psql on %s: %s",
				host, reverseName, dropSubscriptionSQL, host, dropCaptureSQL)
		}
		if pubAll != nil && !*pubAll {
			return fmt.Errorf("postgres on %s: a publication %s exists but is not FOR ALL TABLES: remove it, in psql on %s: DROP PUBLICATION %s;", host, reverseName, host, reverseName)
		}
		tables, err := noIdentity(ctx, conn)
		if err != nil {
			return n.fail("list tables without a primary key", err)
		}
		if len(tables) > 0 {
			return noIdentityError(host, tables)
		}
		// The publication must exist before the slot: pgoutput looks it up as of each change it decodes.
		if pubAll == nil {
			if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+reverseName+" FOR ALL TABLES"); err != nil {
				return n.fail("CREATE PUBLICATION "+reverseName, err)
			}
		}
		var slotLSN string
		if err := conn.QueryRow(ctx, "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", reverseName).Scan(&slotLSN); err != nil {
			return n.fail("create logical replication slot "+reverseName, err)
		}
		if err := proveNoGap(ctx, conn, host, slotLSN); err != nil {
			// Nothing is captured half: a retry starts over and looks again.
			_, _ = conn.Exec(ctx, dropCaptureSQL)
			return err
		}
		return nil
	})
}

// StartReverseSync subscribes `to` (production) to the changes captured on `from`: CREATE SUBSCRIPTION
// pitstop_reverse on `to`, connecting with from's connection string from the inventory, using the
// existing slot without copying data. It then waits until the subscription holds the slot, which
// proves `to` can reach `from` with that connection string. The connection string, password
// included, is stored in to's pg_subscription catalog until StopReverseSync.
func (c *Cluster) StartReverseSync(ctx context.Context, from, to string) error {
	fh := c.inv.Host(from)
	if fh == nil || fh.Postgres == "" {
		return fmt.Errorf("reverse sync from %s: %w", from, ErrNoDatabase)
	}
	lit, err := quoteLiteral(fh.Postgres)
	if err != nil {
		return fmt.Errorf("reverse sync from %s: its connection string %s: %w", from, redact(fh.Postgres), err)
	}
	fn, err := c.primary(ctx, from, "reverse sync")
	if err != nil {
		return err
	}
	tn, err := c.primary(ctx, to, "reverse sync")
	if err != nil {
		return err
	}
	var slotFound bool
	if err := fn.queryRow(ctx, c.opt.QueryTimeout, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
		[]any{reverseName}, &slotFound); err != nil {
		return fn.fail("look for slot "+reverseName, err)
	}
	if !slotFound {
		return fmt.Errorf("postgres on %s: no replication slot %s: start the capture on %s before it takes writes", from, reverseName, from)
	}
	// synchronous_commit = local: the subscription's default (off) leaves each applied change to the
	// WAL writer, up to wal_writer_delay (200 ms) later, and the slot's confirmed position — what the
	// reverse-drain gate waits on while the backup is fenced and users are refused writes — trails by
	// as much. Flushed at each applied commit, it is current as soon as the apply worker reports.
	stmt := "CREATE SUBSCRIPTION " + reverseName + " CONNECTION " + lit + " PUBLICATION " + reverseName +
		" WITH (copy_data = false, create_slot = false, slot_name = '" + reverseName + "', synchronous_commit = 'local')"
	cctx, cancel := context.WithTimeout(ctx, 2*c.opt.QueryTimeout)
	defer cancel()
	err = tn.with(cctx, true, func(conn *pgx.Conn) error {
		_, err := conn.Exec(cctx, stmt)
		return err
	})
	if err != nil {
		// The statement holds the password: never show it, and scrub from's password too.
		return tn.fail(fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION '%s' …", reverseName, hide(redact(fh.Postgres), fn.secret)), scrub(err, fn.secret))
	}
	c.mu.Lock()
	c.reverse = &reverseLink{from: from, to: to}
	c.mu.Unlock()
	return c.waitSlotActive(ctx, fn, to, fh.Postgres)
}

// waitSlotActive waits until a walsender on from serves the slot.
func (c *Cluster) waitSlotActive(ctx context.Context, fn *node, to, conn string) error {
	ctx, cancel := context.WithTimeout(ctx, connectWait)
	defer cancel()
	for {
		var active bool
		err := fn.queryRow(ctx, c.opt.QueryTimeout, "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = $1), false)",
			[]any{reverseName}, &active)
		if err == nil && active {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fn.fail("check that the subscription reached slot "+reverseName, err)
			}
			return fmt.Errorf("subscription %s on %s has not connected to slot %s on %s within %s: %s must reach %s with the connection string %s (see %s's server log). Before trying again, remove the subscription but keep the slot (it holds the captured changes), in psql on %s: %s",
				reverseName, to, reverseName, fn.name, connectWait, to, fn.name, hide(redact(conn), fn.secret), to, to, detachSubscriptionSQL)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// quoteLiteral returns s as an SQL string literal that means the same whatever
// standard_conforming_strings is: E'…' with backslashes and quotes doubled.
func quoteLiteral(s string) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", errors.New("contains a NUL byte, which an SQL literal cannot hold")
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'", nil
}
