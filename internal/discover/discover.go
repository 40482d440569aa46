// Package discover drafts an inventory from a running system: the balancer's nginx configuration
// read over SSH (nginx -T through the inventory's test command) and production's PostgreSQL primary
// (pg_stat_replication). It only reads: nothing is written or reloaded anywhere.
package discover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/internal/importer"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Options say where to look.
type Options struct {
	// Balancer is the nginx host's SSH target (user@host[:port], an ssh_config alias, or local).
	Balancer string
	// Upstream is the name of the upstream block that proxies to the application.
	Upstream string
	// NginxTest is the command that tests nginx's configuration ("nginx -t" when empty); discover
	// runs it with -T instead of -t, so it dumps the configuration of the nginx that command tests.
	NginxTest string
	// Database is production's primary: a libpq connection string (URL or key=value), or an SSH
	// target where Psql runs.
	Database string
	// Psql is the psql command run on the Database SSH target ("psql" when empty).
	Psql string
	// SSHConfig is an ssh_config file to use instead of ~/.ssh/config.
	SSHConfig string
	// Remote tunes SSH (tests point Home at a private ~/.ssh).
	Remote remote.Options
	// Command is the command line, for the draft's header.
	Command string
}

// ErrNotFound is wrapped when what was asked for is not there (no such upstream, not a primary).
var ErrNotFound = errors.New("not found")

// Discover reads the balancer (and the database, when given) and returns the draft inventory.
func Discover(ctx context.Context, opt Options) (*importer.Draft, error) {
	if opt.NginxTest == "" {
		opt.NginxTest = "nginx -t"
	}
	dump, err := dumpCommand(opt.NginxTest)
	if err != nil {
		return nil, err
	}
	hosts := map[string]*inventory.Host{"balancer": {SSH: opt.Balancer}}
	dbSSH := opt.Database != "" && !isDSN(opt.Database)
	if dbSSH {
		hosts["database"] = &inventory.Host{SSH: opt.Database}
	}
	for name, h := range hosts {
		if _, err := inventory.ParseTarget(h.SSH); err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
	}
	inv := &inventory.Inventory{Hosts: hosts, SSHConfig: opt.SSHConfig}
	inv.Defaults()
	pool := remote.New(inv, opt.Remote)
	defer pool.Close()

	d := importer.NewDraft()
	d.Header = []string{
		fmt.Sprintf("Pitstop inventory drafted by `%s`.", opt.Command),
		"Values marked \"found\" were read from the balancer's nginx (nginx -T) and production's PostgreSQL.",
		"Every value starting with TODO must be filled in: `pitstop plan -i THIS_FILE` lists each one left,",
		"by line. See docs/import.md#fill-in-the-todos.",
	}
	if opt.SSHConfig != "" {
		abs, err := filepath.Abs(opt.SSHConfig)
		if err != nil {
			return nil, err
		}
		opt.SSHConfig = abs
		inv.SSHConfig = abs
		d.SSHConfig = importer.Found(abs, "found: --ssh-config")
	}
	if err := discoverNginx(ctx, pool, dump, opt, d); err != nil {
		return nil, err
	}
	if opt.Database != "" {
		var st *dbState
		if dbSSH {
			st, err = readDBOverSSH(ctx, pool, opt)
		} else {
			st, err = readDB(ctx, opt.Database)
		}
		if err != nil {
			return nil, err
		}
		addDatabase(d, st, opt, dbSSH)
	}
	return d, nil
}

// dumpCommand turns the test command into the dump command: its -t becomes -T.
func dumpCommand(test string) (string, error) {
	words := strings.Fields(test)
	i := slices.Index(words, "-t")
	if i < 0 {
		return "", fmt.Errorf("--nginx-test %q has no -t; give the command that tests the balancer's nginx, e.g. \"sudo nginx -t -c /etc/nginx/nginx.conf\"", test)
	}
	words[i] = "-T"
	return strings.Join(words, " "), nil
}

func isDSN(s string) bool { return strings.Contains(s, "://") || strings.Contains(s, "=") }

