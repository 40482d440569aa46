package app

import (
	"context"
	"errors"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Item is one row of the items table as the API shows it.
type Item struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Note exists from v2 on; v1 leaves it out.
	Note      *string   `json:"note,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// DBStatus is what /health reports about the database.
type DBStatus struct {
	// Role is "primary" or "standby" (pg_is_in_recovery()).
	Role string `json:"role"`
	// Writable is false on a standby and on a primary with default_transaction_read_only on.
	Writable bool `json:"writable"`
	// SchemaReady is false when this version needs a migration the database has not had.
	SchemaReady bool `json:"schema_ready"`
}

// store is the application's only way to its database.
type store struct {
	pool    *pool
	version string
	log     *log.Logger

	mu    sync.Mutex
	state dbState
}

func (s *store) list(ctx context.Context, limit int) ([]Item, error) {
	q := `SELECT id, name, created_at FROM items ORDER BY id DESC LIMIT $1`
	if s.version == "v2" {
		q = `SELECT id, name, note, created_at FROM items ORDER BY id DESC LIMIT $1`
	}
	var items []Item
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, limit)
		if err != nil {
			return err
		}
		items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Item, error) {
			var it Item
			if s.version == "v2" {
				it.Note = new(string)
				return it, row.Scan(&it.ID, &it.Name, it.Note, &it.CreatedAt)
			}
			return it, row.Scan(&it.ID, &it.Name, &it.CreatedAt)
		})
		return err
	})
	return items, s.observe("read", err)
}

func (s *store) create(ctx context.Context, name, note string) (Item, error) {
	var it Item
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		if s.version == "v2" {
			it.Note = new(string)
			return c.QueryRow(ctx,
				`INSERT INTO items (name, note) VALUES ($1, $2) RETURNING id, name, note, created_at`,
				name, note).Scan(&it.ID, &it.Name, it.Note, &it.CreatedAt)
		}
		return c.QueryRow(ctx,
			`INSERT INTO items (name) VALUES ($1) RETURNING id, name, created_at`,
			name).Scan(&it.ID, &it.Name, &it.CreatedAt)
	})
	return it, s.observe("write", err)
}

// status reads the database's role and whether it takes writes.
func (s *store) status(ctx context.Context) (DBStatus, error) {
	var recovery bool
	var readOnly string
	st := DBStatus{SchemaReady: true}
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx,
			`SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')`).Scan(&recovery, &readOnly)
		if err != nil || s.version != "v2" {
			return err
		}
		return c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = 'items' AND column_name = 'note')`).Scan(&st.SchemaReady)
	})
	if err != nil {
		return DBStatus{}, s.observe("status", err)
	}
	st.Role, st.Writable = "primary", !recovery && readOnly == "off"
	if recovery {
		st.Role = "standby"
	}
	if st.Writable {
		s.observe("write", nil) // the database says it takes writes
	} else {
		s.observe("status", &pgconn.PgError{Code: codeReadOnly, Message: "database is read-only"})
	}
	return st, nil
}

// ensureSchema creates the items table when the database is writable and lacks it. It reports true
// when the table exists afterwards.
func (s *store) ensureSchema(ctx context.Context, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var exists bool
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT to_regclass('items') IS NOT NULL`).Scan(&exists)
	})
	if err != nil {
		s.observe("status", err)
		return false
	}
	if exists {
		return true
	}
	err = s.pool.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return createBaseSchema(ctx, tx) })
	})
	if err != nil {
		// A standby gets the table by replication once a primary creates it; keep waiting quietly.
		if kind, _ := classify(err); kind != errReadOnly {
			s.log.Printf("create schema: %v", err)
		}
		s.observe("write", err)
		return false
	}
	s.log.Printf("created table items")
	return true
}

// ensureSchemaLoop retries ensureSchema every second until the table exists or ctx ends.
func (s *store) ensureSchemaLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.ensureSchema(ctx, 3*time.Second) {
				return
			}
		}
	}
}

// observe records what a database call showed about the database and logs each change (reachable,
// read-only, schema), so a log shows transitions rather than one line per request. It returns err.
func (s *store) observe(op string, err error) error {
	reachable, readOnly, schema := true, -1, -1 // -1: this call says nothing about it
	detail := ""
	if err != nil {
		detail = oneLine(err.Error())
		switch kind, _ := classify(err); kind {
		case errUnavailable:
			reachable = false
		case errReadOnly:
			readOnly = 1
		case errSchema:
			schema = 0
		case errInternal:
			s.log.Printf("database error during %s: %s", op, detail)
		}
	} else if op == "write" {
		readOnly = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.known && s.state.reachable != reachable {
		if reachable {
			s.log.Printf("database reachable again")
		} else {
			s.log.Printf("database unavailable: %s", detail)
		}
	}
	s.state.known, s.state.reachable = true, reachable
	if readOnly >= 0 && (readOnly == 1) != s.state.readOnly {
		s.state.readOnly = readOnly == 1
		if s.state.readOnly {
			s.log.Printf("database is read-only: writes get 503 until it takes writes again")
		} else {
			s.log.Printf("database takes writes again")
		}
	}
	if schema == 0 && !s.state.schemaMissing {
		s.state.schemaMissing = true
		s.log.Printf("schema not ready for %s: %s (run the migration)", s.version, detail)
	} else if schema < 0 && err == nil && s.state.schemaMissing && op != "status" {
		s.state.schemaMissing = false
		s.log.Printf("schema ready for %s", s.version)
	}
	return err
}

// dbState is the last database state the log reported.
type dbState struct {
	known, reachable, readOnly, schemaMissing bool
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// errKind is how the API reports a database error.
type errKind string

// The kinds of database errors the API tells apart.
const (
	errReadOnly    errKind = "read_only"
	errUnavailable errKind = "database_unavailable"
	errSchema      errKind = "schema_not_ready"
	errInternal    errKind = "internal"
)

// SQLSTATE codes the application branches on.
const (
	codeReadOnly        = "25006" // read_only_sql_transaction
	codeUndefinedTable  = "42P01"
	codeUndefinedColumn = "42703"
)

// classify maps a database error to its kind and HTTP status. Anything that is not an error reported
// by the server (refused connection, reset, timeout) means the database is unavailable.
func classify(err error) (errKind, int) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return errUnavailable, 503
	}
	switch {
	case pgErr.Code == codeReadOnly:
		return errReadOnly, 503
	case pgErr.Code == codeUndefinedTable || pgErr.Code == codeUndefinedColumn:
		return errSchema, 503
	case strings.HasPrefix(pgErr.Code, "08"), // connection exception
		strings.HasPrefix(pgErr.Code, "57P"), // admin/crash shutdown, cannot connect now (starting up)
		pgErr.Code == "57014",                // query canceled (statement timeout)
		pgErr.Code == "53300",                // too many connections
		pgErr.Code == "40001":                // serialization failure, incl. recovery conflicts on a standby
		return errUnavailable, 503
	}
	return errInternal, 500
}
