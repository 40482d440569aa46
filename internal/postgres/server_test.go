package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/internal/testenv"
	"github.com/pitstop-ops/pitstop/inventory"
)

// The test servers' superuser password holds a quote, a backslash and a space, so that every place
// that passes a connection string on (pg_basebackup, CREATE SUBSCRIPTION) must quote it right.
const testPassword = `p'a\ss w0rd`

// pgBinDir holds PostgreSQL 15's programs.
const pgBinDir = "/usr/lib/postgresql/15/bin"

// pgServer is one PostgreSQL server started by a test, in its own directory under /tmp.
type pgServer struct {
	name string // inventory host name; a standby's application_name
	base string // holds data/, sock/ and log
	port int
}

func (s *pgServer) data() string { return filepath.Join(s.base, "data") }
func (s *pgServer) sock() string { return filepath.Join(s.base, "sock") }
func (s *pgServer) log() string  { return filepath.Join(s.base, "log") }

// conn is the server's libpq connection string, password quoted as libpq wants.
func (s *pgServer) conn() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres password='%s'", s.port, quoteKV(testPassword))
}

func quoteKV(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// havePostgres reports whether PostgreSQL 15 is installed.
func havePostgres() bool {
	_, err := os.Stat(filepath.Join(pgBinDir, "pg_ctl"))
	return err == nil
}

// asPostgres runs a PostgreSQL program as user postgres (it refuses to run as root).
func asPostgres(prog string, args ...string) error {
	path := filepath.Join(pgBinDir, prog)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", prog, strings.Join(args, " "), err, out)
	}
	return nil
}

// newBase makes a directory user postgres owns, on a path it can traverse.
func newBase(name string) (string, error) {
	base, err := os.MkdirTemp("", "pitstop-pg-"+name+"-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(base, 0o755); err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(base, "sock"), 0o755); err != nil {
		return "", err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", fmt.Errorf("tests run PostgreSQL as user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{base, filepath.Join(base, "sock")} {
			if err := os.Chown(p, uid, gid); err != nil {
				return "", err
			}
		}
	}
	return base, nil
}

