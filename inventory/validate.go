package inventory

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// checker runs the semantic checks on a decoded inventory whose defaults are filled.
type checker struct {
	inv    *Inventory
	source string
	// shape places paths in the source; nil for an inventory built in code.
	shape *shape
	errs  Errors
}

// Validate checks inv as Parse does, for an inventory built in code: the errors carry no position.
// Call Defaults first, as Parse does.
func (inv *Inventory) Validate() error {
	c := &checker{inv: inv, source: inv.Source}
	if c.source == "" {
		c.source = "inventory"
	}
	c.check()
	if len(c.errs) == 0 {
		return nil
	}
	return sortErrors(c.errs)
}

// errorf records a problem at the field path (or, if it is absent, at its nearest present parent).
func (c *checker) errorf(path, format string, args ...any) {
	e := &Error{File: c.source, Msg: fmt.Sprintf(format, args...)}
	if c.shape != nil {
		e.Line, e.Col = c.shape.pos(path)
	}
	c.errs = append(c.errs, e)
}

func (c *checker) check() {
	if blank(c.inv.Name) {
		c.errorf("name", "name is missing; add name: followed by the application's name, e.g. name: shop")
	}
	c.checkProbe()
	c.checkBalancer()
	roles := c.checkSides()
	c.checkHosts(roles)
	c.checkRehearsal(roles)
	c.checkUpgrade()
	c.checkThresholds()
	c.checkParams()
	for i, cmd := range c.inv.ReverseSync.Rebuild {
		path := fmt.Sprintf("reverse_sync.rebuild[%d]", i)
		c.checkCommand(path, cmd, "the backup database host, which serves no application")
	}
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func (c *checker) checkProbe() {
	p := &c.inv.Probe
	if p.URL == "" {
		c.errorf("probe.url", "probe.url is missing; add the URL users reach the application at through the balancer, e.g. url: http://shop.example.com/")
	} else {
		c.checkURL("probe.url", p.URL)
	}
	if p.WriteURL != "" {
		c.checkURL("probe.write_url", p.WriteURL)
	}
	if p.Rate <= 0 {
		c.errorf("probe.rate", "probe.rate is %d; give the number of probe requests per second, more than 0 (default 20)", p.Rate)
	}
	if p.Timeout <= 0 {
		c.errorf("probe.timeout", "probe.timeout is %s; give a positive duration such as 2s (the default)", p.Timeout)
	}
	if p.WriteEvery < 0 {
		c.errorf("probe.write_every", "probe.write_every is %s; give a positive duration such as 1s (the default)", p.WriteEvery)
	}
	for path, h := range map[string]string{"probe.upstream_header": p.UpstreamHeader, "probe.version_header": p.VersionHeader} {
		if !headerName.MatchString(h) {
			c.errorf(path, "%s %q is not an HTTP header name; use letters, digits and -, e.g. X-Upstream", path, h)
		}
	}
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

// checkURL checks an http(s) URL without ever echoing it (it may carry user:password@).
func (c *checker) checkURL(path, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		c.errorf(path, "%s is not a valid URL; write it as http://host[:port]/path", path)
	case u.Scheme != "http" && u.Scheme != "https":
		c.errorf(path, "%s must start with http:// or https://; write it as http://host[:port]/path", path)
	case u.Hostname() == "":
		c.errorf(path, "%s has no host; write it as http://host[:port]/path", path)
	}
}

// upstreamName is what nginx accepts after proxy_pass http:// as an upstream's name.
var upstreamName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

func (c *checker) checkBalancer() {
	b := &c.inv.Balancer
	if c.absent("balancer", b.Host == "" && b.Upstream == "" && b.File == "") {
		c.errorf("balancer", "balancer is missing; add balancer: with host (the nginx host), upstream (the upstream's name) and file (the upstream file Pitstop rewrites)")
		return
	}
	switch {
	case b.Host == "":
		c.errorf("balancer.host", "balancer.host is missing; name the nginx host, as listed under hosts:")
	case !c.hasHostKey(b.Host):
		c.errorf("balancer.host", "balancer.host names host %q, which is not in hosts; add it under hosts: or fix the name", b.Host)
	}
	switch {
	case b.Upstream == "":
		c.errorf("balancer.upstream", "balancer.upstream is missing; give the name of the nginx upstream that proxy_pass refers to, e.g. upstream: shop_backend")
	case !upstreamName.MatchString(b.Upstream):
		c.errorf("balancer.upstream", "balancer.upstream %q is not a valid nginx upstream name; use letters, digits, _, - and ., e.g. shop_backend", b.Upstream)
	}
	switch {
	case b.File == "":
		c.errorf("balancer.file", "balancer.file is missing; give the absolute path of the upstream file on the balancer host, e.g. /etc/nginx/conf.d/shop-upstream.conf")
	case !strings.HasPrefix(b.File, "/"):
		c.errorf("balancer.file", "balancer.file %q is not an absolute path; give the full path on the balancer host, e.g. /etc/nginx/conf.d/shop-upstream.conf", b.File)
	}
	if !strings.HasPrefix(b.PidFile, "/") {
		c.errorf("balancer.pid_file", "balancer.pid_file %q is not an absolute path; give nginx's pid file, or leave it out for /run/nginx.pid", b.PidFile)
	}
	if blank(b.Test) {
		c.errorf("balancer.test", "balancer.test is blank; give the command that checks nginx's configuration, or leave it out for \"nginx -t\"")
	}
	if blank(b.Reload) {
		c.errorf("balancer.reload", "balancer.reload is blank; give the command that reloads nginx, or leave it out for \"nginx -s reload\"")
	}
	if b.OldWorkers != OldWorkersQuit && b.OldWorkers != OldWorkersWait {
		c.errorf("balancer.old_workers", "balancer.old_workers is %q; write %s (end nginx's old workers as soon as the new ones run, the default) or %s (leave it to nginx's master, 100 ms later)", b.OldWorkers, OldWorkersQuit, OldWorkersWait)
	}
}

// absent reports whether the section at path was left out or left empty. For an inventory built in
// code there is no source to look at, and guess (from the decoded values) decides.
func (c *checker) absent(path string, guess bool) bool {
	if c.shape == nil {
		return guess
	}
	_, node, whole := c.shape.lookup(path)
	return !whole || node == nil || isNull(node)
}

// hasHostKey reports a host written with no settings (a nil entry), which is still "in hosts".
func (c *checker) hasHostKey(name string) bool {
	_, ok := c.inv.Hosts[name]
	return ok
}

// role is what a side uses a host for.
type role struct {
	side  Side
	kind  string // "app", "database" or "replica"
	index int    // in the side's apps or replicas
}

// path is where the side names the host, built only for a message: a side can list thousands of apps.
func (r role) path() string {
	base := "sides." + string(r.side)
	switch r.kind {
	case "app":
		return base + ".apps[" + strconv.Itoa(r.index) + "]"
	case "replica":
		return base + ".replicas[" + strconv.Itoa(r.index) + "]"
	}
	return base + ".database"
}

// checkSides checks both sides and returns the role of every host they name. Looking each app up
// in hosts anyway, it also checks what a role needs of its host (a serve address, a postgres
// connection string) and the size of the side's upstream file, so that no other check looks the
// 20,000 apps up again.
func (c *checker) checkSides() map[string]role {
	p, b := &c.inv.Sides.Production, &c.inv.Sides.Backup
	roles := make(map[string]role, len(p.Apps)+len(p.Replicas)+len(b.Apps)+len(b.Replicas)+2)
	for _, side := range []Side{Production, Backup} {
		s := c.inv.Sides.Get(side)
		base := "sides." + string(side)
		if c.absent(base, len(s.Apps) == 0 && s.Database == "" && len(s.Replicas) == 0) {
			c.errorf(base, "%s is missing; add it with apps: (its app hosts) and database: (its PostgreSQL host)", base)
			continue
		}
		if len(s.Apps) == 0 {
			c.errorf(base+".apps", "%s.apps is empty; list the side's app hosts (at least one)", base)
		}
		var upstream upstreamSize
		for i, name := range s.Apps {
			upstream.add(c.sideHost(roles, role{side, "app", i}, name), name)
		}
		c.checkUpstreamSize(side, &upstream)
		if s.Database == "" {
			c.errorf(base+".database", "%s.database is missing; name the side's PostgreSQL host (exactly one; extra read-only ones go under replicas:)", base)
		} else {
			c.sideHost(roles, role{side, "database", 0}, s.Database)
		}
		for i, name := range s.Replicas {
			c.sideHost(roles, role{side, "replica", i}, name)
		}
	}
	for _, b := range c.inv.Balancer.Hosts {
		if r, ok := roles[b]; ok {
			c.errorf("balancer.host", "balancer.host %q is also named at %s; the balancer must be a host of its own, not an app or database host", b, r.path())
		}
	}
	return roles
}

// sideHost checks one host name listed in a side and records its role; the first role recorded
// for a host decides what it needs (a serve address for an app, a connection string otherwise). It
// returns the host (nil when name is not in hosts).
func (c *checker) sideHost(roles map[string]role, r role, name string) *Host {
	h, listed := c.inv.Hosts[name]
	if blank(name) {
		path := r.path()
		c.errorf(path, "%s is blank; name a host from hosts: or remove the entry", path)
		return h
	}
	if !listed {
		path := r.path()
		c.errorf(path, "%s names host %q, which is not in hosts; add it under hosts: or fix the name", path, name)
	}
	prev, seen := roles[name]
	switch {
	case !seen:
		roles[name] = r
		// checkHosts checks the values written; a missing one is reported here, where the role
		// that needs it is known.
		switch {
		case h == nil:
		case r.kind == "app" && h.Serve == "":
			path := hostField(name, "serve")
			c.errorf(path, "%s is missing; an app host needs the host:port its application listens on, e.g. serve: 10.0.1.11:8080", path)
		case r.kind != "app" && h.Postgres == "":
			c.missingPostgres(name)
		}
	case prev.side != r.side:
		path := r.path()
		c.errorf(path, "%s names host %q, which is already in the %s side (%s); a host belongs to one side only", path, name, prev.side, prev.path())
	default:
		path := r.path()
		c.errorf(path, "%s names host %q a second time (also %s); a host has one role: to run two on one machine, list it twice under hosts: with different names and the same ssh", path, name, prev.path())
	}
	return h
}

// isHostName reports whether name is what a host may be called (^[A-Za-z0-9][A-Za-z0-9_.-]*$; a
// loop, as it runs once per host): it shows in commands ({host}), logs and the journal.
func isHostName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '.' || c == '-')) {
			return false
		}
	}
	return name != ""
}

