package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"

	"github.com/pitstop-ops/pitstop/inventory"
)

// maxJumps bounds a ProxyJump chain, which also stops configurations whose jumps loop.
const maxJumps = 5

// endpoint is one SSH server to log in to, with everything ssh_config said about it.
type endpoint struct {
	// spec is how the endpoint was named: the inventory's ssh field, or one element of a ProxyJump.
	spec string
	// alias is the name looked up in ssh_config (the host part of spec).
	alias    string
	user     string
	hostname string
	port     int
	// identityFiles are the IdentityFile keys from ssh_config; when there are none the default key files
	// are tried (defaultKeys is true).
	identityFiles  []string
	defaultKeys    bool
	identitiesOnly bool
	// agentSocket is the ssh-agent socket ("" = none).
	agentSocket    string
	knownHosts     []string
	connectTimeout time.Duration
	// aliveInterval is how often a keepalive is sent (0 = never); aliveCountMax unanswered ones drop the connection.
	aliveInterval time.Duration
	aliveCountMax int
	// jump is the bastion this endpoint is reached through, or nil for a direct connection.
	jump *endpoint
	// configFile is the ssh_config to pass to ssh with -F in advice, or "" for the default one.
	configFile string
}

// addr is the host:port dialed and looked up in known_hosts.
func (e *endpoint) addr() string {
	return net.JoinHostPort(e.hostname, strconv.Itoa(e.port))
}

// String describes the endpoint for error messages: "root@10.0.0.5:22", with the alias when ssh_config
// mapped it elsewhere and the bastions it is reached through.
func (e *endpoint) String() string {
	s := e.user + "@" + e.addr()
	if e.alias != e.hostname {
		s = "alias " + e.alias + " = " + s
	}
	for j := e.jump; j != nil; j = j.jump {
		s += " via " + j.user + "@" + j.addr()
	}
	return s
}

// sshConfig is a decoded ssh_config file.
type sshConfig struct {
	file string
	// explicit is true when the file was named (not the default ~/.ssh/config); advice to run ssh then
	// adds -F file.
	explicit bool
	cfg      *ssh_config.Config
}

// loadSSHConfig decodes the ssh_config file Pitstop uses: the inventory's ssh_config (relative to the
// inventory file), else Options.ConfigFile, else ~/.ssh/config. The default file may be missing; a
// file that was named explicitly must exist.
func loadSSHConfig(inv *inventory.Inventory, opt Options) (*sshConfig, error) {
	file, explicit, origin := filepath.Join(opt.Home, ".ssh", "config"), false, ""
	if opt.ConfigFile != "" {
		file, explicit, origin = opt.ConfigFile, true, "the ssh config option"
	}
	if inv != nil && inv.SSHConfig != "" {
		file, explicit, origin = inv.SSHConfig, true, "the ssh_config field of inventory "+inv.Source
		if !filepath.IsAbs(file) && inv.Source != "" && inv.Source != "demo" {
			file = filepath.Join(filepath.Dir(inv.Source), file)
		}
	}
	file = expandHome(file, opt.Home)
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return &sshConfig{file: file, cfg: &ssh_config.Config{}}, nil
	}
	if err != nil {
		if explicit {
			return nil, fmt.Errorf("open ssh_config %s (named by %s): %w; fix the path or create the file", file, origin, err)
		}
		return nil, fmt.Errorf("open ssh_config %s: %w", file, err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("parse ssh_config %s: %w; fix the file (ssh -G -F %s HOST shows how OpenSSH reads it)", file, err, file)
	}
	return &sshConfig{file: file, explicit: explicit, cfg: cfg}, nil
}

func (c *sshConfig) get(alias, key string) (string, error) {
	v, err := c.cfg.Get(alias, key)
	if err != nil {
		return "", fmt.Errorf("ssh_config %s: reading %s for host %s: %w", c.file, key, alias, err)
	}
	return v, nil
}

// resolver turns ssh targets into endpoints using one ssh_config.
type resolver struct {
	cfg       *sshConfig
	opt       Options
	localUser string
}

func newResolver(cfg *sshConfig, opt Options) *resolver {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return &resolver{cfg: cfg, opt: opt, localUser: name}
}