// discoverNginx dumps the configuration and fills the balancer, the upstream's servers as app hosts
// and the probe URL's hint.
func discoverNginx(ctx context.Context, pool *remote.Pool, dump string, opt Options, d *importer.Draft) error {
	var mu sync.Mutex
	var stdout, stderr strings.Builder
	err := pool.Run(ctx, "balancer", dump, func(s steps.Stream, line string) {
		mu.Lock()
		defer mu.Unlock()
		if s == steps.Stderr {
			stderr.WriteString(line + "\n")
			return
		}
		stdout.WriteString(line + "\n")
	})
	if err != nil {
		return fmt.Errorf("on the balancer %s, `%s` failed: %w%s", opt.Balancer, dump, err, indent(stderr.String()))
	}
	files := splitDump(stdout.String())
	if len(files) == 0 {
		return fmt.Errorf("on the balancer %s, `%s` printed no \"# configuration file\" section; is this nginx 1.9.2 or later, and the command that tests the right nginx?", opt.Balancer, dump)
	}
	for _, f := range files {
		if err := parseConf(f); err != nil {
			return fmt.Errorf("on the balancer %s: %w", opt.Balancer, err)
		}
	}
	// The upstream block.
	type found struct {
		d    *directive
		file *confFile
	}
	var ups []found
	var names []string
	for _, f := range files {
		walk(f.Directives, nil, func(dir *directive, _ []*directive) {
			if dir.Name == "upstream" && dir.HasBlock && len(dir.Args) == 1 {
				names = append(names, dir.Args[0])
				if dir.Args[0] == opt.Upstream {
					ups = append(ups, found{dir, f})
				}
			}
		})
	}
	switch {
	case len(ups) == 0:
		list := "none"
		if len(names) > 0 {
			list = strings.Join(names, ", ")
		}
		return fmt.Errorf("%w: the balancer %s's nginx (%s) has no upstream %q; its upstreams: %s", ErrNotFound, opt.Balancer, files[0].Path, opt.Upstream, list)
	case len(ups) > 1:
		return fmt.Errorf("the balancer's nginx defines upstream %q twice (%s:%d and %s:%d); nginx would refuse that: is the dump from the right nginx?", opt.Upstream, ups[0].file.Path, ups[0].d.Line, ups[1].file.Path, ups[1].d.Line)
	}
	up := ups[0]
	d.BalancerHost = importer.Found("lb", "found: --balancer")
	d.Upstream = importer.Found(opt.Upstream, fmt.Sprintf("found: %s:%d", up.file.Path, up.d.Line))
	if len(up.file.Directives) == 1 {
		d.File = importer.Found(up.file.Path, "found: holds the upstream block and nothing else, as Pitstop needs (it rewrites the whole file)")
	} else {
		d.File = importer.TODO(fmt.Sprintf("a file that holds only the upstream block: %s also holds other directives, and Pitstop rewrites the whole file; move upstream %s to a file of its own, include it where the block was, and give that file's path", up.file.Path, opt.Upstream))
	}
	d.Test = importer.Found(opt.NginxTest, "found: --nginx-test")
	reload := strings.Replace(opt.NginxTest, " -t", " -s reload", 1)
	d.Reload = importer.Found(reload, "derived from --nginx-test: check it is how this nginx is reloaded")
	walk(files[0].Directives, nil, func(dir *directive, parents []*directive) {
		if dir.Name == "pid" && len(parents) == 0 && len(dir.Args) == 1 && filepath.IsAbs(dir.Args[0]) {
			d.PidFile = importer.Found(dir.Args[0], fmt.Sprintf("found: %s:%d", files[0].Path, dir.Line))
		}
	})
	d.Hosts = append(d.Hosts, importer.DraftHost{Name: "lb", Note: "the balancer", SSH: importer.Found(opt.Balancer, "found: --balancer")})

	// Its servers: the production side's app hosts; servers marked backup are the backup side's.
	used := map[string]bool{"lb": true}
	for i, s := range up.d.Block {
		if s.Name != "server" || len(s.Args) == 0 {
			continue
		}
		addr := s.Args[0]
		backup := slices.Contains(s.Args[1:], "backup")
		name := s.Comment
		if !hostName.MatchString(name) || used[name] {
			name = fmt.Sprintf("app-%d", i+1)
		}
		used[name] = true
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		serve := importer.Found(addr, fmt.Sprintf("found: %s:%d", up.file.Path, s.Line))
		if _, _, err := net.SplitHostPort(addr); err != nil {
			serve = importer.TODO(fmt.Sprintf("host:port of %s (the upstream names it without a port, %s:%d)", addr, up.file.Path, s.Line))
		}
		d.Hosts = append(d.Hosts, importer.DraftHost{
			Name: name, Note: "server " + strings.Join(s.Args, " ") + " of upstream " + opt.Upstream,
			SSH:   importer.TODO("how to reach this app host over SSH, e.g. deploy@" + host),
			Serve: &serve,
		})
		v := importer.Found(name, "found: server in upstream "+opt.Upstream)
		if backup {
			v.Note = "found: server marked backup in upstream " + opt.Upstream
			d.Backup.Apps = append(d.Backup.Apps, v)
		} else {
			d.Production.Apps = append(d.Production.Apps, v)
		}
	}
	if len(d.Production.Apps) == 0 {
		return fmt.Errorf("%w: upstream %q (%s:%d) lists no server in use; Pitstop needs the production side live", ErrNotFound, opt.Upstream, up.file.Path, up.d.Line)
	}
	if len(d.Backup.Apps) == 0 {
		d.Hosts = append(d.Hosts, importer.DraftHost{
			Name: "app-b1", Note: "the backup side's app host: the upstream lists only production's; add one entry per backup app host",
			SSH:   importer.TODO("how to reach the backup app host over SSH, e.g. deploy@ADDRESS"),
			Serve: ptr(importer.TODO("host:port the backup app listens on, as nginx reaches it")),
		})
		d.Backup.Apps = []importer.Value{importer.Found("app-b1", "a name for the backup app host above; rename or add more as needed")}
	}
	// The probe: the server block that proxies to the upstream.
	walkAll(files, func(dir *directive, parents []*directive) {
		if d.ProbeURL.Note != "" || dir.Name != "proxy_pass" || len(dir.Args) == 0 {
			return
		}
		target := strings.TrimPrefix(strings.TrimPrefix(dir.Args[0], "http://"), "https://")
		if strings.TrimRight(target, "/") != opt.Upstream {
			return
		}
		if url := probeBase(parents); url != "" {
			d.ProbeURL = importer.TODO("a page users load through the balancer that answers 200, under " + url + " (the server block at " + fmt.Sprintf("%s:%d", dir.File, dir.Line) + " proxies to " + opt.Upstream + ")")
			d.ProbeURL.Note = "hint found"
		}
	})
	return nil
}

