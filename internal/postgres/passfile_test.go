package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The passfile tests log in as a role of their own whose password is only ever in a passfile. The
// test servers accept TCP logins with scram-sha-256 only (initdb --auth-host=scram-sha-256), so
// the role cannot log in without it. The colon must be escaped in the passfile.
const (
	pfRole     = "pitstop_pf"
	pfPassword = "pf:Zq7-s3cret"
)

// passfileRole creates the role on p's primary (the standby gets it by replication), writes a
// passfile holding its password, and points PGPASSFILE at it; PGPASSWORD is cleared. It returns the
// passfile's path.
func passfileRole(t *testing.T, p *pair) string {
	t.Helper()
	drop := fmt.Sprintf(`DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '%[1]s') THEN
		DROP OWNED BY %[1]s; DROP ROLE %[1]s; END IF; END $$`, pfRole)
	mustExec(t, p.primary, drop, "SET password_encryption = 'scram-sha-256'",
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", pfRole, pfPassword),
		"GRANT pg_monitor TO "+pfRole)
	t.Cleanup(func() { mustExec(t, p.primary, drop) })
	var scram bool
	if err := connect(t, p.primary).QueryRow(context.Background(),
		"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = $1", pfRole).Scan(&scram); err != nil || !scram {
		t.Fatalf("test premise: %s's password must be stored as scram-sha-256: %v, %v", pfRole, scram, err)
	}
	su := New(inventoryFor(p), Options{})
	defer su.Close()
	caughtUp(t, su, p.primary.name, p.standby.name) // the role has reached the standby

	file := filepath.Join(t.TempDir(), "pgpass")
	text := "# written by the test\n127.0.0.1:*:*:" + pfRole + ":" + strings.ReplaceAll(pfPassword, ":", `\:`) + "\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", file)
	return file
}

// whoami asks host, through c, which role it logged in as and on which address and port.
func whoami(t *testing.T, c *Cluster, host string) (user, addr string, port int) {
	t.Helper()
	n, err := c.node(host)
	if err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	if err := n.queryRow(context.Background(), 5*time.Second,
		"SELECT current_user::text, coalesce(host(inet_server_addr()), 'socket'), coalesce(inet_server_port(), 0)",
		nil, &user, &addr, &port); err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	return user, addr, port
}

// TestPassfile connects with connection strings that hold no password: the password comes from
// PGPASSFILE, and without that file the same strings are refused.
func TestPassfile(t *testing.T) {
	p := sharedPair(t)
	file := passfileRole(t, p)
	ctx := context.Background()
	inv := inventoryFor(p)
	for _, s := range []*pgServer{p.primary, p.standby} {
		inv.Hosts[s.name].Postgres = fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres", s.port, pfRole)
	}

	t.Run("no passfile, no login", func(t *testing.T) {
		t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "absent"))
		c := New(inv, Options{})
		defer c.Close()
		err := c.PauseReplay(ctx, p.standby.name)
		if err == nil || sqlState(err) != "28P01" { // invalid_password
			t.Fatalf("without the passfile the server must refuse %s (SQLSTATE 28P01), got %v", pfRole, err)
		}
	})

	t.Run("PGPASSFILE", func(t *testing.T) {
		c := New(inv, Options{})
		defer c.Close()
		if user, addr, port := whoami(t, c, p.primary.name); user != pfRole || addr != "127.0.0.1" || port != p.primary.port {
			t.Fatalf("logged in as %s on %s:%d, want %s on 127.0.0.1:%d", user, addr, port, pfRole, p.primary.port)
		}
		lags, err := c.Replication(ctx)
		if err != nil || len(lags) != 1 || !lags[0].Streaming || lags[0].Err != "" {
			t.Fatalf("a reading as %s: %+v, %v", pfRole, lags, err)
		}
	})

	t.Run("passfile keyword", func(t *testing.T) {
		t.Setenv("PGPASSFILE", "")
		inv := inventoryFor(p)
		inv.Hosts[p.primary.name].Postgres = fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres passfile='%s'",
			p.primary.port, pfRole, quoteKV(file))
		c := New(inv, Options{})
		defer c.Close()
		if user, _, _ := whoami(t, c, p.primary.name); user != pfRole {
			t.Fatalf("logged in as %s, want %s", user, pfRole)
		}
	})

	// PGHOST, PGPORT and PGUSER fill in what a connection string leaves out; what it says wins.
	t.Run("PGHOST PGPORT PGUSER", func(t *testing.T) {
		t.Setenv("PGHOST", "127.0.0.1")
		t.Setenv("PGPORT", fmt.Sprint(p.primary.port))
		t.Setenv("PGUSER", pfRole)
		inv := inventoryFor(p)
		inv.Hosts[p.primary.name].Postgres = "dbname=postgres"
		inv.Hosts[p.standby.name].Postgres = fmt.Sprintf("port=%d dbname=postgres", p.standby.port)
		c := New(inv, Options{})
		defer c.Close()
		if user, addr, port := whoami(t, c, p.primary.name); user != pfRole || addr != "127.0.0.1" || port != p.primary.port {
			t.Fatalf("%q: logged in as %s on %s:%d, want %s on 127.0.0.1:%d", "dbname=postgres", user, addr, port, pfRole, p.primary.port)
		}
		if user, addr, port := whoami(t, c, p.standby.name); user != pfRole || addr != "127.0.0.1" || port != p.standby.port {
			t.Fatalf("port=%d beats PGPORT: logged in as %s on %s:%d", p.standby.port, user, addr, port)
		}
		lags, err := c.Replication(ctx)
		if err != nil || len(lags) != 1 || !lags[0].Streaming || lags[0].Err != "" {
			t.Fatalf("a reading through the environment: %+v, %v", lags, err)
		}
		// Nothing listens on 127.0.0.1:15498: an error proves PGPORT is what is used.
		t.Setenv("PGPORT", "15498")
		c2 := New(inv, Options{QueryTimeout: 2 * time.Second})
		defer c2.Close()
		if err := c2.Fence(ctx, p.primary.name); err == nil || !strings.Contains(err.Error(), "15498") {
			t.Fatalf("with PGPORT=15498 the connection must go there: %v", err)
		}
	})
}

