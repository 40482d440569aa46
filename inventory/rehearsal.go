package inventory

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pitstop-ops/pitstop/internal/shell"
)

// Rehearsal is where `pitstop rehearse` copies production's database and tries the migration and the
// new version on it: a host of its own that neither side uses, a scratch data directory and a port.
type Rehearsal struct {
	// Host names the machine (under hosts:) the copy runs on. It must not be a host of either side or
	// the balancer.
	Host string `yaml:"host"`
	// DataDir is the scratch directory Pitstop owns for the rehearsal: the copy goes to DataDir/pgdata.
	// It must not exist, or be empty, or hold an earlier rehearsal's leftovers.
	DataDir string `yaml:"data_dir"`
	// Port is the TCP port the copy listens on.
	Port int `yaml:"port"`
	// Listen is the address the copy listens on (default 127.0.0.1, reached through the host's SSH
	// connection when the host is not local).
	Listen string `yaml:"listen"`
	// Source is the database host the copy is taken from (default: the backup's standby, so the
	// primary is not loaded).
	Source string `yaml:"source"`
	// SourceConn is the connection string pg_basebackup uses on the rehearsal host (default: the
	// source's postgres: string).
	SourceConn string `yaml:"source_conn"`
	// Snapshot, when set, replaces pg_basebackup: commands run on the rehearsal host that fill
	// {pgdata} with a copy of the source (e.g. from a storage snapshot).
	Snapshot []string `yaml:"snapshot"`
	// PGBin holds pg_basebackup and pg_ctl on the rehearsal host (default /usr/lib/postgresql/15/bin).
	PGBin string `yaml:"pg_bin"`
	// AsPostgres prefixes every command that touches the copy, so it runs as the database's OS user
	// (default "sudo -n -u postgres"; "" runs them as the SSH user).
	AsPostgres *string `yaml:"as_postgres"`
	// App names an optional app host (under hosts:, with serve:) that runs the new version against
	// the copy: the upgrade commands, the migration, the direct check and a smoke request.
	App string `yaml:"app"`
	// StopApp are the commands that stop the rehearsal app again at clean-up (run on App).
	StopApp []string `yaml:"stop_app"`
	// MaxReadBlock fails the rehearsal when the migration holds a lock that blocks reads (ACCESS
	// EXCLUSIVE) on one table for longer (default 5s).
	MaxReadBlock time.Duration `yaml:"max_read_block"`
	// SampleEvery is how often the copy's locks are sampled while the migration runs (default 50ms).
	SampleEvery time.Duration `yaml:"sample_every"`
}

// DefaultPGBin is where Debian's postgresql-15 installs pg_ctl and pg_basebackup.
const DefaultPGBin = "/usr/lib/postgresql/15/bin"

// Enabled reports whether the inventory has a rehearsal section.
func (r *Rehearsal) Enabled() bool { return r.Host != "" || r.DataDir != "" || r.Port != 0 }

// PGData is the copy's data directory: DataDir/pgdata.
func (r *Rehearsal) PGData() string { return path.Join(r.DataDir, "pgdata") }

// Marker is the file that says DataDir belongs to a Pitstop rehearsal; it is written before anything
// else, so leftovers of a killed rehearsal are recognised.
func (r *Rehearsal) Marker() string { return path.Join(r.DataDir, "pitstop-rehearsal") }

// ListenAddr is Listen:Port.
func (r *Rehearsal) ListenAddr() string {
	return net.JoinHostPort(r.Listen, fmt.Sprint(r.Port))
}

// As is the prefix that runs a command as the database's OS user, with a trailing space, or "".
func (r *Rehearsal) As() string {
	if r.AsPostgres == nil || strings.TrimSpace(*r.AsPostgres) == "" {
		return ""
	}
	return strings.TrimSpace(*r.AsPostgres) + " "
}