// serverConf is appended to every server's postgresql.conf (a standby's copy from the primary
// gets its own port and socket directory).
func serverConf(s *pgServer) string {
	return fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
fsync = off
shared_buffers = 16MB
max_connections = 40
log_line_prefix = '%%m [%%p] %%a '
`, s.port, s.sock())
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// template is a data directory initdb made once per test process; every primary starts from a copy
// (initdb takes seconds on two cores, a copy a fraction of one).
var template struct {
	once sync.Once
	base string
	err  error
}

func initTemplate() (string, error) {
	template.once.Do(func() {
		base, err := newBase("template")
		if err != nil {
			template.err = err
			return
		}
		template.base = base
		watchdog(base, "")
		pw := filepath.Join(base, "pw")
		if err := os.WriteFile(pw, []byte(testPassword+"\n"), 0o644); err != nil {
			template.err = err
			return
		}
		template.err = asPostgres("initdb", "-D", filepath.Join(base, "data"), "-U", "postgres", "--pwfile", pw,
			"-E", "UTF8", "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256")
	})
	return filepath.Join(template.base, "data"), template.err
}

// removeTemplate deletes the template data directory.
func removeTemplate() {
	if template.base != "" {
		_ = os.RemoveAll(template.base)
	}
}

// startPrimary starts a primary, copied from the template, that accepts password logins over TCP,
// replication included.
func startPrimary(name string, port int) (*pgServer, error) {
	tmpl, err := initTemplate()
	if err != nil {
		return nil, fmt.Errorf("initdb: %w", err)
	}
	base, err := newBase(name)
	if err != nil {
		return nil, err
	}
	s := &pgServer{name: name, base: base, port: port}
	if out, err := exec.Command("cp", "-a", tmpl, s.data()).CombinedOutput(); err != nil {
		return s, fmt.Errorf("copy the template data directory: %w: %s", err, out)
	}
	if err := appendFile(filepath.Join(s.data(), "postgresql.conf"), serverConf(s)); err != nil {
		return s, err
	}
	return s, s.start()
}

// startStandby clones primary with pg_basebackup -R and starts it streaming, with application_name
// set to its inventory name.
func startStandby(primary *pgServer, name string, port int) (*pgServer, error) {
	base, err := newBase(name)
	if err != nil {
		return nil, err
	}
	s := &pgServer{name: name, base: base, port: port}
	src := fmt.Sprintf("%s application_name=%s", primary.conn(), name)
	if err := asPostgres("pg_basebackup", "-D", s.data(), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync", "--no-manifest", "-d", src); err != nil {
		return s, err
	}
	if err := appendFile(filepath.Join(s.data(), "postgresql.conf"), serverConf(s)); err != nil {
		return s, err
	}
	if err := s.start(); err != nil {
		return s, err
	}
	return s, s.waitStreaming()
}

// waitStreaming waits until the standby's WAL receiver streams: pg_ctl returns as soon as the
// standby accepts connections, a moment before that.
func (s *pgServer) waitStreaming() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.conn())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for {
		var status *string
		err := conn.QueryRow(ctx, "SELECT (SELECT status FROM pg_stat_wal_receiver)").Scan(&status)
		if err == nil && status != nil && *status == "streaming" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("standby %s is not streaming after 30s (%v)", s.name, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *pgServer) start() error {
	if err := asPostgres("pg_ctl", "-D", s.data(), "-l", s.log(), "-w", "-t", "60", "start"); err != nil {
		return err
	}
	watchdog(s.base, s.data())
	return nil
}

// watchdog removes base, after stopping the server in data if there is one, once the test process
// is gone, however it ended: a panicking test or a killed binary skips every deferred cleanup.
func watchdog(base, data string) {
	stop := ""
	if data != "" {
		stop = filepath.Join(pgBinDir, "pg_ctl") + " -D " + data + " -m immediate stop; "
		if os.Geteuid() == 0 {
			stop = "runuser -u postgres -- " + stop
		}
	}
	script := `while kill -0 "$1" 2>/dev/null; do sleep 1; done; if [ -d "$2" ]; then ` + stop + `rm -rf "$2"; fi`
	cmd := exec.Command("sh", "-c", script, "sh", strconv.Itoa(os.Getpid()), base)
	if err := cmd.Start(); err == nil {
		go func() { _ = cmd.Wait() }()
	}
}

// stop stops the server at once (no shutdown checkpoint), as a crash would.
func (s *pgServer) stop() error {
	return asPostgres("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
}

// destroy stops the server if it runs and removes its directory.
func (s *pgServer) destroy() {
	if s == nil || s.base == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(s.data(), "postmaster.pid")); err == nil {
		_ = s.stop()
	}
	_ = os.RemoveAll(s.base)
}

// logTail returns the end of the server's log, for failure messages.
func (s *pgServer) logTail() string {
	b, _ := os.ReadFile(s.log())
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// pair is a primary and its streaming standby.
type pair struct {
	primary, standby *pgServer
}

func startPair(prefix string, port int) (*pair, error) {
	p := &pair{}
	var err error
	if p.primary, err = startPrimary(prefix+"prod-db", port); err != nil {
		return p, err
	}
	p.standby, err = startStandby(p.primary, prefix+"backup-db", port+1)
	return p, err
}

func (p *pair) destroy() {
	if p == nil {
		return
	}
	p.standby.destroy()
	p.primary.destroy()
}

// newPair starts a pair for one test and destroys it when the test ends, showing the servers' logs
// if the test failed.
func newPair(t *testing.T, port int) *pair {
	t.Helper()
	if !havePostgres() {
		testenv.Missing(t, "PostgreSQL 15 is not installed in "+pgBinDir)
	}
	p, err := startPair("", port)
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range []*pgServer{p.primary, p.standby} {
				if s != nil {
					t.Logf("log of %s:\n%s", s.name, s.logTail())
				}
			}
		}
		p.destroy()
	})
	if err != nil {
		t.Fatalf("start a primary and standby: %v", err)
	}
	return p
}

// inventoryFor describes a pair (and optional replicas) the way pitstop's inventory does.
func inventoryFor(p *pair, replicas ...*pgServer) *inventory.Inventory {
	inv := &inventory.Inventory{
		Source: "test-inventory.yaml",
		Hosts: map[string]*inventory.Host{
			p.primary.name: {Name: p.primary.name, Postgres: p.primary.conn()},
			p.standby.name: {Name: p.standby.name, Postgres: p.standby.conn()},
		},
	}
	inv.Sides.Production.Database = p.primary.name
	inv.Sides.Backup.Database = p.standby.name
	for _, r := range replicas {
		inv.Hosts[r.name] = &inventory.Host{Name: r.name, Postgres: r.conn()}
		inv.Sides.Backup.Replicas = append(inv.Sides.Backup.Replicas, r.name)
	}
	return inv
}

// connect opens a plain client session to s, as an application would.
func connect(t *testing.T, s *pgServer) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.conn())
	if err != nil {
		t.Fatalf("connect to %s: %v", s.name, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// mustExec runs statements on a new session to s.
func mustExec(t *testing.T, s *pgServer, stmts ...string) {
	t.Helper()
	conn := connect(t, s)
	for _, q := range stmts {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s on %s: %v", q, s.name, err)
		}
	}
}

// eventually polls cond until it returns true or the deadline passes, then fails with the last
// message cond gave.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, within, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
