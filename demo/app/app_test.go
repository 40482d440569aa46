package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/demo/app"
)

// TestAPIOnPrimary drives every endpoint of v1 against a writable primary.
func TestAPIOnPrimary(t *testing.T) {
	db := newDatabase(t)
	in := startApp(t, "v1", primary.ConnString("postgres", db), "app-p1")

	status, h := in.health(t)
	if status != 200 || h.Version != "v1" || h.Instance != "app-p1" || h.Database != "up" || h.Role != "primary" || !h.Writable {
		t.Errorf("/health on a primary: %d %+v", status, h)
	}

	for _, name := range []string{"first", "second", "third"} {
		r := in.do(t, "POST", "/items", `{"name":"`+name+`"}`)
		var it app.Item
		r.decode(t, &it)
		if r.status != 201 || it.Name != name || it.ID == 0 || it.Note != nil {
			t.Errorf("POST %s: %d %s", name, r.status, r.body)
		}
	}
	r := in.do(t, "GET", "/items?limit=2", "")
	var list struct{ Items []app.Item }
	r.decode(t, &list)
	if r.status != 200 || len(list.Items) != 2 || list.Items[0].Name != "third" || list.Items[1].Name != "second" {
		t.Errorf("GET /items?limit=2 (newest first): %d %s", r.status, r.body)
	}
	if r.header.Get(app.HeaderVersion) != "v1" || r.header.Get(app.HeaderInstance) != "app-p1" {
		t.Errorf("GET /items headers: %v", r.header)
	}

	// Probe writes carry no name (Pitstop's probe posts {"probe":"pitstop","n":N,"at":…}); they still write.
	if r := in.do(t, "POST", "/items", ""); r.status != 201 || !strings.Contains(r.body, `"probe"`) {
		t.Errorf("empty POST: %d %s", r.status, r.body)
	}
	if r := in.do(t, "POST", "/items", `{"probe":"pitstop","n":7,"at":"2026-01-01T00:00:00Z"}`); r.status != 201 || !strings.Contains(r.body, `"probe 7"`) {
		t.Errorf("probe POST: %d %s", r.status, r.body)
	}

	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"bad JSON", "POST", "/items", `{"name":`, 400, "bad_json"},
		{"empty name", "POST", "/items", `{"name":"  "}`, 400, "bad_name"},
		{"long name", "POST", "/items", `{"name":"` + strings.Repeat("x", 201) + `"}`, 400, "bad_name"},
		{"bad limit", "GET", "/items?limit=0", "", 400, "bad_limit"},
		{"huge limit", "GET", "/items?limit=1000", "", 400, "bad_limit"},
		{"unknown path", "GET", "/nope", "", 404, "not_found"},
		{"wrong method", "DELETE", "/items", "", 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, in.do(t, tc.method, tc.path, tc.body), tc.status, tc.code)
		})
	}
}

// TestFencedPrimary fences the primary the way Pitstop does (ALTER SYSTEM default_transaction_read_only
// plus a reload): reads go on, writes get 503 with Retry-After, and writes work again after unfencing.
func TestFencedPrimary(t *testing.T) {
	db := newDatabase(t)
	in := startApp(t, "v1", primary.ConnString("postgres", db), "app-p1")
	if r := in.do(t, "POST", "/items", `{"name":"before"}`); r.status != 201 {
		t.Fatalf("POST before the fence: %d %s", r.status, r.body)
	}

	admin := connAs(primary.ConnString("postgres", "postgres"))
	exec(t, admin, "ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()")
	t.Cleanup(func() {
		exec(t, admin, "ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()")
	})

	// The pooled sessions pick the reload up on their next statement.
	eventually(t, 5*time.Second, "writes refused after the fence", func() error {
		r := in.do(t, "POST", "/items", `{"name":"during"}`)
		if r.status != 503 {
			return fmt.Errorf("%d %s", r.status, r.body)
		}
		wantError(t, r, 503, "read_only")
		return nil
	})
	if r := in.do(t, "GET", "/items", ""); r.status != 200 || !strings.Contains(r.body, "before") {
		t.Errorf("GET while fenced: %d %s", r.status, r.body)
	}
	if status, h := in.health(t); status != 200 || h.Role != "primary" || h.Writable {
		t.Errorf("/health while fenced: %d %+v, want primary and not writable", status, h)
	}

	exec(t, admin, "ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()")
	eventually(t, 5*time.Second, "writes accepted after unfencing", func() error {
		if r := in.do(t, "POST", "/items", `{"name":"after"}`); r.status != 201 {
			return fmt.Errorf("%d %s", r.status, r.body)
		}
		return nil
	})
	if status, h := in.health(t); status != 200 || !h.Writable {
		t.Errorf("/health after unfencing: %d %+v", status, h)
	}
}

