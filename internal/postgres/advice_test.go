package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The tests in this file follow the advice in the package's messages the way an operator would:
// they paste the SQL a message quotes into the real psql.

// psql runs sql on s as user postgres through the real psql, reading it from standard input (as
// psql's prompt or psql -f does: statement by statement), or as one -c string when asOneString.
func psql(t *testing.T, s *pgServer, sql string, asOneString bool) (string, error) {
	t.Helper()
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", fmt.Sprint(s.port), "-U", "postgres", "-d", "postgres"}
	if asOneString {
		args = append(args, "-c", sql)
	}
	cmd := exec.Command(filepath.Join(pgBinDir, "psql"), args...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+testPassword, "PGCONNECT_TIMEOUT=5")
	if !asOneString {
		cmd.Stdin = strings.NewReader(sql)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// readOnlyDefault is what a new session on s gets for default_transaction_read_only.
func readOnlyDefault(t *testing.T, s *pgServer) string {
	t.Helper()
	var v string
	if err := connect(t, s).QueryRow(context.Background(), "SHOW default_transaction_read_only").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFenceFailureSaysHowToLift makes Fence fail after the fence is on, and checks that the error
// says the host stays fenced and quotes UnfenceSQL, and that UnfenceSQL pasted into psql lifts the
// fence (while a single psql -c string of it is refused, as UnfenceSQL's doc says). Fence fails
// because its role may fence but, first, cannot see a superuser's open transaction
// (no pg_read_all_stats), then may not end it (no superuser).
func TestFenceFailureSaysHowToLift(t *testing.T) {
	p := sharedPair(t)
	ctx := context.Background()
	prim := p.primary.name
	const drop = `DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'fencer') THEN
		DROP OWNED BY fencer; DROP ROLE fencer; END IF; END $$`
	mustExec(t, p.primary, drop, "CREATE ROLE fencer LOGIN PASSWORD 'fence'",
		"GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO fencer",
		"GRANT EXECUTE ON FUNCTION pg_reload_conf() TO fencer", "GRANT pg_signal_backend TO fencer")
	t.Cleanup(func() {
		mustExec(t, p.primary, unfenceStmt, reloadStmt, "SET default_transaction_read_only = off", drop)
	})
	inv := inventoryFor(p)
	inv.Hosts[prim].Postgres = fmt.Sprintf("host=127.0.0.1 port=%d user=fencer password=fence dbname=postgres", p.primary.port)
	c := New(inv, Options{})
	defer c.Close()

	// A superuser session in the middle of a transaction that could still write.
	open := connect(t, p.primary)
	if _, err := open.Exec(ctx, "BEGIN; SELECT 1"); err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := open.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	stays := []string{prim + " stays fenced read-only", "in psql on " + prim + " run " + UnfenceSQL}

	err := c.Fence(ctx, prim)
	t.Logf("Fence by a role that cannot see other roles' sessions: %v", err)
	for _, want := range append(stays, fmt.Sprintf("pid %d (user postgres)", pid), "GRANT pg_read_all_stats TO fencer") {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in the error, got %v", want, err)
		}
	}
	mustExec(t, p.primary, "SET default_transaction_read_only = off", "GRANT pg_read_all_stats TO fencer")
	err = c.Fence(ctx, prim)
	t.Logf("Fence by a role that may not end a superuser's session: %v", err)
	for _, want := range append(stays, "superuser") {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in the error, got %v", want, err)
		}
	}
	if _, err := open.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("test premise: the superuser's transaction should have survived: %v", err)
	}
	if v := readOnlyDefault(t, p.primary); v != "on" {
		t.Fatalf("test premise: the fence should be on after the failed Fence, a new session has default_transaction_read_only = %s", v)
	}

	if out, err := psql(t, p.primary, UnfenceSQL, true); err == nil || !strings.Contains(out, "cannot run inside a transaction block") {
		t.Errorf("psql -c %q: want PostgreSQL to refuse ALTER SYSTEM inside the implicit transaction, got %v: %s", UnfenceSQL, err, out)
	}
	if out, err := psql(t, p.primary, UnfenceSQL, false); err != nil {
		t.Fatalf("UnfenceSQL pasted into psql: %v: %s", err, out)
	}
	eventually(t, settleWait, "a new session is read-write after UnfenceSQL", func() (bool, string) {
		v := readOnlyDefault(t, p.primary)
		return v == "off", "default_transaction_read_only = " + v
	})
}