// Bin is the path of a PostgreSQL program on the rehearsal host, shell-quoted.
func (r *Rehearsal) Bin(prog string) string { return shell.Quote(path.Join(r.PGBin, prog)) }

// rehearsalDefaults fills the rehearsal section's optional fields; it does nothing without one.
func (inv *Inventory) rehearsalDefaults() {
	r := &inv.Rehearsal
	if !r.Enabled() {
		return
	}
	if r.Listen == "" {
		r.Listen = "127.0.0.1"
	}
	if r.Source == "" {
		r.Source = inv.Sides.Backup.Database
	}
	if r.SourceConn == "" {
		if h := inv.Hosts[r.Source]; h != nil {
			r.SourceConn = h.Postgres
		}
	}
	if r.PGBin == "" {
		r.PGBin = DefaultPGBin
	}
	if r.AsPostgres == nil {
		as := "sudo -n -u postgres"
		r.AsPostgres = &as
	}
	if r.MaxReadBlock == 0 {
		r.MaxReadBlock = 5 * time.Second
	}
	if r.SampleEvery == 0 {
		r.SampleEvery = 50 * time.Millisecond
	}
}

// checkRehearsal checks the rehearsal section, if there is one: its hosts exist and belong to no
// side, its directory and port are usable.
func (c *checker) checkRehearsal(roles map[string]role) {
	r := &c.inv.Rehearsal
	if !r.Enabled() {
		return
	}
	switch {
	case r.Host == "":
		c.errorf("rehearsal.host", "rehearsal.host is missing; name the host (under hosts:) the copy of the database runs on")
	case !c.hasHostKey(r.Host):
		c.errorf("rehearsal.host", "rehearsal.host names host %q, which is not in hosts; add it under hosts: or fix the name", r.Host)
	default:
		c.notProduction("rehearsal.host", r.Host, roles)
	}
	if r.App != "" {
		switch {
		case !c.hasHostKey(r.App):
			c.errorf("rehearsal.app", "rehearsal.app names host %q, which is not in hosts; add it under hosts: with its serve: address, or fix the name", r.App)
		case c.inv.Hosts[r.App] == nil || c.inv.Hosts[r.App].Serve == "":
			c.errorf("rehearsal.app", "rehearsal.app names host %q, which has no serve: address; give it the host:port the rehearsal app listens on", r.App)
		default:
			c.notProduction("rehearsal.app", r.App, roles)
		}
	}
	for i, cmd := range r.StopApp {
		c.checkCommand(fmt.Sprintf("rehearsal.stop_app[%d]", i), cmd, "")
	}
	if len(r.StopApp) > 0 && r.App == "" {
		c.errorf("rehearsal.stop_app", "rehearsal.stop_app is set but rehearsal.app is not; name the app host the commands stop, or remove them")
	}
	switch {
	case r.DataDir == "":
		c.errorf("rehearsal.data_dir", "rehearsal.data_dir is missing; give an absolute path on the rehearsal host for the copy, e.g. /var/lib/postgresql/pitstop-rehearsal")
	case !strings.HasPrefix(r.DataDir, "/"):
		c.errorf("rehearsal.data_dir", "rehearsal.data_dir %q is not an absolute path; give the full path on the rehearsal host", r.DataDir)
	case path.Clean(r.DataDir) == "/" || strings.ContainsAny(r.DataDir, "\n\x00"):
		c.errorf("rehearsal.data_dir", "rehearsal.data_dir %q cannot hold a copy (Pitstop removes it at clean-up); give a directory of its own, e.g. /var/lib/postgresql/pitstop-rehearsal", r.DataDir)
	}
	if r.Port < 1 || r.Port > 65535 {
		c.errorf("rehearsal.port", "rehearsal.port is %d; give the TCP port the copy listens on, from 1 to 65535 (not production's)", r.Port)
	}
	if r.Source != "" && !c.hasHostKey(r.Source) {
		c.errorf("rehearsal.source", "rehearsal.source names host %q, which is not in hosts; name the database the copy is taken from (default: the backup's standby)", r.Source)
	} else if r.Source != "" && r.SourceConn == "" && len(r.Snapshot) == 0 {
		c.errorf("rehearsal.source_conn", "rehearsal.source %q has no postgres: connection string for pg_basebackup; add one, set rehearsal.source_conn, or give rehearsal.snapshot commands", r.Source)
	}
	for i, cmd := range r.Snapshot {
		c.checkCommand(fmt.Sprintf("rehearsal.snapshot[%d]", i), strings.ReplaceAll(cmd, "{pgdata}", "{{pgdata}}"), "")
	}
	if r.MaxReadBlock < 0 {
		c.errorf("rehearsal.max_read_block", "rehearsal.max_read_block is %s; give a duration of 0 or more, e.g. 5s", r.MaxReadBlock)
	}
	if r.SampleEvery < 10*time.Millisecond || r.SampleEvery > 10*time.Second {
		c.errorf("rehearsal.sample_every", "rehearsal.sample_every is %s; give a duration from 10ms to 10s (default 50ms)", r.SampleEvery)
	}
	if c.inv.Thresholds.MaxWindow < 0 {
		c.errorf("thresholds.max_window", "thresholds.max_window is %s; give a duration of 0 (no limit) or more, e.g. 1m", c.inv.Thresholds.MaxWindow)
	}
}