// TestStandby runs v1 on the hot standby: it reads what the primary wrote and refuses writes.
func TestStandby(t *testing.T) {
	db := newDatabase(t)
	writer := startApp(t, "v1", primary.ConnString("postgres", db), "app-p1")
	if r := writer.do(t, "POST", "/items", `{"name":"replicated"}`); r.status != 201 {
		t.Fatalf("POST on the primary: %d %s", r.status, r.body)
	}
	in := startApp(t, "v1", standby.ConnString("postgres", db), "app-b1")
	eventually(t, 5*time.Second, "the row on the standby", func() error {
		r := in.do(t, "GET", "/items", "")
		if r.status != 200 || !strings.Contains(r.body, "replicated") {
			return fmt.Errorf("%d %s", r.status, r.body)
		}
		return nil
	})
	status, h := in.health(t)
	if status != 200 || h.Role != "standby" || h.Writable || h.Instance != "app-b1" {
		t.Errorf("/health on the standby: %d %+v", status, h)
	}
	wantError(t, in.do(t, "POST", "/items", `{"name":"refused"}`), 503, "read_only")
}

// TestMigration checks that the migration is idempotent, that v1 keeps working after it, that v2 needs
// it, and that it refuses a standby.
func TestMigration(t *testing.T) {
	db := newDatabase(t)
	conn := primary.ConnString("postgres", db)
	ctx := context.Background()
	v1 := startApp(t, "v1", conn, "app-p1")
	if r := v1.do(t, "POST", "/items", `{"name":"old"}`); r.status != 201 {
		t.Fatalf("v1 POST: %d %s", r.status, r.body)
	}

	t.Run("v2 before the migration", func(t *testing.T) {
		v2 := startApp(t, "v2", conn, "app-p2")
		status, h := v2.health(t)
		if status != 200 || h.Version != "v2" || h.SchemaReady {
			t.Errorf("/health of v2 before the migration: %d %+v, want 200 and schema_ready false", status, h)
		}
		wantError(t, v2.do(t, "GET", "/items", ""), 503, "schema_not_ready")
		wantError(t, v2.do(t, "POST", "/items", `{"name":"x"}`), 503, "schema_not_ready")
	})

	t.Run("refused on the standby", func(t *testing.T) {
		// The new database reaches the standby by replication; until then the error is another one.
		eventually(t, 5*time.Second, "Migrate refused on the standby", func() error {
			err := app.Migrate(ctx, standby.ConnString("postgres", db))
			if err == nil {
				t.Fatal("Migrate succeeded on a standby")
			}
			if !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), "run the migration against the primary") {
				return err
			}
			return nil
		})
	})

	for i := range 2 {
		if err := app.Migrate(ctx, conn); err != nil {
			t.Fatalf("Migrate (run %d): %v", i+1, err)
		}
	}

	if r := v1.do(t, "POST", "/items", `{"name":"v1 after","note":"ignored by v1"}`); r.status != 201 || strings.Contains(r.body, "note") {
		t.Errorf("v1 POST after the migration: %d %s", r.status, r.body)
	}
	if r := v1.do(t, "GET", "/items", ""); r.status != 200 || !strings.Contains(r.body, "v1 after") {
		t.Errorf("v1 GET after the migration: %d %s", r.status, r.body)
	}

	v2 := startApp(t, "v2", conn, "app-p2")
	if status, h := v2.health(t); status != 200 || !h.SchemaReady {
		t.Errorf("/health of v2 after the migration: %d %+v", status, h)
	}
	r := v2.do(t, "POST", "/items", `{"name":"new","note":"hello"}`)
	var it app.Item
	r.decode(t, &it)
	if r.status != 201 || it.Note == nil || *it.Note != "hello" {
		t.Errorf("v2 POST: %d %s", r.status, r.body)
	}
	var list struct{ Items []app.Item }
	v2.do(t, "GET", "/items", "").decode(t, &list)
	if len(list.Items) != 3 || list.Items[2].Name != "old" || list.Items[2].Note == nil || *list.Items[2].Note != "" {
		t.Errorf("v2 GET: %+v, want 3 items, the old one with an empty note", list.Items)
	}
}

