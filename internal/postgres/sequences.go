package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// sequence is one row of pg_sequences.
type sequence struct {
	name      string // schema-qualified, quoted as an identifier
	last      *int64 // nil when never used (or not readable)
	increment int64
}

func readSequences(ctx context.Context, conn *pgx.Conn) (map[string]sequence, error) {
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', schemaname, sequencename), last_value, increment_by FROM pg_sequences`)
	if err != nil {
		return nil, err
	}
	out := map[string]sequence{}
	var s sequence
	_, err = pgx.ForEachRow(rows, []any{&s.name, &s.last, &s.increment}, func() error {
		out[s.name] = s
		return nil
	})
	return out, err
}

// AdvanceSequences moves every sequence on `to` past the last value it handed out on `from`: logical
// replication carries rows but not sequences, so without this the next insert on `to` would reuse an
// id the rows from `from` already have. For each sequence used on `from` it calls setval(seq, v, true)
// on `to`, v being from's last value, unless `to` is already further (descending sequences: lower).
// Run it once `from` takes no more writes (fenced) and the reverse sync has caught up.
func (c *Cluster) AdvanceSequences(ctx context.Context, from, to string) error {
	fn, err := c.node(from)
	if err != nil {
		return err
	}
	tn, err := c.node(to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 4*c.opt.QueryTimeout)
	defer cancel()
	var src map[string]sequence
	err = fn.with(ctx, false, func(conn *pgx.Conn) error {
		src, err = readSequences(ctx, conn)
		return err
	})
	if err != nil {
		return fn.fail("read pg_sequences", err)
	}
	var missing []string
	err = tn.with(ctx, true, func(conn *pgx.Conn) error {
		dst, err := readSequences(ctx, conn)
		if err != nil {
			return tn.fail("read pg_sequences", err)
		}
		return pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{AccessMode: pgx.ReadWrite}, func(tx pgx.Tx) error {
			for name, s := range src {
				if s.last == nil {
					continue
				}
				d, ok := dst[name]
				if !ok {
					missing = append(missing, name)
					continue
				}
				if d.last != nil && (*d.last >= *s.last) == (s.increment > 0) {
					continue // already past (ascending) or below (descending) every value from handed out
				}
				if _, err := tx.Exec(ctx, "SELECT setval($1::regclass, $2, true)", name, *s.last); err != nil {
					return tn.fail(fmt.Sprintf("setval(%s, %d)", name, *s.last), err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("postgres on %s: sequences used on %s do not exist here (DDL is not replicated): %s; the others were advanced",
			to, from, strings.Join(missing, ", "))
	}
	return nil
}

// StopReverseSync removes the reverse sync: the subscription on `to`, then the slot and publication
// on `from`. DROP SUBSCRIPTION also drops the remote slot when it can reach `from`; when it cannot, the
// subscription is detached from its slot first (ALTER SUBSCRIPTION … SET (slot_name = NONE)) and the
// slot is dropped on `from` directly. Each part is skipped when already gone, so it can be run again.
// A slot left behind keeps WAL on `from` forever: the error says so.
func (c *Cluster) StopReverseSync(ctx context.Context, from, to string) error {
	fn, err := c.node(from)
	if err != nil {
		return err
	}
	tn, err := c.node(to)
	if err != nil {
		return err
	}
	var errs []error
	if err := tn.dropSubscription(ctx, c.opt.QueryTimeout); err != nil {
		errs = append(errs, fmt.Errorf("stop reverse sync: drop subscription %s on %s: %w; by hand, in psql on %s: %s (if that cannot reach %s: %s)",
			reverseName, to, err, to, dropSubscriptionSQL, from, detachSubscriptionSQL))
	} else {
		c.mu.Lock()
		c.reverse = nil
		c.mu.Unlock()
	}
	if err := fn.dropCapture(ctx, c.opt.QueryTimeout); err != nil {
		errs = append(errs, fmt.Errorf("stop reverse sync: drop slot and publication %s on %s: %w; until it is dropped, the slot keeps every WAL segment on %s: once %s is reachable, in psql there: %s",
			reverseName, from, err, from, from, dropCaptureSQL))
	}
	return errors.Join(errs...)
}

func (n *node) dropSubscription(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 3*timeout)
	defer cancel()
	return n.with(ctx, true, func(conn *pgx.Conn) error {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1)", reverseName).Scan(&exists); err != nil {
			return n.fail("look for subscription "+reverseName, err)
		}
		if !exists {
			return nil
		}
		dctx, dcancel := context.WithTimeout(ctx, timeout)
		_, err := conn.Exec(dctx, "DROP SUBSCRIPTION "+reverseName)
		dcancel()
		if err == nil {
			return nil
		}
		// Most likely the publisher is unreachable: detach the slot and drop locally.
		for _, stmt := range []string{
			"ALTER SUBSCRIPTION " + reverseName + " DISABLE",
			"ALTER SUBSCRIPTION " + reverseName + " SET (slot_name = NONE)",
			"DROP SUBSCRIPTION " + reverseName,
		} {
			if _, err2 := conn.Exec(ctx, stmt); err2 != nil {
				return n.fail(stmt+" (after DROP SUBSCRIPTION failed: "+scrub(err, n.secret).Error()+")", err2)
			}
		}
		return nil
	})
}

// dropCapture drops the slot (once no walsender holds it) and the publication.
func (n *node) dropCapture(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 3*timeout)
	defer cancel()
	return n.with(ctx, true, func(conn *pgx.Conn) error {
		for {
			var exists, active bool
			err := conn.QueryRow(ctx, `SELECT count(*) > 0, coalesce(bool_or(active), false)
				FROM pg_replication_slots WHERE slot_name = $1`, reverseName).Scan(&exists, &active)
			if err != nil {
				return n.fail("look for slot "+reverseName, err)
			}
			if !exists {
				break
			}
			if !active {
				_, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", reverseName)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return n.fail("drop slot "+reverseName, err)
				}
			}
			// A walsender still holds it: the subscriber's disconnect takes a moment to reach it.
			select {
			case <-ctx.Done():
				return fmt.Errorf("postgres on %s: slot %s is still in use by a walsender: is another subscriber attached?", n.name, reverseName)
			case <-time.After(100 * time.Millisecond):
			}
		}
		if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+reverseName); err != nil {
			return n.fail("DROP PUBLICATION "+reverseName, err)
		}
		return nil
	})
}