// TestPassfilePasswordNeverShown provokes errors whose text carries the password read from the
// passfile (it is also the database name, which the server's error and pgx's quote), through every
// method, and checks that nothing the package returns shows it.
func TestPassfilePasswordNeverShown(t *testing.T) {
	p := sharedPair(t)
	file := passfileRole(t, p)
	ctx := context.Background()
	inv := inventoryFor(p)
	for _, s := range []*pgServer{p.primary, p.standby} {
		inv.Hosts[s.name].Postgres = fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname='%s'", s.port, pfRole, pfPassword)
	}
	inv.ReverseSync.Rebuild = []string{"rebuild"}
	c := New(inv, Options{})
	defer c.Close()
	prod, backup := p.primary.name, p.standby.name

	shown := func(what, text string) {
		t.Helper()
		if strings.Contains(text, pfPassword) {
			t.Errorf("%s shows the password: %s", what, text)
		}
	}
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: want an error (database %q does not exist)", what, pfPassword)
			return
		}
		shown(what, err.Error())
		shown(what+" (%+v)", fmt.Sprintf("%+v", err))
		shown(what+" (%#v)", fmt.Sprintf("%#v", err))
		if !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("%s: want the server's answer that the database does not exist: %v", what, err)
		}
	}

	err := c.PauseReplay(ctx, backup)
	// The premise: pgx's own error does carry the password, so the text above was scrubbed.
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) || !strings.Contains(ce.Error(), pfPassword) {
		t.Fatalf("test premise: pgx's connect error should quote the database name %q: %v", pfPassword, err)
	}
	check("PauseReplay", err)
	check("ResumeReplay", c.ResumeReplay(ctx, backup))
	check("Fence", c.Fence(ctx, prod))
	check("Unfence", c.Unfence(ctx, prod))
	check("StartCapture", c.StartCapture(ctx, backup))
	check("StartReverseSync", c.StartReverseSync(ctx, backup, prod))
	check("AdvanceSequences", c.AdvanceSequences(ctx, backup, prod))
	check("StopReverseSync", c.StopReverseSync(ctx, backup, prod))
	check("CheckReverseSync", c.CheckReverseSync(ctx, backup, prod))
	_, err = c.Lock(ctx, prod)
	check("Lock", err)
	errs := c.Check(ctx)
	if len(errs) == 0 {
		t.Error("Check: want errors")
	}
	for _, err := range errs {
		check("Check", err)
	}
	lags, err := c.Replication(ctx)
	if err != nil {
		t.Fatalf("Replication: %v", err)
	}
	for _, l := range lags {
		if l.Err == "" {
			t.Errorf("Replication: want Err on %s: %+v", l.Link(), l)
		}
		shown("Lag.Err", l.Err)
	}
	j, _ := json.Marshal(lags)
	shown("the readings as JSON", string(j))

	// A string that does not parse fails before any configuration exists: the password must
	// still not show, whether PGPASSFILE or the passfile keyword names the file.
	for _, tc := range []struct{ env, conn string }{
		{file, fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname='%s' target_session_attrs=bogus", p.primary.port, pfRole, pfPassword)},
		{"", fmt.Sprintf("host=127.0.0.1 user=%s dbname='%s' passfile='%s' port=%s", pfRole, pfPassword, quoteKV(file), pfPassword)},
		{"", fmt.Sprintf("postgres://%s@127.0.0.1:bad/%s?passfile=%s", pfRole, pfPassword, file)},
	} {
		t.Setenv("PGPASSFILE", tc.env)
		inv.Hosts[prod].Postgres = tc.conn
		c := New(inv, Options{})
		err := c.Fence(ctx, prod)
		c.Close()
		if err == nil || !strings.Contains(err.Error(), "test-inventory.yaml") {
			t.Errorf("%s: want a parse error naming the inventory, got %v", redact(tc.conn), err)
			continue
		}
		shown("a parse error", err.Error())
	}
}
