package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/steps"
)

func queryInt(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// caughtUp waits until the standby has replayed everything.
func caughtUp(t *testing.T, c *Cluster, from, to string) {
	t.Helper()
	eventually(t, 10*time.Second, to+" catches up", func() (bool, string) {
		l := link(t, read(t, c), from, to)
		return l.Streaming && l.Replay == 0, fmt.Sprintf("%+v", l)
	})
}

// TestPromoteAndReverseSync runs the reverse-sync plan's database steps in order against a fresh
// primary and standby: fence production, promote the backup, capture on it, write there, carry the
// writes back to production, advance sequences, write on production, and tear the sync down.
func TestPromoteAndReverseSync(t *testing.T) {
	p := newPair(t, portPromote)
	c := New(inventoryFor(p), Options{})
	defer c.Close()
	ctx := context.Background()
	prod, backup := p.primary.name, p.standby.name

	mustExec(t, p.primary,
		"CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, n int NOT NULL DEFAULT 0)",
		"INSERT INTO items (name) SELECT 'before-' || g FROM generate_series(1, 5) g",
		"CREATE TABLE notes (body text)")

	// Preflight: a table without a primary key is named; replica identity full is accepted.
	err := c.CheckReverseSync(ctx, backup, prod)
	if err == nil || !strings.Contains(err.Error(), "public.notes") {
		t.Fatalf("CheckReverseSync with a table without a primary key: want an error naming public.notes, got %v", err)
	}
	mustExec(t, p.primary, "ALTER TABLE notes REPLICA IDENTITY FULL")
	caughtUp(t, c, prod, backup)
	if err := c.CheckReverseSync(ctx, backup, prod); err != nil {
		t.Fatalf("CheckReverseSync: %v", err)
	}

	// Replay paused: rows committed on production reach the backup's disk but are not applied.
	if err := c.PauseReplay(ctx, backup); err != nil {
		t.Fatalf("PauseReplay: %v", err)
	}
	mustExec(t, p.primary, "INSERT INTO items (name) SELECT 'while-paused-' || g FROM generate_series(1, 3) g")
	// Switch over: fence production, wait until the backup has received everything, promote it.
	if err := c.Fence(ctx, prod); err != nil {
		t.Fatalf("Fence: %v", err)
	}
	eventually(t, 10*time.Second, "the backup receives everything while paused", func() (bool, string) {
		l := link(t, read(t, c), prod, backup)
		return l.Streaming && l.Paused && l.Flush == 0 && l.Replay > 0, fmt.Sprintf("%+v", l)
	})
	if err := c.StartCapture(ctx, backup); !errors.Is(err, ErrNotPrimary) {
		t.Fatalf("StartCapture on a standby: want ErrNotPrimary, got %v", err)
	}
	if err := c.Promote(ctx, backup); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	bconn := connect(t, p.standby)
	var rec bool
	if err := bconn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil || rec {
		t.Fatalf("after Promote: pg_is_in_recovery() = %v, %v", rec, err)
	}
	if n := queryInt(t, bconn, "SELECT count(*) FROM items WHERE name LIKE 'while-paused-%'"); n != 3 {
		t.Fatalf("rows received while replay was paused: %d on the promoted backup, want 3 (promotion must replay them)", n)
	}
	if err := c.Promote(ctx, backup); !errors.Is(err, ErrNotStandby) {
		t.Fatalf("Promote twice: want ErrNotStandby, got %v", err)
	}
	if lags := read(t, c); len(lags) != 0 {
		t.Fatalf("a promoted standby has no physical link any more: %+v", lags)
	}

	if err := c.StartCapture(ctx, backup); err != nil {
		t.Fatalf("StartCapture: %v", err)
	}
	if err := c.StartCapture(ctx, backup); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("StartCapture twice: want an error about the existing slot, got %v", err)
	}

	// Users write on the promoted backup: new rows, an update, a delete.
	mustExec(t, p.standby,
		"INSERT INTO items (name) SELECT 'backup-' || g FROM generate_series(1, 50) g",
		"UPDATE items SET n = 42 WHERE name = 'before-1'",
		"DELETE FROM items WHERE name = 'before-2'",
		"INSERT INTO notes VALUES ('from the backup')")

	if err := c.StartReverseSync(ctx, backup, prod); err != nil {
		t.Fatalf("StartReverseSync: %v", err)
	}
	mustExec(t, p.standby, "INSERT INTO items (name) VALUES ('backup-after-subscribe')")

	pconn := connect(t, p.primary)
	want := queryInt(t, bconn, "SELECT count(*) FROM items")
	eventually(t, 15*time.Second, "rows written on the backup reach production", func() (bool, string) {
		n := queryInt(t, pconn, "SELECT count(*) FROM items")
		return n == want, fmt.Sprintf("%d rows on production, %d on the backup", n, want)
	})
	if n := queryInt(t, pconn, "SELECT n FROM items WHERE name = 'before-1'"); n != 42 {
		t.Fatalf("the UPDATE on the backup did not reach production: n = %d", n)
	}
	if n := queryInt(t, pconn, "SELECT count(*) FROM items WHERE name = 'before-2'"); n != 0 {
		t.Fatal("the DELETE on the backup did not reach production")
	}
	if n := queryInt(t, pconn, "SELECT count(*) FROM notes"); n != 1 {
		t.Fatalf("notes (replica identity full): %d rows on production, want 1", n)
	}

	// The logical link is read, and catches up.
	var l steps.Lag
	eventually(t, 20*time.Second, "the reverse link catches up", func() (bool, string) {
		l = link(t, read(t, c), backup, prod)
		return l.Streaming && l.Err == "" && l.Replay <= 64<<10, fmt.Sprintf("%+v", l)
	})
	if l.Kind != steps.Logical {
		t.Fatalf("the reverse link must be logical: %+v", l)
	}
	checkSane(t, l)

	// Production's sequence has not moved: the next insert would collide with a row from the backup.
	if last, max := queryInt(t, pconn, "SELECT last_value FROM items_id_seq"), queryInt(t, pconn, "SELECT max(id) FROM items"); last >= max {
		t.Fatalf("test premise: production's sequence (%d) should be behind the rows from the backup (max id %d)", last, max)
	}
	if err := c.Fence(ctx, backup); err != nil {
		t.Fatalf("Fence the backup before switching back: %v", err)
	}
	if err := c.AdvanceSequences(ctx, backup, prod); err != nil {
		t.Fatalf("AdvanceSequences: %v", err)
	}
	if err := c.Unfence(ctx, prod); err != nil {
		t.Fatalf("Unfence production: %v", err)
	}
	if _, err := pconn.Exec(ctx, "INSERT INTO items (name) SELECT 'prod-' || g FROM generate_series(1, 10) g"); err != nil {
		t.Fatalf("insert on production after AdvanceSequences: %v", err)
	}
	// Running it again changes nothing: production is already past the backup.
	before := queryInt(t, pconn, "SELECT last_value FROM items_id_seq")
	if err := c.AdvanceSequences(ctx, backup, prod); err != nil {
		t.Fatalf("AdvanceSequences again: %v", err)
	}
	if after := queryInt(t, pconn, "SELECT last_value FROM items_id_seq"); after != before {
		t.Fatalf("a second AdvanceSequences moved production's sequence back or forth: %d → %d", before, after)
	}

	if err := c.StopReverseSync(ctx, backup, prod); err != nil {
		t.Fatalf("StopReverseSync: %v", err)
	}
	if n := queryInt(t, pconn, "SELECT count(*) FROM pg_subscription"); n != 0 {
		t.Fatalf("%d subscriptions left on production", n)
	}
	if n := queryInt(t, bconn, "SELECT count(*) FROM pg_replication_slots"); n != 0 {
		t.Fatalf("%d replication slots left on the backup", n)
	}
	if n := queryInt(t, bconn, "SELECT count(*) FROM pg_publication"); n != 0 {
		t.Fatalf("%d publications left on the backup", n)
	}
	if lags := read(t, c); len(lags) != 0 {
		t.Fatalf("no link should be left: %+v", lags)
	}
	if err := c.StopReverseSync(ctx, backup, prod); err != nil {
		t.Fatalf("StopReverseSync again: %v", err)
	}
}