// hostField is the path of a host's field, built only for a message.
func hostField(host, field string) string {
	return joinKey("hosts", host) + "." + field
}

// checkHosts checks every host in map order: sorting 20,000 names would cost more than all the
// checks. Each message stands alone and sortErrors orders them; a value two hosts must not share
// is reported by claims the same whatever order the hosts come in.
func (c *checker) checkHosts(roles map[string]role) {
	if len(c.inv.Hosts) == 0 {
		c.errorf("hosts", "hosts is missing; list every machine under hosts:, each with ssh: user@address")
		return
	}
	serves := newClaims(len(c.inv.Hosts)) // normalised serve address → host
	databases := newClaims(0)             // connection string → database host
	for name, h := range c.inv.Hosts {
		if !isHostName(name) {
			c.errorf(joinKey("hosts", name), "host name %q is not allowed; use letters, digits, _, - and ., starting with a letter or digit", name)
		}
		if h == nil {
			base := joinKey("hosts", name)
			c.errorf(base, "%s has no settings; give it at least ssh: user@address (or ssh: local)", base)
			continue
		}
		if h.SSH == "" {
			path := hostField(name, "ssh")
			c.errorf(path, "%s is missing; say how to reach the host: user@address[:port], an alias from your ssh config, or local", path)
		} else if _, err := ParseTarget(h.SSH); err != nil {
			path := hostField(name, "ssh")
			c.errorf(path, "%s: %v; write user@address[:port], an alias from your ssh config, or local", path, err)
		}
		// A value the host's role needs but that is not written is reported by sideHost.
		if h.Serve != "" {
			c.checkServe(name, h.Serve, serves)
		}
		if h.Postgres != "" {
			c.checkPostgres(name, h.Postgres, databases)
		} else if h.PostgresViaSSH {
			if r, used := roles[name]; !used || r.kind == "app" {
				path := hostField(name, "postgres_via_ssh")
				c.errorf(path, "%s is set, but the host has no postgres connection string to reach through SSH; remove postgres_via_ssh, or add postgres: if the host runs the database", path)
			}
		}
	}
	serves.eachShared(func(dup claim, first string) {
		path := hostField(dup.host, "serve")
		c.errorf(path, "%s %q is also the serve address of host %q; each app host needs its own address", path, dup.value, first)
	})
	databases.eachShared(func(dup claim, first string) {
		path := hostField(dup.host, "postgres")
		c.errorf(path, "%s is the same connection string as host %q's; each database host needs its own server", path, first)
	})
}