// resolve reads ssh_config for target t (named spec) and for the bastions it goes through. User and
// port given in the target win over ssh_config.
func (r *resolver) resolve(spec string, t inventory.Target, depth int) (*endpoint, error) {
	if depth > maxJumps {
		return nil, fmt.Errorf("ProxyJump chain through %s is longer than %d hops (or loops); check ProxyJump in %s", spec, maxJumps, r.cfg.file)
	}
	get := func(key string) string {
		v, err := r.cfg.get(t.Host, key)
		if err != nil {
			return "" // only an invalid conditional Include gets here; the value is treated as unset
		}
		return v
	}
	e := &endpoint{spec: spec, alias: t.Host, user: t.User, port: t.Port}
	if r.cfg.explicit {
		e.configFile = r.cfg.file
	}
	e.hostname = t.Host
	if h := get("HostName"); h != "" {
		e.hostname = strings.ReplaceAll(strings.ReplaceAll(h, "%h", t.Host), "%%", "%")
	}
	if e.user == "" {
		e.user = get("User")
	}
	if e.user == "" {
		e.user = r.localUser
	}
	if e.port == 0 {
		if p := get("Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("ssh_config %s: Port %q for host %s is not a port number (1-65535)", r.cfg.file, p, t.Host)
			}
			e.port = n
		} else {
			e.port = 22
		}
	}
	if pc := get("ProxyCommand"); pc != "" && !strings.EqualFold(pc, "none") {
		return nil, fmt.Errorf("ssh_config %s sets ProxyCommand for host %s, which Pitstop does not support; use ProxyJump instead", r.cfg.file, t.Host)
	}

	files, err := r.cfg.cfg.GetAll(t.Host, "IdentityFile")
	if err != nil {
		return nil, fmt.Errorf("ssh_config %s: reading IdentityFile for host %s: %w", r.cfg.file, t.Host, err)
	}
	for _, f := range files {
		if strings.EqualFold(f, "none") {
			continue
		}
		e.identityFiles = append(e.identityFiles, r.expand(f, e))
	}
	e.defaultKeys = len(files) == 0
	e.identitiesOnly = strings.EqualFold(get("IdentitiesOnly"), "yes")

	e.agentSocket = os.Getenv("SSH_AUTH_SOCK")
	switch a := get("IdentityAgent"); {
	case a == "":
	case strings.EqualFold(a, "none"):
		e.agentSocket = ""
	case a == "SSH_AUTH_SOCK":
	case strings.HasPrefix(a, "$"):
		e.agentSocket = os.Getenv(strings.Trim(a[1:], "{}"))
	default:
		e.agentSocket = r.expand(a, e)
	}

	e.knownHosts = r.opt.KnownHosts
	if len(e.knownHosts) == 0 {
		for _, f := range strings.Fields(get("UserKnownHostsFile")) {
			e.knownHosts = append(e.knownHosts, r.expand(f, e))
		}
	}
	if len(e.knownHosts) == 0 {
		e.knownHosts = []string{filepath.Join(r.opt.Home, ".ssh", "known_hosts")}
	}

	e.connectTimeout = r.opt.ConnectTimeout
	if e.connectTimeout == 0 {
		e.connectTimeout = 10 * time.Second
		if s := get("ConnectTimeout"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("ssh_config %s: ConnectTimeout %q for host %s is not a number of seconds", r.cfg.file, s, t.Host)
			}
			if n > 0 {
				e.connectTimeout = time.Duration(n) * time.Second
			}
		}
	}
	e.aliveInterval, e.aliveCountMax = 15*time.Second, 3
	if s := get("ServerAliveInterval"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("ssh_config %s: ServerAliveInterval %q for host %s is not a number of seconds", r.cfg.file, s, t.Host)
		}
		e.aliveInterval = time.Duration(n) * time.Second
	}
	if s := get("ServerAliveCountMax"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("ssh_config %s: ServerAliveCountMax %q for host %s is not a positive number", r.cfg.file, s, t.Host)
		}
		e.aliveCountMax = n
	}

	if pj := get("ProxyJump"); pj != "" && !strings.EqualFold(pj, "none") {
		e.jump, err = r.resolveJumps(t.Host, strings.Split(pj, ","), depth)
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

// resolveJumps resolves a ProxyJump list "a,b": the last element is the bastion next to the target, and
// each earlier one is the bastion in front of the next.
func (r *resolver) resolveJumps(alias string, hops []string, depth int) (*endpoint, error) {
	last := strings.TrimSpace(hops[len(hops)-1])
	last = strings.TrimPrefix(last, "ssh://")
	t, err := inventory.ParseTarget(last)
	if err != nil || t.Local {
		return nil, fmt.Errorf("ssh_config %s: ProxyJump %q for host %s is not [user@]host[:port]", r.cfg.file, last, alias)
	}
	if len(hops) == 1 {
		return r.resolve(last, t, depth+1)
	}
	// Like OpenSSH, an explicit list decides the route: the bastion's own ProxyJump is not consulted.
	e, err := r.resolve(last, t, depth+1)
	if err != nil {
		return nil, err
	}
	e.jump, err = r.resolveJumps(alias, hops[:len(hops)-1], depth+1)
	return e, err
}

// expand replaces ~ and the ssh_config tokens %d (local home), %u (local user), %h (host name),
// %p (port), %r (remote user), %n (alias) and %%.
func (r *resolver) expand(s string, e *endpoint) string {
	s = expandHome(s, r.opt.Home)
	if !strings.Contains(s, "%") {
		return s
	}
	return strings.NewReplacer(
		"%%", "%", "%d", r.opt.Home, "%u", r.localUser, "%h", e.hostname,
		"%p", strconv.Itoa(e.port), "%r", e.user, "%n", e.alias,
	).Replace(s)
}

// expandHome replaces a leading ~ or ~/ with home.
func expandHome(path, home string) string {
	if path == "~" {
		return home
	}
	if strings.HasPrefix(path, "~/") {
		return filepath.Join(home, path[2:])
	}
	return path
}

// tildePath shows path relative to home as ~/..., the way a user would type it.
func tildePath(path, home string) string {
	if home != "" {
		if rel, err := filepath.Rel(home, path); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
			return "~/" + rel
		}
	}
	return path
}
