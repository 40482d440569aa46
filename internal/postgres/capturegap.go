package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// A logical slot cannot be created on a PostgreSQL 15 standby, so the capture of the promoted
// backup's changes starts only after its promotion, and a write that lands in between (a cron job or
// a queue worker on the backup side) would never reach production. proveNoGap closes that hole: it
// reads the WAL the backup wrote between its promotion (the switch point of its newest timeline) and
// the slot's start, with pg_walinspect, and refuses when any of it changed a user table.

// ErrCaptureGap is wrapped when writes reached the promoted backup before its capture started.
var ErrCaptureGap = fmt.Errorf("writes reached the promoted backup before the capture started")

// qPromotedAt is the switch point of the server's newest timeline: where it stopped replaying and
// began to write on its own. The history file's last line is "parentTLI<TAB>switchpoint<TAB>reason".
const qPromotedAt = `SELECT pg_read_file('pg_wal/' || name) FROM pg_ls_waldir() WHERE name LIKE '%.history' ORDER BY name DESC LIMIT 1`

// qGapWrites counts heap changes to user tables of this database in [from, to).
const qGapWrites = `SELECT count(*), coalesce(string_agg(DISTINCT c.oid::regclass::text, ', '), '')
FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn) r
JOIN pg_class c ON c.relfilenode = substring(r.block_ref from 'rel [0-9]+/[0-9]+/([0-9]+)')::oid
	AND substring(r.block_ref from 'rel [0-9]+/([0-9]+)/')::oid = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND c.relkind IN ('r', 'p') AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
WHERE r.resource_manager IN ('Heap', 'Heap2') AND r.record_type ~ '^(INSERT|MULTI_INSERT|UPDATE|HOT_UPDATE|DELETE)'`

// proveNoGap returns nil when no user table of host's database changed between its promotion and
// slotLSN, where the capture's slot starts; otherwise an error wrapping ErrCaptureGap that names the
// tables, or one saying why it could not be proven.
func proveNoGap(ctx context.Context, conn *pgx.Conn, host, slotLSN string) error {
	var history string
	if err := conn.QueryRow(ctx, qPromotedAt).Scan(&history); err != nil {
		return fmt.Errorf("postgres on %s: cannot read when it was promoted (its newest timeline history file in pg_wal): %v; the capture is refused because no write between promotion and capture could be ruled out", host, err)
	}
	var promoted string
	for _, line := range strings.Split(strings.TrimSpace(history), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			promoted = f[1]
		}
	}
	if promoted == "" {
		return fmt.Errorf("postgres on %s: its timeline history names no switch point; the capture is refused because no write between promotion and capture could be ruled out", host)
	}
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_walinspect"); err != nil {
		return fmt.Errorf("postgres on %s: CREATE EXTENSION pg_walinspect: %v; pitstop reads the WAL between promotion and capture with it (PostgreSQL contrib), so the capture is refused until it can", host, err)
	}
	var n int64
	var tables string
	if err := conn.QueryRow(ctx, qGapWrites, promoted, slotLSN).Scan(&n, &tables); err != nil {
		return fmt.Errorf("postgres on %s: reading the WAL from its promotion (%s) to the capture (%s) with pg_walinspect: %v; the capture is refused because no write in between could be ruled out", host, promoted, slotLSN, err)
	}
	if n > 0 {
		return fmt.Errorf("postgres on %s: %w: %d change(s) to %s between its promotion (LSN %s) and the start of the capture (LSN %s); "+
			"they are not in the reverse sync and production would never get them. Stop what writes there (cron jobs, queue workers on the backup side), "+
			"then see docs/safety.md#capture-gap", host, ErrCaptureGap, n, tables, promoted, slotLSN)
	}
	return nil
}