// claim is a host holding a value no other host may hold, as written.
type claim struct{ host, value string }

// claims finds values that several hosts hold. The first host by name keeps the value and every
// other one is reported against it, whatever order the hosts are added in.
type claims struct {
	first map[string]claim   // key → a host holding it (the first by name, once eachShared sorted)
	more  map[string][]claim // key → the other hosts holding it; only keys held twice
}

// newClaims returns claims with room for n keys.
func newClaims(n int) *claims {
	return &claims{first: make(map[string]claim, n)}
}

// add records that c holds key.
func (cl *claims) add(key string, c claim) {
	if _, taken := cl.first[key]; !taken {
		cl.first[key] = c
		return
	}
	if cl.more == nil {
		cl.more = map[string][]claim{}
	}
	cl.more[key] = append(cl.more[key], c)
}

// eachShared calls report for every host but the first by name of each key held by several, with
// the name of that first.
func (cl *claims) eachShared(report func(dup claim, first string)) {
	for key, more := range cl.more {
		all := append([]claim{cl.first[key]}, more...)
		slices.SortFunc(all, func(a, b claim) int { return strings.Compare(a.host, b.host) })
		for _, dup := range all[1:] {
			report(dup, all[0].host)
		}
	}
}

// checkServe checks a serve address that is written (sideHost reports one that is missing).
func (c *checker) checkServe(host, serve string, seen *claims) {
	h, p, err := net.SplitHostPort(serve)
	if err != nil || h == "" {
		path := hostField(host, "serve")
		c.errorf(path, "%s %q is not host:port; write the address nginx reaches the application at, e.g. 10.0.1.11:8080", path, serve)
		return
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		path := hostField(host, "serve")
		c.errorf(path, "%s %q has port %q; a port is a number from 1 to 65535", path, serve, p)
		return
	}
	seen.add(net.JoinHostPort(strings.ToLower(h), strconv.Itoa(port)), claim{host, serve})
}

