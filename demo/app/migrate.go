package app

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// schemaLock is the advisory lock key that serialises schema changes between instances.
const schemaLock = 0x70697473 // "pits"

// createBaseSchema creates v1's table if it is missing. It runs inside tx.
func createBaseSchema(ctx context.Context, tx pgx.Tx) error {
	// Two instances starting at once would race on CREATE TABLE IF NOT EXISTS (a unique violation on
	// pg_type); the transaction-scoped advisory lock makes the second one wait and then do nothing.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLock); err != nil {
		return fmt.Errorf("take the schema lock: %w", err)
	}
	_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS items (
		id         bigserial PRIMARY KEY,
		name       text NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now()
	)`)
	if err != nil {
		return fmt.Errorf("create table items: %w", err)
	}
	return nil
}

// Migrate brings the database at conn (a libpq connection string) to the schema v2 needs: it creates
// the items table if missing and adds items.note (text, not null, default empty). It is idempotent, and
// v1 keeps working after it. It fails on a read-only database (a standby or a fenced primary) and
// when a lock cannot be had within 5 s (a long transaction holds the table).
func Migrate(ctx context.Context, conn string) error {
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return fmt.Errorf("migrate: parse the database connection string: %w", err)
	}
	where := fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("migrate %s: connect: %w", where, err)
	}
	defer c.Close(context.Background())

	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			return err
		}
		if err := createBaseSchema(ctx, tx); err != nil {
			return err
		}
		// Since PostgreSQL 11 a constant default makes this a catalog-only change: no table rewrite.
		_, err := tx.Exec(ctx, `ALTER TABLE items ADD COLUMN IF NOT EXISTS note text NOT NULL DEFAULT ''`)
		return err
	})
	if err != nil {
		if kind, _ := classify(err); kind == errReadOnly {
			return fmt.Errorf("migrate %s: the database is read-only (a hot standby or a fenced primary); run the migration against the primary: %w", where, err)
		}
		return fmt.Errorf("migrate %s: %w", where, err)
	}
	return nil
}