// TestDatabaseDown checks 503 (never 500) while the database is unreachable, and that the instance
// reconnects by itself once the database is back.
func TestDatabaseDown(t *testing.T) {
	t.Run("never reachable", func(t *testing.T) {
		in := startApp(t, "v1", "host=127.0.0.13 port=16299 user=postgres dbname=nope sslmode=disable", "app-x")
		wantError(t, in.do(t, "GET", "/items", ""), 503, "database_unavailable")
		wantError(t, in.do(t, "POST", "/items", `{"name":"x"}`), 503, "database_unavailable")
		r := in.do(t, "GET", "/health", "")
		var h app.Health
		r.decode(t, &h)
		if r.status != 503 || h.Database != "down" || h.Version != "v1" || h.Error == "" {
			t.Errorf("/health with the database down: %d %s", r.status, r.body)
		}
	})

	t.Run("restarted", func(t *testing.T) {
		db := newDatabase(t)
		in := startApp(t, "v1", primary.ConnString("postgres", db), "app-p1")
		if r := in.do(t, "POST", "/items", `{"name":"before"}`); r.status != 201 {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
		ctx := context.Background()
		if err := primary.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := primary.Start(ctx); err != nil && primary.PID() == 0 {
				t.Errorf("restart the primary: %v", err)
			}
		})
		wantError(t, in.do(t, "GET", "/items", ""), 503, "database_unavailable")
		wantError(t, in.do(t, "POST", "/items", `{"name":"x"}`), 503, "database_unavailable")
		if err := primary.Start(ctx); err != nil {
			t.Fatal(err)
		}
		// The connections from before the restart are dead; the pool replaces them.
		eventually(t, 5*time.Second, "requests after the restart", func() error {
			if r := in.do(t, "POST", "/items", `{"name":"after"}`); r.status != 201 {
				return fmt.Errorf("%d %s", r.status, r.body)
			}
			return nil
		})
		if !strings.Contains(in.logs.String(), "database unavailable") || !strings.Contains(in.logs.String(), "reachable again") {
			t.Errorf("the log does not show the outage and the recovery:\n%s", in.logs.String())
		}
	})
}

// TestRunErrors checks that Run refuses a bad configuration and a taken address with clear errors.
func TestRunErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.11:16279")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ok := app.Config{Version: "v1", Listen: "127.0.0.11:16278", DB: "host=127.0.0.13 port=16232", Instance: "x"}
	tests := []struct {
		name   string
		change func(*app.Config)
		want   string
	}{
		{"unknown version", func(c *app.Config) { c.Version = "v3" }, `unknown version "v3"`},
		{"no listen", func(c *app.Config) { c.Listen = "" }, "no listen address"},
		{"no database", func(c *app.Config) { c.DB = "" }, "no database"},
		{"no instance", func(c *app.Config) { c.Instance = "" }, "no instance"},
		{"address taken", func(c *app.Config) { c.Listen = "127.0.0.11:16279" }, "listen on 127.0.0.11:16279"},
		{"bad connection string", func(c *app.Config) { c.DB = "host=x port=notaport" }, "connection string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.change(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := app.Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: %v, want an error containing %q", err, tc.want)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run served instead of failing")
			}
		})
	}
}
