// Package inventory is the topology model Pitstop drives: a balancer in front of a production side and a
// backup side, their hosts, and the upgrade to apply. It is loaded from YAML and validated with
// FILE:LINE:COL errors (see load.go).
package inventory

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Side names one half of the topology.
type Side string

// The two sides of every inventory.
const (
	Production Side = "production"
	Backup     Side = "backup"
)

// Other returns the side that is not s.
func (s Side) Other() Side {
	if s == Production {
		return Backup
	}
	return Production
}

// Inventory is one application's topology and upgrade, as loaded from a file.
type Inventory struct {
	Name        string           `yaml:"name"`
	Probe       Probe            `yaml:"probe"`
	Balancer    Balancer         `yaml:"balancer"`
	Hosts       map[string]*Host `yaml:"hosts"`
	Sides       Sides            `yaml:"sides"`
	Upgrade     Upgrade          `yaml:"upgrade"`
	Thresholds  Thresholds       `yaml:"thresholds"`
	ReverseSync ReverseSync      `yaml:"reverse_sync"`
	// Rundeck is where upgrade or migrate commands written as Rundeck jobs run (see RundeckJob).
	Rundeck RundeckConfig `yaml:"rundeck"`
	// Rehearsal is where `pitstop rehearse` tries the migration on a copy (rehearsal.go).
	Rehearsal Rehearsal `yaml:"rehearsal"`
	// SSHConfig is an ssh_config file used instead of ~/.ssh/config (relative to the inventory file).
	SSHConfig string `yaml:"ssh_config"`
	// Vars are the operator's own placeholders: {name} in any command becomes the value, which
	// --set name=value may override for one run (see params.go).
	Vars map[string]string `yaml:"vars"`

	// Source is the file the inventory was read from ("demo" for the built-in one).
	Source string `yaml:"-"`
}

// Probe says how users reach the application through the balancer.
type Probe struct {
	// URL is fetched through the balancer, as a user would, at Rate requests per second.
	URL string `yaml:"url"`
	// WriteURL, when set, receives a small POST every WriteEvery so refused writes can be counted.
	WriteURL   string        `yaml:"write_url"`
	WriteEvery time.Duration `yaml:"write_every"`
	Rate       int           `yaml:"rate"`
	// UpstreamHeader names the response header carrying nginx's $upstream_addr.
	UpstreamHeader string `yaml:"upstream_header"`
	// VersionHeader names the response header carrying the application's version.
	VersionHeader string `yaml:"version_header"`
	// Timeout bounds one probe request.
	Timeout time.Duration `yaml:"timeout"`
	// Refused narrows which answers to a probe write count as refused (the database is read-only)
	// rather than failed; by default any 503 does.
	Refused Refused `yaml:"refused"`
}

// Balancer is the nginx host and the upstream file Pitstop rewrites.
type Balancer struct {
	Host string `yaml:"host"`
	// Hosts lists several balancers switched together, all or nothing (an active/passive pair, DNS
	// round-robin); each has the same upstream file, test and reload. Host is then Hosts[0].
	Hosts    []string `yaml:"hosts"`
	Upstream string   `yaml:"upstream"`
	File     string   `yaml:"file"`
	Test     string   `yaml:"test"`
	Reload   string   `yaml:"reload"`
	PidFile  string   `yaml:"pid_file"`
	// OldWorkers says what a switch does about nginx's workers from before its reload: "quit" (the
	// default) sends each the graceful-shutdown signal (QUIT) once the new workers run, as nginx's master
	// does itself 100 ms later; "wait" leaves it to the master. See docs/nginx.md.
	OldWorkers string `yaml:"old_workers"`
}

// Values of Balancer.OldWorkers.
const (
	OldWorkersQuit = "quit"
	OldWorkersWait = "wait"
)

// Host is one machine (or one loopback identity in the lab) and how to reach it.
type Host struct {
	// Name is the key the host has in the inventory's hosts map.
	Name string `yaml:"-"`
	// SSH is "user@host[:port]", an ~/.ssh/config alias, or "local" to run commands on this machine.
	SSH string `yaml:"ssh"`
	// Serve is the host:port the application listens on (app hosts only).
	Serve string `yaml:"serve"`
	// Postgres is the libpq connection string of the database on this host (database hosts only).
	Postgres string `yaml:"postgres"`
	// PostgresViaSSH opens the database connections through the host's SSH connection: the
	// connection string's address is then resolved and reached on the host itself.
	PostgresViaSSH bool `yaml:"postgres_via_ssh"`
	// ServerParams are the nginx parameters of this app host's server line in the upstream block,
	// e.g. "weight=3 max_fails=2 fail_timeout=10s" or "backup" (app hosts only).
	ServerParams string `yaml:"server_params"`
}

// Sides holds the two sides.
type Sides struct {
	Production SideSpec `yaml:"production"`
	Backup     SideSpec `yaml:"backup"`
}

// Get returns the spec of side s.
func (s *Sides) Get(side Side) *SideSpec {
	if side == Backup {
		return &s.Backup
	}
	return &s.Production
}

