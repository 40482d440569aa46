package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func joinErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	p := sharedPair(t)
	ctx := context.Background()

	t.Run("healthy", func(t *testing.T) {
		c := New(inventoryFor(p), Options{})
		defer c.Close()
		if errs := c.Check(ctx); len(errs) > 0 {
			t.Fatalf("want no problems, got:\n%s", joinErrs(errs))
		}
	})

	t.Run("roles swapped", func(t *testing.T) {
		inv := inventoryFor(p)
		inv.Sides.Production.Database, inv.Sides.Backup.Database = p.standby.name, p.primary.name
		c := New(inv, Options{})
		defer c.Close()
		got := joinErrs(c.Check(ctx))
		for _, want := range []string{
			p.standby.name + ": it is in recovery, but production's database must be the primary",
			p.primary.name + ": it is a primary",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("want %q in:\n%s", want, got)
			}
		}
	})

	t.Run("unprivileged role", func(t *testing.T) {
		const drop = `DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'watcher') THEN
			DROP OWNED BY watcher; DROP ROLE watcher; END IF; END $$`
		mustExec(t, p.primary, drop, "CREATE ROLE watcher LOGIN PASSWORD 'watch'")
		t.Cleanup(func() { mustExec(t, p.primary, drop) })
		inv := inventoryFor(p)
		for _, s := range []*pgServer{p.primary, p.standby} {
			inv.Hosts[s.name].Postgres = fmt.Sprintf("host=127.0.0.1 port=%d user=watcher password=watch dbname=postgres", s.port)
		}
		inv.ReverseSync.Rebuild = []string{"rebuild the backup"}
		c := New(inv, Options{})
		defer c.Close()
		got := joinErrs(c.Check(ctx))
		for _, want := range []string{
			"GRANT pg_monitor TO watcher",
			"GRANT EXECUTE ON FUNCTION pg_wal_replay_pause(), pg_wal_replay_resume() TO watcher",
			"GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer) TO watcher",
			"GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO watcher",
			"GRANT pg_signal_backend TO watcher",
			"SUPERUSER",
			"postgres on " + p.primary.name,
			"postgres on " + p.standby.name,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("want %q in:\n%s", want, got)
			}
		}
		// Once granted, only the reverse sync's superuser need is left.
		mustExec(t, p.primary, "GRANT pg_monitor, pg_signal_backend TO watcher",
			"GRANT EXECUTE ON FUNCTION pg_wal_replay_pause(), pg_wal_replay_resume(), pg_promote(boolean, integer), pg_reload_conf() TO watcher",
			"GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO watcher")
		inv.ReverseSync.Rebuild = nil
		c2 := New(inv, Options{})
		defer c2.Close()
		// The grants reach the standby by replication.
		eventually(t, 10*time.Second, "the granted role passes the check", func() (bool, string) {
			errs := c2.Check(ctx)
			return len(errs) == 0, joinErrs(errs)
		})
	})

	t.Run("unreachable", func(t *testing.T) {
		inv := inventoryFor(p)
		inv.Hosts[p.standby.name].Postgres = "host=127.0.0.1 port=15499 user=postgres password=hunter2 connect_timeout=2"
		c := New(inv, Options{})
		defer c.Close()
		errs := c.Check(ctx)
		got := joinErrs(errs)
		var ce *connectError
		if len(errs) != 1 || !errors.As(errs[0], &ce) || !strings.Contains(got, p.standby.name) {
			t.Fatalf("want one connection error naming %s, got:\n%s", p.standby.name, got)
		}
		if strings.Contains(got, "hunter2") {
			t.Fatalf("the password leaked:\n%s", got)
		}
	})
}