// notProduction refuses a rehearsal host that the upgrade itself uses.
func (c *checker) notProduction(path, host string, roles map[string]role) {
	if r, ok := roles[host]; ok {
		c.errorf(path, "%s %q is also named at %s; rehearse on a host of its own, so nothing users reach is touched", path, host, r.path())
		return
	}
	if host == c.inv.Balancer.Host {
		c.errorf(path, "%s %q is the balancer; rehearse on a host of its own, so nothing users reach is touched", path, host)
	}
}

// DatabaseURL is the connection string commands get as {database_url} and PITSTOP_DATABASE_URL in a
// real run: production's primary, as its postgres: field gives it.
func (inv *Inventory) DatabaseURL() string {
	if h := inv.Hosts[inv.Sides.Production.Database]; h != nil {
		return h.Postgres
	}
	return ""
}

// ExpandFor is Expand with {database_url} set to dbURL instead of production's primary: the
// rehearsal points commands at its copy this way.
func (inv *Inventory) ExpandFor(cmd, host, dbURL string) string {
	return inv.expand(cmd, host, dbURL, shell.Quote)
}

// CopyURL is the connection string of the copy, as commands get it in {database_url}: the source's
// user, database and password (if its connection string has one) at rehearsal.listen:port.
func (r *Rehearsal) CopyURL(inv *Inventory) (string, error) {
	conn := ""
	if h := inv.Hosts[r.Source]; h != nil {
		conn = h.Postgres
	}
	if conn == "" {
		conn = r.SourceConn
	}
	if conn == "" {
		return "", fmt.Errorf("%s: rehearsal.source %q has no postgres: connection string, so commands cannot be given the copy's; add one to hosts.%s", inv.Source, r.Source, r.Source)
	}
	cfg, err := pgconn.ParseConfig(conn)
	if err != nil {
		return "", fmt.Errorf("%s: hosts.%s.postgres cannot be parsed (%s); fix the connection string", inv.Source, r.Source, scrubConn(err, conn))
	}
	u := url.URL{Scheme: "postgres", Host: r.ListenAddr(), Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
	switch {
	case cfg.User != "" && cfg.Password != "":
		u.User = url.UserPassword(cfg.User, cfg.Password)
	case cfg.User != "":
		u.User = url.User(cfg.User)
	}
	return u.String(), nil
}

// scrubConn is err's text without the connection string, which may hold a password.
func scrubConn(err error, conn string) string {
	return strings.ReplaceAll(err.Error(), conn, "…")
}