// SideSpec lists a side's app hosts, its database host and optional extra read-only replicas.
type SideSpec struct {
	Apps     []string `yaml:"apps"`
	Database string   `yaml:"database"`
	Replicas []string `yaml:"replicas"`
}

// Upgrade is what gets applied to every app host, and how success is checked.
type Upgrade struct {
	Version string `yaml:"version"`
	// OneAtATime runs the upgrade commands on one app host after another instead of in parallel.
	OneAtATime bool        `yaml:"one_at_a_time"`
	Commands   CommandList `yaml:"commands"`
	Migrate    Migrate     `yaml:"migrate"`
	Verify     Verify      `yaml:"verify"`
}

// Migrate is the schema migration, run once on one host of the side being upgraded.
type Migrate struct {
	Commands CommandList `yaml:"commands"`
}

// Verify is how one app host is checked directly, bypassing the balancer.
type Verify struct {
	Path string `yaml:"path"`
	// Version is the version the host must report; it defaults to the upgrade's version. Written
	// as version: "" it turns the version check off: the health status alone is checked (HealthOnly).
	Version string `yaml:"version"`
	// The version is read from exactly one of: Header (a response header, default probe.version_header),
	// JSON (a dotted path into the JSON body, e.g. release or build.version) or Body (a regular
	// expression with one group, matched against the body).
	Header string `yaml:"header"`
	JSON   string `yaml:"json"`
	Body   string `yaml:"body"`

	// HealthOnly is set when version: "" was written: no version is compared.
	HealthOnly bool `yaml:"-"`
	// fromUpgrade is set when Version was filled from upgrade.version, so --set version follows.
	fromUpgrade bool
}

// ReverseSync configures the reverse-sync plan.
type ReverseSync struct {
	// Rebuild re-creates the backup database as a streaming standby of production (run on the backup
	// database host), e.g. stop, pg_basebackup -R, start.
	Rebuild []string `yaml:"rebuild"`
}

// Thresholds tune the gates' live conditions.
type Thresholds struct {
	// MaxLag is the replay backlog, in bytes, below which a standby counts as caught up.
	MaxLag int64 `yaml:"max_lag"`
	// Readings is how many consecutive readings must be under MaxLag.
	Readings int `yaml:"readings"`
	// Success is the minimum probe success, in percent, over Window.
	Success float64       `yaml:"success"`
	Window  time.Duration `yaml:"window"`
	// Timeout bounds how long a gate waits for its conditions before the step fails.
	Timeout time.Duration `yaml:"timeout"`
	// MaxWindow fails a rehearsal whose predicted write-refusal window is longer (0: no limit).
	MaxWindow time.Duration `yaml:"max_window"`
}

// Defaults fills every optional field left empty.
func (inv *Inventory) Defaults() {
	p := &inv.Probe
	if p.Rate == 0 {
		p.Rate = 20
	}
	if p.UpstreamHeader == "" {
		p.UpstreamHeader = "X-Upstream"
	}
	if p.VersionHeader == "" {
		p.VersionHeader = "X-App-Version"
	}
	if p.Timeout == 0 {
		p.Timeout = 2 * time.Second
	}
	if p.WriteURL != "" && p.WriteEvery == 0 {
		p.WriteEvery = time.Second
	}
	b := &inv.Balancer
	if b.Test == "" {
		b.Test = "nginx -t"
	}
	if b.Reload == "" {
		b.Reload = "nginx -s reload"
	}
	if b.PidFile == "" {
		b.PidFile = "/run/nginx.pid"
	}
	if b.OldWorkers == "" {
		b.OldWorkers = OldWorkersQuit
	}
	if inv.Upgrade.Verify.Path == "" {
		inv.Upgrade.Verify.Path = "/health"
	}
	v := &inv.Upgrade.Verify
	if v.Version == "" && !v.HealthOnly {
		v.Version, v.fromUpgrade = inv.Upgrade.Version, true
	}
	if v.Header == "" && v.JSON == "" && v.Body == "" {
		v.Header = p.VersionHeader
	}
	if len(b.Hosts) == 0 && b.Host != "" {
		b.Hosts = []string{b.Host}
	} else if b.Host == "" && len(b.Hosts) > 0 {
		b.Host = b.Hosts[0]
	}
	t := &inv.Thresholds
	if t.MaxLag == 0 {
		t.MaxLag = 64 << 10
	}
	if t.Readings == 0 {
		t.Readings = 5
	}
	if t.Success == 0 {
		t.Success = 99
	}
	if t.Window == 0 {
		t.Window = 5 * time.Second
	}
	if t.Timeout == 0 {
		t.Timeout = 10 * time.Minute
	}
	for name, h := range inv.Hosts {
		if h != nil {
			h.Name = name
		}
	}
	inv.rehearsalDefaults()
}

// Host returns the named host, or nil.
func (inv *Inventory) Host(name string) *Host {
	return inv.Hosts[name]
}

