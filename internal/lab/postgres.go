package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPGBin is where Debian's postgresql-15 package installs the server programs.
const DefaultPGBin = "/usr/lib/postgresql/15/bin"

// Postgres is one PostgreSQL server of the lab: its own data directory, address, port and socket
// directory, run by pg_ctl as user postgres when the lab runs as root (PostgreSQL refuses root) and as
// the current user otherwise.
type Postgres struct {
	// Name is the inventory host ("db-prod"); it is also the server's cluster_name.
	Name string
	// Addr and Port are where it listens on TCP.
	Addr string
	Port int
	// Data is the data directory, Socket the unix_socket_directories, Log the server log file.
	Data   string
	Socket string
	Log    string
	// Bin holds initdb, pg_ctl, pg_basebackup (DefaultPGBin when empty).
	Bin string
}

// ConnString is a libpq key=value connection string for user and database over TCP. The lab trusts
// loopback, so it carries no password.
func (p *Postgres) ConnString(user, database string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=3", p.Addr, p.Port, user, database)
}

// HostPort is Addr:Port.
func (p *Postgres) HostPort() string { return fmt.Sprintf("%s:%d", p.Addr, p.Port) }

func (p *Postgres) bin(name string) string {
	dir := p.Bin
	if dir == "" {
		dir = DefaultPGBin
	}
	return filepath.Join(dir, name)
}

// Config is the server's postgresql.conf: the whole file, written over the one initdb or pg_basebackup
// left, so a standby cloned from a primary gets its own address and port.
func (p *Postgres) Config() string {
	return fmt.Sprintf(`# Written by pitstop lab for %[1]s. A lab server: small, loopback only.
cluster_name = '%[1]s'
listen_addresses = '%[2]s'
port = %[3]d
unix_socket_directories = '%[4]s'
max_connections = 50
shared_buffers = 32MB
dynamic_shared_memory_type = posix
# logical: Pitstop's reverse sync publishes from whichever side takes writes.
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
max_wal_size = 512MB
min_wal_size = 80MB
log_line_prefix = '%%m [%%p] %%q%%a '
log_timezone = 'UTC'
timezone = 'UTC'
datestyle = 'iso, mdy'
lc_messages = 'C'
lc_monetary = 'C'
lc_numeric = 'C'
lc_time = 'C'
default_text_search_config = 'pg_catalog.english'
`, p.Name, p.Addr, p.Port, p.Socket)
}

// HBA is the server's pg_hba.conf.
const HBA = `# Written by pitstop lab. LAB ONLY: every client on loopback is trusted without a password.
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.0/8   trust
host    replication  all   127.0.0.0/8   trust
`

// InitPrimary creates a new cluster in Data with initdb (its parent directory must exist) and writes
// the lab's configuration into it.
func (p *Postgres) InitPrimary(ctx context.Context) error {
	if err := p.prepare(); err != nil {
		return err
	}
	// --no-sync: a lab cluster need not survive a power cut, and it saves seconds.
	out, err := p.command(ctx, p.bin("initdb"), "-D", p.Data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb for %s in %s: %w\n%s", p.Name, p.Data, err, lastLines(out, 15))
	}
	return p.writeConfig()
}

// CloneFrom makes Data a streaming standby of primary: pg_basebackup -R -X stream --checkpoint=fast,
// connecting with application_name appName (the name pg_stat_replication shows on the primary).
func (p *Postgres) CloneFrom(ctx context.Context, primary *Postgres, appName string) error {
	if err := p.prepare(); err != nil {
		return err
	}
	conn := fmt.Sprintf("host=%s port=%d user=postgres application_name=%s", primary.Addr, primary.Port, appName)
	out, err := p.command(ctx, p.bin("pg_basebackup"), "-D", p.Data, "-d", conn, "-R", "-X", "stream",
		"--checkpoint=fast", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_basebackup of %s from %s into %s: %w\n%s", p.Name, primary.HostPort(), p.Data, err, lastLines(out, 15))
	}
	return p.writeConfig()
}