func ptr[T any](v T) *T { return &v }

func walkAll(files []*confFile, fn func(d *directive, parents []*directive)) {
	for _, f := range files {
		walk(f.Directives, nil, fn)
	}
}

// probeBase is the URL of the server block among parents: scheme, host (server_name or listen
// address) and port, with the location's path.
func probeBase(parents []*directive) string {
	var srv, loc *directive
	for _, p := range parents {
		switch p.Name {
		case "server":
			srv = p
		case "location":
			loc = p
		}
	}
	if srv == nil {
		return ""
	}
	scheme, host, port := "http", "", ""
	for _, d := range srv.Block {
		switch {
		case d.Name == "listen" && len(d.Args) > 0 && port == "":
			a := d.Args[0]
			if slices.Contains(d.Args[1:], "ssl") {
				scheme = "https"
			}
			if h, p, err := net.SplitHostPort(a); err == nil {
				host, port = h, p
			} else if _, err := strconv.Atoi(a); err == nil {
				port = a
			} else {
				host = a
			}
		case d.Name == "server_name":
			for _, n := range d.Args {
				if n != "_" && n != "" && !strings.ContainsAny(n, "*~") {
					host = n
					break
				}
			}
		}
	}
	if host == "" || host == "*" || host == "0.0.0.0" || host == "::" {
		host = "HOST"
	}
	url := scheme + "://" + host
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		url = scheme + "://" + net.JoinHostPort(host, port)
	}
	path := "/"
	if loc != nil && len(loc.Args) == 1 && strings.HasPrefix(loc.Args[0], "/") {
		path = loc.Args[0]
	}
	return url + path
}

var hostName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func indent(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return "\n  " + strings.Join(lines, "\n  ")
}

// dbState is what the primary says about itself and its standbys.
type dbState struct {
	Addr, Port string
	Database   string
	Standbys   []standby
}

type standby struct {
	AppName, ClientAddr, ClientHost, State, SyncState string
}

const replicationQuery = `SELECT coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(client_hostname, ''), coalesce(state, ''), coalesce(sync_state, '') FROM pg_stat_replication ORDER BY application_name`