// missingPostgres reports that host, a database host, has no connection string.
func (c *checker) missingPostgres(host string) {
	path := hostField(host, "postgres")
	c.errorf(path, "%s is missing; a database host needs a libpq connection string, e.g. postgres: postgres://pitstop@10.0.1.20:5432/shop", path)
}

// checkPostgres checks a connection string that is written (sideHost reports one that is missing).
func (c *checker) checkPostgres(host, conn string, seen *claims) {
	if blank(conn) {
		c.missingPostgres(host)
		return
	}
	if why := connStringProblem(conn); why != "" {
		path := hostField(host, "postgres")
		c.errorf(path, "%s is not a valid PostgreSQL connection string (%s); write a postgres:// URL or key=value pairs, e.g. host=10.0.1.20 user=pitstop dbname=shop", path, why)
		return
	}
	seen.add(conn, claim{host, conn})
}

// connPhrases are the reasons pgconn gives, without the values it quotes after some of them.
var connPhrases = []string{
	"failed to parse as URL", "failed to parse as keyword/value", "failed to read service",
	"invalid sslcertmode", "invalid connect_timeout", "could not match", "invalid port",
	"failed to configure TLS", "unknown target_session_attrs value", "invalid min_protocol_version",
	"invalid max_protocol_version", "min_protocol_version cannot be greater than max_protocol_version",
	"unknown channel_binding value", "invalid require_auth", "NUL",
}