// HostNames returns every host name, sorted.
func (inv *Inventory) HostNames() []string {
	names := make([]string, 0, len(inv.Hosts))
	for n := range inv.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Standbys returns the database hosts that stream from production's primary: the backup's database
// first, then every replica of both sides.
func (inv *Inventory) Standbys() []string {
	out := []string{}
	if inv.Sides.Backup.Database != "" {
		out = append(out, inv.Sides.Backup.Database)
	}
	out = append(out, inv.Sides.Production.Replicas...)
	out = append(out, inv.Sides.Backup.Replicas...)
	return out
}

// SideOf reports which side lists host (as an app, database or replica), or "" if none.
func (inv *Inventory) SideOf(host string) Side {
	for _, side := range []Side{Production, Backup} {
		s := inv.Sides.Get(side)
		if s.Database == host || contains(s.Apps, host) || contains(s.Replicas, host) {
			return side
		}
	}
	return ""
}

// SideOfAddr reports which side has an app serving on addr (host:port), or "" if none.
func (inv *Inventory) SideOfAddr(addr string) Side {
	for _, side := range []Side{Production, Backup} {
		for _, app := range inv.Sides.Get(side).Apps {
			if h := inv.Hosts[app]; h != nil && h.Serve == addr {
				return side
			}
		}
	}
	return ""
}

// Upstream renders the nginx upstream block that sends traffic to side's app hosts: the content of
// a new upstream file. A switch keeps the file as it is and rewrites its server lines
// (RewriteUpstream).
func (inv *Inventory) Upstream(side Side) string {
	b := inv.appendUpstreamHead(nil)
	for _, app := range inv.Sides.Get(side).Apps {
		if h := inv.Hosts[app]; h != nil {
			b = appendUpstreamServer(b, h, app)
		}
	}
	return string(appendUpstreamTail(b))
}

// appendUpstreamHead appends what Upstream writes before the server lines. The comment names no
// side: a switch rewrites only the server lines, so it must stay true.
func (inv *Inventory) appendUpstreamHead(b []byte) []byte {
	b = append(b, "# Pitstop switches this upstream between the sides by rewriting its server lines only.\n"...)
	return append(append(append(b, "upstream "...), inv.Balancer.Upstream...), " {\n"...)
}

// appendUpstreamServer appends the server line Upstream writes for app host h, named app.
func appendUpstreamServer(b []byte, h *Host, app string) []byte {
	return append(appendServerLine(append(b, "    "...), h.Serve, strings.Fields(h.ServerParams), app), '\n')
}

// appendUpstreamTail appends what Upstream writes after the server lines.
func appendUpstreamTail(b []byte) []byte { return append(b, "}\n"...) }

// Target is a parsed ssh field.
type Target struct {
	Local bool
	User  string
	Host  string
	// Port is 0 when the inventory did not name one (ssh_config or 22 decides).
	Port int
}

// String gives the target back in the inventory's syntax.
func (t Target) String() string {
	if t.Local {
		return "local"
	}
	s := t.Host
	if strings.Contains(s, ":") {
		s = "[" + s + "]"
	}
	if t.User != "" {
		s = t.User + "@" + s
	}
	if t.Port != 0 {
		s += ":" + strconv.Itoa(t.Port)
	}
	return s
}

// ParseTarget parses "local", "host", "user@host", "user@host:port" or "user@[v6addr]:port".
func ParseTarget(s string) (Target, error) {
	if s == "local" {
		return Target{Local: true}, nil
	}
	if s == "" {
		return Target{}, fmt.Errorf("empty ssh target")
	}
	var t Target
	rest := s
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		t.User, rest = rest[:i], rest[i+1:]
		if t.User == "" {
			return Target{}, fmt.Errorf("ssh target %q has an empty user before @", s)
		}
		if strings.Contains(t.User, ":") {
			// user:password@host: the target is not quoted back, it may hold a password.
			return Target{}, fmt.Errorf("ssh target %s@%s has a ':' in its user part; write user@host (Pitstop never takes a password there: use a key or ssh-agent)", "…", rest)
		}
		if strings.ContainsAny(t.User, "@/") || strings.HasPrefix(t.User, "-") || hasSpaceOrControl(t.User) {
			return Target{}, fmt.Errorf("ssh target %q has an invalid user %q", s, t.User)
		}
	}
	host := rest
	if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
		// A bracketed IPv6 address without a port, as String writes it.
		host = rest[1 : len(rest)-1]
	} else if strings.HasPrefix(rest, "[") || strings.Count(rest, ":") == 1 {
		h, p, err := net.SplitHostPort(rest)
		if err != nil {
			return Target{}, fmt.Errorf("ssh target %q: %v", s, err)
		}
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return Target{}, fmt.Errorf("ssh target %q has port %q; a port is a number from 1 to 65535", s, p)
		}
		host, t.Port = h, port
	}
	if host == "" {
		return Target{}, fmt.Errorf("ssh target %q has no host", s)
	}
	if strings.ContainsAny(host, "/@[]") || strings.HasPrefix(host, "-") || hasSpaceOrControl(host) {
		return Target{}, fmt.Errorf("ssh target %q has an invalid host %q", s, host)
	}
	t.Host = host
	return t, nil
}

// hasSpaceOrControl reports whether s holds white space or a control character, which no user or
// host name may contain.
func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
