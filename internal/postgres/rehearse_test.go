package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCopyWatch: the lock sampler sees a migration that holds ACCESS EXCLUSIVE on a table for 2 s
// and rewrites it, with the table, the mode and the duration, and counts the WAL it wrote. The
// shared primary stands in for a copy (a standalone primary is all the sampler needs).
func TestCopyWatch(t *testing.T) {
	p := sharedPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, p.primary.conn())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	for _, q := range []string{
		`DROP TABLE IF EXISTS rehearse_items, rehearse_new`,
		`CREATE TABLE rehearse_items (id bigserial PRIMARY KEY, name text NOT NULL)`,
		`INSERT INTO rehearse_items (name) SELECT 'item ' || g FROM generate_series(1, 20000) g`,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	defer admin.Exec(context.Background(), `DROP TABLE IF EXISTS rehearse_items, rehearse_new`)

	cp, err := NewCopy(p.primary.conn(), nil, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cp.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Primary || info.Bytes == 0 || !strings.HasPrefix(info.Version, "15") {
		t.Errorf("Inspect = %+v, want a PostgreSQL 15 primary with some bytes", info)
	}
	w, err := cp.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The "migration": a rewrite (a volatile default) and a 2 s hold, in one transaction.
	err = pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
		for _, q := range []string{
			`ALTER TABLE rehearse_items ADD COLUMN stamp timestamptz NOT NULL DEFAULT clock_timestamp()`,
			`SELECT pg_sleep(2)`,
			`CREATE TABLE rehearse_new (id int)`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	rep, err := w.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got *struct {
		held  time.Duration
		query string
	}
	for _, l := range rep.Locks {
		if l.Table == "rehearse_items" && l.Mode == "AccessExclusiveLock" {
			got = &struct {
				held  time.Duration
				query string
			}{l.Longest, l.Query}
		}
	}
	if got == nil {
		t.Fatalf("no AccessExclusiveLock on rehearse_items in %+v", rep.Locks)
	}
	if got.held < 1900*time.Millisecond || got.held > 2600*time.Millisecond {
		t.Errorf("AccessExclusiveLock on rehearse_items held %s, want about 2s", got.held)
	}
	if !strings.HasPrefix(got.query, "ALTER TABLE rehearse_items") && got.query != "SELECT pg_sleep(2)" {
		t.Errorf("the lock's statement is %q, want the first one seen while it was held (the ALTER or the sleep)", got.query)
	}
	if len(rep.Rewritten) != 1 || rep.Rewritten[0].Table != "rehearse_items" || rep.Rewritten[0].After == 0 {
		t.Errorf("rewritten = %+v, want rehearse_items", rep.Rewritten)
	}
	if len(rep.NewTables) != 1 || rep.NewTables[0] != "rehearse_new" {
		t.Errorf("new tables = %v, want [rehearse_new]", rep.NewTables)
	}
	if rep.WALBytes < 100<<10 || rep.Samples < 30 {
		t.Errorf("WAL %d bytes in %d samples; want the rewrite's WAL (> 100 KiB) and ~40 samples", rep.WALBytes, rep.Samples)
	}
}

func TestRedactSQL(t *testing.T) {
	for in, want := range map[string]string{
		`ALTER ROLE app PASSWORD 's3cr''et' VALID UNTIL 'infinity'`: `ALTER ROLE app PASSWORD 'xxxxx' VALID UNTIL 'infinity'`,
		`create role x login password 'hunter2'`:                    `create role x login password 'xxxxx'`,
		`ALTER TABLE items ADD COLUMN note text`:                    `ALTER TABLE items ADD COLUMN note text`,
	} {
		if got := redactSQL(in); got != want {
			t.Errorf("redactSQL(%q) = %q, want %q", in, got, want)
		}
	}
}
