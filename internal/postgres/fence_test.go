package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// sqlState returns the SQLSTATE of a server error, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestFence(t *testing.T) {
	p := sharedPair(t)
	c := New(inventoryFor(p), Options{})
	defer c.Close()
	ctx := context.Background()
	prod := p.primary.name
	mustExec(t, p.primary, "CREATE TABLE IF NOT EXISTS fenced (id int PRIMARY KEY)", "TRUNCATE fenced")

	// Three application sessions: one in the middle of a write, one in a read-only transaction
	// that began before the fence, one idle.
	writing := connect(t, p.primary)
	if _, err := writing.Exec(ctx, "BEGIN; INSERT INTO fenced VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	reading := connect(t, p.primary)
	if _, err := reading.Exec(ctx, "BEGIN; SELECT count(*) FROM fenced"); err != nil {
		t.Fatal(err)
	}
	idle := connect(t, p.primary)

	if err := c.Fence(ctx, prod); err != nil {
		t.Fatalf("Fence: %v", err)
	}
	t.Cleanup(func() { _ = c.Unfence(context.Background(), prod) })

	if _, err := writing.Exec(ctx, "COMMIT"); err == nil {
		t.Fatal("a write transaction open at the fence committed; it must have been terminated")
	}
	if _, err := reading.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("a transaction that began before the fence (it could still write) survived")
	}
	_, err := idle.Exec(ctx, "INSERT INTO fenced VALUES (2)")
	if sqlState(err) != "25006" { // read_only_sql_transaction
		t.Fatalf("a write after the fence: want SQLSTATE 25006 (read-only transaction), got %v", err)
	}
	var n int
	if err := idle.QueryRow(ctx, "SELECT count(*) FROM fenced").Scan(&n); err != nil || n != 0 {
		t.Fatalf("reads must work while fenced, and the terminated write must be gone: count %d, %v", n, err)
	}
	fresh := connect(t, p.primary)
	var ro string
	if err := fresh.QueryRow(ctx, "SHOW default_transaction_read_only").Scan(&ro); err != nil || ro != "on" {
		t.Fatalf("a new session: default_transaction_read_only = %q, %v; want on", ro, err)
	}
	// Fencing twice is harmless.
	if err := c.Fence(ctx, prod); err != nil {
		t.Fatalf("second Fence: %v", err)
	}
	// A resumed run reads the fence back: on the fenced primary, not on its standby (read-only by
	// nature, not fenced).
	if fenced, err := c.Fenced(ctx, prod); err != nil || !fenced {
		t.Errorf("Fenced(%s) while fenced = %t, %v; want true", prod, fenced, err)
	}
	if fenced, err := c.Fenced(ctx, p.standby.name); err != nil || fenced {
		t.Errorf("Fenced(%s), a standby = %t, %v; want false", p.standby.name, fenced, err)
	}

	if err := c.Unfence(ctx, prod); err != nil {
		t.Fatalf("Unfence: %v", err)
	}
	if fenced, err := c.Fenced(ctx, prod); err != nil || fenced {
		t.Errorf("Fenced(%s) after Unfence = %t, %v; want false", prod, fenced, err)
	}
	if _, err := idle.Exec(ctx, "INSERT INTO fenced VALUES (3)"); err != nil {
		t.Fatalf("a write after Unfence, in a session opened while fenced: %v", err)
	}
	if _, err := connect(t, p.primary).Exec(ctx, "INSERT INTO fenced VALUES (4)"); err != nil {
		t.Fatalf("a write after Unfence in a new session: %v", err)
	}
}

func TestFenceNeedsPrimary(t *testing.T) {
	p := sharedPair(t)
	c := New(inventoryFor(p), Options{})
	defer c.Close()
	err := c.Fence(context.Background(), p.standby.name)
	if !errors.Is(err, ErrNotPrimary) || !strings.Contains(err.Error(), p.standby.name) {
		t.Fatalf("Fence on a standby: want ErrNotPrimary naming it, got %v", err)
	}
}