// TestStopReverseSyncPublisherDown stops the reverse sync while the publishing side is down: the
// subscription must still go (detached from its slot), the error must say the slot is left and why
// that matters, and a second run once the publisher is back must finish the job.
func TestStopReverseSyncPublisherDown(t *testing.T) {
	p := newPair(t, portDetach)
	c := New(inventoryFor(p), Options{QueryTimeout: 3 * time.Second})
	defer c.Close()
	ctx := context.Background()
	prod, backup := p.primary.name, p.standby.name
	mustExec(t, p.primary, "CREATE TABLE items (id bigserial PRIMARY KEY)")
	caughtUp(t, c, prod, backup)
	if err := c.Promote(ctx, backup); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if err := c.StartCapture(ctx, backup); err != nil {
		t.Fatalf("StartCapture: %v", err)
	}
	if err := c.StartReverseSync(ctx, backup, prod); err != nil {
		t.Fatalf("StartReverseSync: %v", err)
	}

	if err := p.standby.stop(); err != nil {
		t.Fatal(err)
	}
	l := link(t, read(t, c), backup, prod)
	t.Logf("reverse link with the publisher down: %+v", l)
	if l.Streaming || !strings.Contains(l.Err, backup) {
		t.Fatalf("with the publisher down the reverse link must not stream and must name it: %+v", l)
	}
	err := c.StopReverseSync(ctx, backup, prod)
	if err == nil || !strings.Contains(err.Error(), "keeps every WAL segment") || !strings.Contains(err.Error(), backup) {
		t.Fatalf("StopReverseSync with the publisher down: want an error about the slot left on %s, got %v", backup, err)
	}
	t.Logf("StopReverseSync with the publisher down: %v", err)
	if n := queryInt(t, connect(t, p.primary), "SELECT count(*) FROM pg_subscription"); n != 0 {
		t.Fatalf("the subscription must be dropped even with the publisher down; %d left", n)
	}

	if err := p.standby.start(); err != nil {
		t.Fatal(err)
	}
	if err := c.StopReverseSync(ctx, backup, prod); err != nil {
		t.Fatalf("StopReverseSync with the publisher back: %v", err)
	}
	bconn := connect(t, p.standby)
	if n := queryInt(t, bconn, "SELECT count(*) FROM pg_replication_slots") + queryInt(t, bconn, "SELECT count(*) FROM pg_publication"); n != 0 {
		t.Fatalf("%d slots and publications left on the backup", n)
	}
}
