package inventory

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Refused says which answers to a probe write mean "refused on purpose" (the database is read-only
// for the upgrade) rather than "failed". With nothing set, any 503 is a refusal.
type Refused struct {
	// Status lists the HTTP statuses that count (default [503]).
	Status []int `yaml:"status"`
	// Body, when set, is a regular expression the start of the answer's body must match too,
	// e.g. "read.only".
	Body string `yaml:"body"`
}

// Statuses returns the statuses that count as a refusal.
func (r Refused) Statuses() []int {
	if len(r.Status) == 0 {
		return []int{503}
	}
	return r.Status
}

// VersionSource names where upgrade.verify reads the version, e.g. "header X-App-Version",
// "json release", "body /v(\d+)/", or "" when only the health status is checked.
func (v Verify) VersionSource() string {
	switch {
	case v.HealthOnly:
		return ""
	case v.JSON != "":
		return "json " + v.JSON
	case v.Body != "":
		return "body /" + v.Body + "/"
	}
	return "header " + v.Header
}

// Set overrides one run parameter, as --set name=value does: "version" is upgrade.version (and
// upgrade.verify.version when it follows it), any other name must be one of vars. An unknown name is
// an error that suggests the closest known one.
func (inv *Inventory) Set(name, value string) error {
	if name == "version" {
		if blank(value) {
			return fmt.Errorf("--set version=: the version is empty; give the version being installed, e.g. --set version=5.2.0")
		}
		inv.Upgrade.Version = value
		if inv.Upgrade.Verify.fromUpgrade {
			inv.Upgrade.Verify.Version = value
		}
		return nil
	}
	if _, ok := inv.Vars[name]; ok {
		inv.Vars[name] = value
		return nil
	}
	known := append([]string{"version"}, slices.Sorted(maps.Keys(inv.Vars))...)
	msg := fmt.Sprintf("--set %s=…: %q is not a run parameter", name, name)
	if best := closest(name, known); best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	return fmt.Errorf("%s (settable: %s; add other names under vars: in %s)", msg, strings.Join(known, ", "), inv.Source)
}

// healthOnlyWritten reports whether the file says upgrade.verify.version: "" (or leaves it null):
// the version check is off.
func (sh *shape) healthOnlyWritten() bool {
	_, n, whole := sh.lookup("upgrade.verify.version")
	if !whole {
		return false
	}
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	return n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "")
}

// varName is what a vars: key may be: a placeholder name, letters and _.
var varName = regexp.MustCompile(`^[A-Za-z_]+$`)