// TestLeftoverAdvice leaves a slot, a publication and a subscription of an "earlier run" on one
// server, and follows the SQL CheckReverseSync and StartCapture quote, in the order they give it.
func TestLeftoverAdvice(t *testing.T) {
	p := sharedPair(t)
	ctx := context.Background()
	prim := p.primary.name
	cleanup := func() {
		conn := connect(t, p.primary)
		for _, q := range []string{"ALTER SUBSCRIPTION pitstop_reverse DISABLE", "ALTER SUBSCRIPTION pitstop_reverse SET (slot_name = NONE)",
			"DROP SUBSCRIPTION IF EXISTS pitstop_reverse", "DROP PUBLICATION IF EXISTS pitstop_reverse",
			"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'pitstop_reverse'"} {
			_, _ = conn.Exec(ctx, q)
		}
	}
	cleanup()
	t.Cleanup(cleanup)
	// The subscription points at a port where nothing listens (15498), as if its publisher were gone:
	// a plain DROP SUBSCRIPTION then fails, and the advice must offer the way around.
	mustExec(t, p.primary, "CREATE PUBLICATION pitstop_reverse FOR ALL TABLES",
		"SELECT pg_create_logical_replication_slot('pitstop_reverse', 'pgoutput')",
		"CREATE SUBSCRIPTION pitstop_reverse CONNECTION 'host=127.0.0.1 port=15498 connect_timeout=2' PUBLICATION pitstop_reverse WITH (connect = false)")
	c := New(inventoryFor(p), Options{})
	defer c.Close()

	err := c.StartCapture(ctx, prim)
	t.Logf("StartCapture with a slot left: %v", err)
	if err == nil || !strings.Contains(err.Error(), dropSubscriptionSQL+" then in psql on "+prim+": "+dropCaptureSQL) {
		t.Fatalf("StartCapture with a slot left: want the SQL that removes it, got %v", err)
	}
	err = c.CheckReverseSync(ctx, prim, prim)
	t.Logf("CheckReverseSync with leftovers: %v", err)
	for _, want := range []string{
		"first in psql on " + prim + ": " + dropSubscriptionSQL + " then in psql on " + prim + ": " + dropCaptureSQL,
		"in psql on " + prim + ": " + dropSubscriptionSQL,
		detachSubscriptionSQL,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckReverseSync with leftovers: want %q in %v", want, err)
		}
	}
	for _, bad := range []string{"`pitstop`", "reverse-stop", "docs/"} {
		if err != nil && strings.Contains(err.Error(), bad) {
			t.Errorf("the advice names %s, which does not exist: %v", bad, err)
		}
	}

	if out, err := psql(t, p.primary, dropSubscriptionSQL, false); err == nil || !strings.Contains(out, "could not connect to publisher") {
		t.Fatalf("test premise: DROP SUBSCRIPTION with the publisher gone should fail, got %v: %s", err, out)
	}
	for _, sql := range []string{detachSubscriptionSQL, dropCaptureSQL, dropSubscriptionSQL, dropCaptureSQL} {
		if out, err := psql(t, p.primary, sql, false); err != nil {
			t.Fatalf("%s in psql: %v: %s", sql, err, out)
		}
	}
	if err := c.CheckReverseSync(ctx, prim, prim); err != nil && strings.Contains(err.Error(), "earlier run") {
		t.Fatalf("after following the advice, leftovers remain: %v", err)
	}
}