// connStringProblem says why conn is not a connection string pgx accepts, or "" if it is. The
// reason is one of pgconn's fixed phrases, so it never contains the string itself or its password.
// pgconn also reads PG* environment variables, a service file if one is named, and TLS files
// (sslrootcert, sslcert, sslkey) on this machine, as it will when connecting.
func connStringProblem(conn string) string {
	_, err := pgconn.ParseConfig(conn)
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, p := range connPhrases {
		if strings.Contains(msg, p) {
			switch p {
			case "could not match":
				return "it names a different number of hosts and ports"
			case "failed to configure TLS":
				return "the TLS settings are wrong: check sslmode, and that sslrootcert, sslcert and sslkey are readable on this machine"
			case "NUL":
				return "it contains a NUL byte"
			}
			return p
		}
	}
	return "pgx cannot parse it"
}

func (c *checker) checkUpgrade() {
	u := &c.inv.Upgrade
	if blank(u.Version) {
		c.errorf("upgrade.version", "upgrade.version is missing; give the version being installed, e.g. version: \"2.4.0\"")
	}
	if len(u.Commands) == 0 {
		c.errorf("upgrade.commands", "upgrade.commands is empty; list the commands that install the new version on an app host, e.g. - sudo apt-get install -y shop={version}")
	}
	for i, cmd := range u.Commands {
		c.checkCommand(fmt.Sprintf("upgrade.commands[%d]", i), cmd, "")
	}
	for i, cmd := range u.Migrate.Commands {
		c.checkCommand(fmt.Sprintf("upgrade.migrate.commands[%d]", i), cmd, "")
	}
	if !strings.HasPrefix(u.Verify.Path, "/") {
		c.errorf("upgrade.verify.path", "upgrade.verify.path %q must start with /, e.g. /health", u.Verify.Path)
	}
}

func (c *checker) checkThresholds() {
	t := &c.inv.Thresholds
	if !(t.Success > 0 && t.Success <= 100) {
		c.errorf("thresholds.success", "thresholds.success is %v; give a percentage above 0 and at most 100, e.g. 99", t.Success)
	}
	if t.Readings < 1 {
		c.errorf("thresholds.readings", "thresholds.readings is %d; give how many readings in a row must be under max_lag, at least 1", t.Readings)
	}
	if t.MaxLag < 0 {
		c.errorf("thresholds.max_lag", "thresholds.max_lag is %d; give the replay backlog in bytes, 0 or more", t.MaxLag)
	}
	if t.Window < 0 {
		c.errorf("thresholds.window", "thresholds.window is %s; give a duration of 0 or more, e.g. 5s", t.Window)
	}
	if t.Timeout < 0 {
		c.errorf("thresholds.timeout", "thresholds.timeout is %s; give a duration of 0 or more, e.g. 10m", t.Timeout)
	}
}

// checkCommand checks one command of a list: not blank, and only known placeholders. noServe, when
// not empty, says where the command runs if that host has no serve address.
func (c *checker) checkCommand(path, cmd, noServe string) {
	if j, ok, err := ParseRundeckJob(cmd); ok {
		c.checkRundeck(path, j, err)
		return
	}
	if blank(cmd) {
		c.errorf(path, "%s is blank; write the command or remove the entry", path)
		return
	}
	for _, name := range placeholdersIn(cmd) {
		switch {
		case !isPlaceholder(name) && !c.isVar(name):
			hint := ""
			if best := closest(name, c.placeholders()); best != "" {
				hint = fmt.Sprintf(" (did you mean {%s}?)", best)
			}
			c.errorf(path, "%s uses {%s}, which is not a placeholder%s; the placeholders are {host}, {serve}, {addr}, {version}, {database_url} and the names under vars:, and a literal {%s} is written {{%s}}", path, name, hint, name, name)
		case noServe != "" && (name == "serve" || name == "addr"):
			c.errorf(path, "%s uses {%s}, but it runs on %s; use {host} or write the address", path, name, noServe)
		}
	}
}