// prepare creates the socket directory and the log file, owned by the user the server runs as.
func (p *Postgres) prepare() error {
	if err := os.MkdirAll(p.Socket, 0o755); err != nil {
		return fmt.Errorf("create socket directory for %s: %w", p.Name, err)
	}
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create log file for %s: %w", p.Name, err)
	}
	f.Close()
	for _, path := range []string{p.Socket, p.Log, filepath.Dir(p.Data)} {
		if err := chownPostgres(path); err != nil {
			return err
		}
	}
	return nil
}

func (p *Postgres) writeConfig() error {
	for name, content := range map[string]string{"postgresql.conf": p.Config(), "pg_hba.conf": HBA} {
		file := filepath.Join(p.Data, name)
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		if err := chownPostgres(file); err != nil {
			return err
		}
	}
	return nil
}

// Start starts the server with pg_ctl and waits until it accepts connections.
func (p *Postgres) Start(ctx context.Context) error {
	out, err := p.command(ctx, p.bin("pg_ctl"), "-D", p.Data, "-l", p.Log, "-w", "-t", "60", "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("start PostgreSQL %s (%s, data %s): %w\n%s\nlast lines of %s:\n%s",
			p.Name, p.HostPort(), p.Data, err, lastLines(out, 5), p.Log, tailFile(p.Log, 15))
	}
	return nil
}

// Stop stops the server (pg_ctl stop -m fast) if it runs. It is safe to call when it does not.
func (p *Postgres) Stop(ctx context.Context) error {
	pid := p.PID()
	if pid == 0 || !alive(pid) {
		return nil
	}
	out, err := p.command(ctx, p.bin("pg_ctl"), "-D", p.Data, "-m", "fast", "-w", "-t", "30", "stop").CombinedOutput()
	if err != nil {
		// pg_ctl could not do it (a damaged data directory?): fall back to the postmaster's pid.
		if serr := stopPID(pid, "postgres", syscall.SIGINT /* fast shutdown */, 10*time.Second); serr != nil {
			return fmt.Errorf("stop PostgreSQL %s (pid %d): pg_ctl: %v: %s; then: %w", p.Name, pid, err, lastLines(out, 3), serr)
		}
	}
	// pg_ctl returns once postmaster.pid is gone, a moment before the postmaster itself exits.
	if !waitGone(pid, 10*time.Second) {
		return fmt.Errorf("stop PostgreSQL %s: pid %d still runs 10s after pg_ctl stop; see %s", p.Name, pid, p.Log)
	}
	return nil
}

// PID returns the postmaster's pid from Data/postmaster.pid, or 0.
func (p *Postgres) PID() int {
	pid, _ := readPID(filepath.Join(p.Data, "postmaster.pid"))
	return pid
}

// Connect opens a connection as user to database.
func (p *Postgres) Connect(ctx context.Context, user, database string) (*pgx.Conn, error) {
	c, err := pgx.Connect(ctx, p.ConnString(user, database))
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL %s at %s as %s: %w", p.Name, p.HostPort(), user, err)
	}
	return c, nil
}

// command prepares a command to run as the server's user.
func (p *Postgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, name, args...)
	}
	// The postgres user may not be able to enter the caller's working directory (/root).
	cmd.Dir = filepath.Dir(p.Data)
	return cmd
}

// chownPostgres gives path to user postgres when running as root (PostgreSQL will not run as root);
// otherwise the current user owns it already.
func chownPostgres(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, err := postgresIDs()
	if err != nil {
		return err
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("give %s to user postgres: %w", path, err)
	}
	return nil
}

func postgresIDs() (int, int, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, fmt.Errorf("%w: no user postgres (%v): install PostgreSQL with \"apt-get install -y postgresql-15\"", ErrMissingProgram, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// waitStreaming waits until primary reports a standby named appName streaming.
func waitStreaming(ctx context.Context, primary *Postgres, appName string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	c, err := primary.Connect(ctx, "postgres", "postgres")
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	for {
		var n int
		err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'`, appName).Scan(&n)
		if err == nil && n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("no streaming standby in pg_stat_replication")
			}
			return fmt.Errorf("standby %s did not start streaming from %s within %s: %w", appName, primary.HostPort(), d, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lastLines returns the last n lines of out, indented.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// tailFile returns the last n lines of file, indented, or a note that it cannot be read.
func tailFile(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return "    (cannot read: " + err.Error() + ")"
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "    (empty)"
	}
	return lastLines(b, n)
}