// checkParams checks the fields this file adds: the version source, refusals, vars, server
// parameters and several balancers.
func (c *checker) checkParams() {
	v := &c.inv.Upgrade.Verify
	set := 0
	for _, s := range []string{v.JSON, v.Body} {
		if s != "" {
			set++
		}
	}
	if set > 0 && c.written("upgrade.verify.header") {
		set++
	}
	if set > 1 {
		c.errorf("upgrade.verify", "upgrade.verify names more than one version source; keep exactly one of header:, json: or body: (or version: \"\" for the health status only)")
	}
	if v.Header != "" && !headerName.MatchString(v.Header) {
		c.errorf("upgrade.verify.header", "upgrade.verify.header %q is not an HTTP header name; use letters, digits and -, e.g. X-App-Version", v.Header)
	}
	if v.JSON != "" {
		for _, part := range strings.Split(v.JSON, ".") {
			if part == "" {
				c.errorf("upgrade.verify.json", "upgrade.verify.json %q has an empty part; write a dotted path into the JSON body, e.g. release or build.version", v.JSON)
				break
			}
		}
	}
	if v.Body != "" {
		if re, err := regexp.Compile(v.Body); err != nil {
			c.errorf("upgrade.verify.body", "upgrade.verify.body is not a regular expression (%v); write one with one group around the version, e.g. 'version (\\S+)'", err)
		} else if re.NumSubexp() != 1 {
			c.errorf("upgrade.verify.body", "upgrade.verify.body has %d groups; give exactly one, around the version, e.g. 'version (\\S+)'", re.NumSubexp())
		}
	}
	r := &c.inv.Probe.Refused
	for i, st := range r.Status {
		if st < 100 || st > 599 {
			c.errorf(fmt.Sprintf("probe.refused.status[%d]", i), "probe.refused.status lists %d; give HTTP statuses from 100 to 599, e.g. [503]", st)
		}
	}
	if r.Body != "" {
		if _, err := regexp.Compile(r.Body); err != nil {
			c.errorf("probe.refused.body", "probe.refused.body is not a regular expression (%v); e.g. 'read.only'", err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.inv.Vars)) {
		path := joinKey("vars", name)
		switch {
		case !varName.MatchString(name):
			c.errorf(path, "vars name %q is not a placeholder name; use letters and _ only, e.g. channel", name)
		case isPlaceholder(name):
			c.errorf(path, "vars name %q is a built-in placeholder; choose another name ({host}, {serve}, {addr} and {version} are Pitstop's)", name)
		}
	}
	for name, h := range c.inv.Hosts { // in map order: each message stands alone, sortErrors orders them
		if h == nil || h.ServerParams == "" {
			continue
		}
		path := joinKey("hosts", name) + ".server_params"
		if h.Serve == "" {
			c.errorf(path, "%s is set, but the host has no serve address: only app hosts have a server line in the upstream", path)
		}
		for _, p := range strings.Fields(h.ServerParams) {
			if why := serverParamProblem(p); why != "" {
				c.errorf(path, "%s: %q %s; use weight=N, max_fails=N, fail_timeout=TIME, max_conns=N, slow_start=TIME or backup", path, p, why)
			}
		}
	}
	b := &c.inv.Balancer
	if c.written("balancer.hosts") && c.written("balancer.host") {
		c.errorf("balancer.hosts", "balancer has both host: and hosts:; keep hosts: [lb1, lb2] for several balancers, or host: for one")
	}
	seen := map[string]bool{}
	for i, h := range b.Hosts {
		if !c.written("balancer.hosts") && (c.shape != nil || len(b.Hosts) == 1) {
			break // one balancer, written as host: and checked there
		}
		path := fmt.Sprintf("balancer.hosts[%d]", i)
		switch {
		case blank(h):
			c.errorf(path, "%s is blank; name a balancer host from hosts:", path)
		case !c.hasHostKey(h):
			c.errorf(path, "%s names host %q, which is not in hosts; add it under hosts: or fix the name", path, h)
		case seen[h]:
			c.errorf(path, "%s names %q a second time; list each balancer once", path, h)
		}
		seen[h] = true
	}
}

// written reports whether path is written in the file (always false for an inventory built in code).
func (c *checker) written(path string) bool {
	if c.shape == nil {
		return false
	}
	_, _, whole := c.shape.lookup(path)
	return whole
}

// serverParamProblem says what is wrong with one nginx server parameter, or "".
func serverParamProblem(p string) string {
	name, val, hasVal := strings.Cut(p, "=")
	switch name {
	case "backup", "resolve", "down":
		if hasVal {
			return "takes no value"
		}
		if name == "down" {
			return "would take the host out of the upstream; leave it out"
		}
		return ""
	case "weight", "max_fails", "max_conns":
		if n, err := strconv.Atoi(val); err != nil || n < 0 || (name == "weight" && n < 1) {
			return "needs a whole number"
		}
		return ""
	case "fail_timeout", "slow_start":
		if !nginxTime.MatchString(val) {
			return "needs an nginx time such as 10s or 1m"
		}
		return ""
	case "route", "service":
		if val == "" {
			return "needs a value"
		}
		return ""
	}
	return "is not an nginx server parameter"
}

var nginxTime = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|M|y)?)+$`)