// readDB connects with the connection string, read-only, and reads the primary's standbys.
func readDB(ctx context.Context, dsn string) (*dbState, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("--database is not a connection string pgx accepts; write a postgres:// URL or key=value pairs")
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.RuntimeParams["application_name"] = "pitstop-discover"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the --database (%s:%d): %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(context.Background())
	var inRecovery bool
	st := &dbState{Addr: cfg.Host, Port: strconv.Itoa(int(cfg.Port)), Database: cfg.Database}
	if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil {
		return nil, fmt.Errorf("on the --database: %w", err)
	}
	if inRecovery {
		return nil, fmt.Errorf("%w: the --database (%s:%d) is a standby; give production's primary, whose pg_stat_replication lists the standbys", ErrNotFound, cfg.Host, cfg.Port)
	}
	rows, err := conn.Query(ctx, replicationQuery)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_replication on the --database: %w; the user needs pg_monitor (or superuser) to see the standbys", err)
	}
	st.Standbys, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (standby, error) {
		var s standby
		return s, r.Scan(&s.AppName, &s.ClientAddr, &s.ClientHost, &s.State, &s.SyncState)
	})
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_replication on the --database: %w", err)
	}
	return st, nil
}

// readDBOverSSH runs psql on the database host.
func readDBOverSSH(ctx context.Context, pool *remote.Pool, opt Options) (*dbState, error) {
	psql := opt.Psql
	if psql == "" {
		psql = "psql"
	}
	var mu sync.Mutex
	var out, errOut []string
	run := func(q string) ([]string, error) {
		out, errOut = nil, nil
		cmd := psql + ` -XAtq -F '|' -c "` + q + `"`
		err := pool.Run(ctx, "database", cmd, func(s steps.Stream, l string) {
			mu.Lock()
			defer mu.Unlock()
			if s == steps.Stderr {
				errOut = append(errOut, l)
			} else if l != "" {
				out = append(out, l)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("on the --database %s, `%s` failed: %w%s", opt.Database, cmd, err, indent(strings.Join(errOut, "\n")))
		}
		return out, nil
	}
	rec, err := run(`SELECT pg_is_in_recovery()`)
	if err != nil {
		return nil, err
	}
	if len(rec) == 1 && rec[0] == "t" {
		return nil, fmt.Errorf("%w: the --database %s is a standby; give production's primary", ErrNotFound, opt.Database)
	}
	lines, err := run(replicationQuery)
	if err != nil {
		return nil, err
	}
	st := &dbState{}
	for _, l := range lines {
		f := strings.Split(l, "|")
		if len(f) != 5 {
			continue
		}
		st.Standbys = append(st.Standbys, standby{f[0], f[1], f[2], f[3], f[4]})
	}
	return st, nil
}

// addDatabase puts the primary in production and the standbys in the backup side: the first as its
// database, the others as replicas.
func addDatabase(d *importer.Draft, st *dbState, opt Options, viaSSH bool) {
	prod := importer.DraftHost{Name: "db-prod", Note: "production's PostgreSQL primary"}
	if viaSSH {
		prod.SSH = importer.Found(opt.Database, "found: --database")
		prod.Postgres = ptr(importer.TODO("the libpq connection string Pitstop uses for this primary (a superuser: it pauses replay, fences and promotes)"))
	} else {
		prod.SSH = importer.TODO("how to reach the primary's host over SSH, e.g. postgres@" + st.Addr)
		prod.Postgres = ptr(importer.Found(opt.Database, "found: --database"))
	}
	d.Hosts = append(d.Hosts, prod)
	d.Production.Database = importer.Found("db-prod", "found: --database")
	used := map[string]bool{}
	for _, h := range d.Hosts {
		used[h.Name] = true
	}
	for i, s := range st.Standbys {
		name := s.AppName
		if !hostName.MatchString(name) || used[name] || name == "walreceiver" {
			name = fmt.Sprintf("db-standby-%d", i+1)
		}
		used[name] = true
		addr := s.ClientAddr
		if s.ClientHost != "" {
			addr = s.ClientHost
		}
		where := "found: pg_stat_replication"
		if s.AppName != "" {
			where += " application_name " + s.AppName
		}
		if addr != "" {
			where += ", connects from " + addr
		}
		where += ", " + s.State
		d.Hosts = append(d.Hosts, importer.DraftHost{
			Name: name, Note: "standby of db-prod; " + where,
			SSH:      importer.TODO("how to reach this standby's host over SSH (it connects from " + orUnknown(addr) + ")"),
			Postgres: ptr(importer.TODO("the libpq connection string of this standby (its own address and port; pg_stat_replication does not show them)")),
		})
		v := importer.Found(name, where)
		if i == 0 {
			d.Backup.Database = v
		} else {
			v.Note += "; a replica: move it under production's replicas if it serves that side"
			d.Backup.Replicas = append(d.Backup.Replicas, v)
		}
	}
	if len(st.Standbys) == 0 {
		d.Backup.Database = importer.TODO("the backup side's PostgreSQL host: production's primary has no standby in pg_stat_replication, and Pitstop needs one streaming from it")
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown address"
	}
	return s
}
