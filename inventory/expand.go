package inventory

import (
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/pitstop-ops/pitstop/internal/shell"
)

// Placeholders in commands. A placeholder is {name}, name made of letters and _. Known ones are
// replaced, each value shell-quoted:
//
//	{host}     the host's name in the inventory
//	{serve}    its serve address (host:port), '' when it has none
//	{addr}     the host part of serve, '' when it has none
//	{version}  upgrade.version
//	{database_url}  the database commands work on: production's primary (its postgres: string);
//	                a rehearsal's copy in `pitstop rehearse`
//	{NAME}     the value of NAME under vars: (--set NAME=VALUE overrides it for one run)
//
// Braces that are not placeholders pass through: ${VAR} (a $ right before the brace), {} and
// {print $1} (no letters-only name inside). {{name}} is the escape for a literal {name}, as in
// awk '{{print}}'. Validation rejects any other {name} as a likely typo.

// placeholderRE matches, leftmost first: an escaped {{name}} or a {name}, either possibly after $.
var placeholderRE = regexp.MustCompile(`\$?\{\{[A-Za-z_]+\}\}|\$?\{[A-Za-z_]+\}`)

// placeholderNames are the known placeholders, sorted.
var placeholderNames = []string{"addr", "database_url", "host", "serve", "version"}

func isPlaceholder(name string) bool {
	_, found := slices.BinarySearch(placeholderNames, name)
	return found
}

// Expand replaces the placeholders in cmd with the values for host, each shell-quoted, and turns
// {{name}} into {name}. Unknown placeholders are left as written (validation rejects them). In a
// Rundeck job (see RundeckJob) the options and the filter get the values unquoted.
func (inv *Inventory) Expand(cmd, host string) string {
	if j, ok, err := ParseRundeckJob(cmd); ok && err == nil {
		return inv.expandRundeck(j, host)
	}
	return inv.expand(cmd, host, inv.DatabaseURL(), shell.Quote)
}

// expand is Expand with {database_url} set to dbURL and quote applied to each value.
func (inv *Inventory) expand(cmd, host, dbURL string, quote func(string) string) string {
	var serve, addr string
	if h := inv.Hosts[host]; h != nil {
		serve = h.Serve
		if a, _, err := net.SplitHostPort(serve); err == nil {
			addr = a
		}
	}
	return placeholderRE.ReplaceAllStringFunc(cmd, func(m string) string {
		switch {
		case strings.HasPrefix(m, "$"):
			return m
		case strings.HasPrefix(m, "{{"):
			return m[1 : len(m)-1]
		}
		switch m[1 : len(m)-1] {
		case "host":
			return quote(host)
		case "serve":
			return quote(serve)
		case "addr":
			return quote(addr)
		case "version":
			return quote(inv.Upgrade.Version)
		case "database_url":
			return quote(dbURL)
		}
		if v, ok := inv.Vars[m[1:len(m)-1]]; ok {
			return shell.Quote(v)
		}
		return m
	})
}

func (c *checker) isVar(name string) bool {
	_, ok := c.inv.Vars[name]
	return ok && varName.MatchString(name)
}

// placeholders lists every name a command may use: the built-in ones and the vars.
func (c *checker) placeholders() []string {
	out := slices.Clone(placeholderNames)
	for n := range c.inv.Vars {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// placeholdersIn lists the names of the placeholders cmd uses, escaped and $-prefixed ones excluded.
func placeholdersIn(cmd string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllString(cmd, -1) {
		if strings.HasPrefix(m, "$") || strings.HasPrefix(m, "{{") {
			continue
		}
		out = append(out, m[1:len(m)-1])
	}
	return out
}
