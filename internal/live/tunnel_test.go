package live_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Ports: this package's tests use 2300–2349 (sshd) and 15500–15549 (PostgreSQL) on 127.0.0.1.
const (
	sshdAddr = "127.0.0.1:2300"
	pgPort   = 15500
)

// startPostgres runs a fresh PostgreSQL 15 server on 127.0.0.1:port, stopped when the test ends.
func startPostgres(t *testing.T, port int) *lab.Postgres {
	t.Helper()
	if _, err := os.Stat(filepath.Join(lab.DefaultPGBin, "postgres")); err != nil {
		t.Fatalf("%v: install PostgreSQL 15 with apt-get install -y postgresql-15", err)
	}
	// The server runs as user postgres, who must be able to reach its directories: t.TempDir's
	// parent is private to root, so the test makes a directory of its own.
	dir, err := os.MkdirTemp("", "pitstop-live-pg-")
	noErr(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	noErr(t, os.Chmod(dir, 0o755))
	noErr(t, os.MkdirAll(filepath.Join(dir, "pg"), 0o755))
	p := &lab.Postgres{Name: "db-p", Addr: "127.0.0.1", Port: port,
		Data: filepath.Join(dir, "pg", "data"), Socket: filepath.Join(dir, "sock"), Log: filepath.Join(dir, "pg.log")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	noErr(t, p.InitPrimary(ctx))
	t.Cleanup(func() {
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	noErr(t, p.Start(ctx))
	return p
}

// tunnelInventory has production's database reached through sshd (postgres_via_ssh) and the backup's
// database, on the same server but another database name, reached directly.
func tunnelInventory(t *testing.T, s *testSSHD, pg *lab.Postgres) *inventory.Inventory {
	t.Helper()
	src := fmt.Sprintf(`name: tunnel
probe:
  url: http://127.0.0.1:15549/
  rate: 1
balancer:
  host: lb
  upstream: tunnel
  file: /nonexistent/upstream.conf
hosts:
  lb: {ssh: local}
  app-p: {ssh: local, serve: "127.0.0.1:15547"}
  app-b: {ssh: local, serve: "127.0.0.1:15548"}
  db-p:
    ssh: %s
    postgres: %s
    postgres_via_ssh: true
  db-b:
    ssh: local
    postgres: %s
sides:
  production: {apps: [app-p], database: db-p}
  backup: {apps: [app-b], database: db-b}
upgrade:
  version: "1"
  commands: ["true"]
`, s.Target(), pg.ConnString("postgres", "postgres"), pg.ConnString("postgres", "template1"))
	inv, err := inventory.Parse("tunnel.yaml", []byte(src))
	noErr(t, err)
	return inv
}

// TestPostgresViaSSH: with postgres_via_ssh, live.Open connects to the database through the host's
// SSH connection. The proof that the connection goes through sshd: with forwarding allowed the query
// succeeds (over TCP and over the server's unix socket); with sshd restarted with AllowTcpForwarding
// no, the same query fails with sshd's refusal, while the host without postgres_via_ssh still
// connects directly. A dropped SSH connection fails a query in progress with ErrConnectionLost.
func TestPostgresViaSSH(t *testing.T) {
	pg := startPostgres(t, pgPort)
	s := newTestSSHD(t, sshdAddr)
	s.Start("AllowTcpForwarding yes", "AllowStreamLocalForwarding yes")
	inv := tunnelInventory(t, s, pg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := live.Open(ctx, inv, live.Options{Remote: remote.Options{Home: s.Home}})
	noErr(t, err)
	t.Cleanup(w.Close)

	lock := func(host string) error {
		release, err := w.DB.Lock(ctx, host)
		if err == nil {
			release()
		}
		return err
	}
	for _, host := range []string{"db-p", "db-b"} {
		if err := lock(host); err != nil {
			t.Fatalf("with forwarding allowed, %s: %v", host, err)
		}
	}
	if !strings.Contains(s.log.String(), "Accepted publickey for "+s.user) {
		t.Fatalf("sshd saw no login: the database connection did not go through it")
	}

	// A unix socket on the host is reached through sshd too (direct-streamlocal; OpenSSH refuses it
	// when PermitOpen is set).
	sc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", pg.Socket, pg.Port))
	noErr(t, err)
	sc.DialFunc = w.Hosts.Dialer("db-p")
	sconn, err := pgx.ConnectConfig(ctx, sc)
	if err != nil {
		t.Fatalf("through the unix socket: %v", err)
	}
	var socketPath string
	noErr(t, sconn.QueryRow(ctx, "SELECT current_setting('unix_socket_directories')").Scan(&socketPath))
	sconn.Close(ctx)
	if socketPath != pg.Socket {
		t.Errorf("unix_socket_directories = %q, want %q", socketPath, pg.Socket)
	}

	// A connection in use when the SSH connection drops fails with ErrConnectionLost, naming the host
	// and the database's address.
	cc, err := pgx.ParseConfig(pg.ConnString("postgres", "postgres"))
	noErr(t, err)
	cc.DialFunc = w.Hosts.Dialer("db-p")
	conn, err := pgx.ConnectConfig(ctx, cc)
	noErr(t, err)
	defer conn.Close(context.Background())
	var one int
	noErr(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
	s.Stop()
	err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	if !errors.Is(err, steps.ErrConnectionLost) {
		t.Fatalf("query after sshd died: err = %v, want steps.ErrConnectionLost", err)
	}
	t.Logf("lost, as expected: %v", err)
	for _, want := range []string{"db-p", pg.HostPort()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}

	// sshd comes back refusing to forward: the next connection reconnects to it and is refused.
	s.Start("AllowTcpForwarding no")
	err = lock("db-p")
	if err == nil {
		t.Fatal("with AllowTcpForwarding no, the connection to db-p still succeeded: it did not go through sshd")
	}
	t.Logf("refused, as expected: %v", err)
	for _, want := range []string{"db-p", pg.HostPort(), "administratively prohibited", "AllowTcpForwarding yes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err := lock("db-b"); err != nil {
		t.Errorf("db-b, without postgres_via_ssh, connects directly and should not care: %v", err)
	}
	if c, err := pgx.ConnectConfig(ctx, sc); err == nil {
		c.Close(ctx)
		t.Error("with AllowTcpForwarding no, the connection through the unix socket still succeeded")
	} else if !strings.Contains(err.Error(), "AllowStreamLocalForwarding") {
		t.Errorf("through the unix socket with AllowTcpForwarding no: err = %v, want sshd's refusal", err)
	}
}
