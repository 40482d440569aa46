package importer

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Value is one value of a draft inventory: found in a source (Note says where), or a TODO the
// operator fills in (Note says what goes there). `pitstop plan` reports every TODO left by line.
type Value struct {
	V    string
	Note string
	TODO bool
}

// Found is a value read from a source; note says where from.
func Found(v, note string) Value { return Value{V: v, Note: note} }

// TODO is a value nobody could read; hint says what to write.
func TODO(hint string) Value { return Value{V: "TODO: " + hint, TODO: true} }

// Default is a value left at Pitstop's default, shown so the operator sees it.
func Default(v, note string) Value { return Value{V: v, Note: note} }

// DraftHost is one host of a draft.
type DraftHost struct {
	Name string
	// Note is a comment written above the host (where it comes from, its tags).
	Note     string
	SSH      Value
	Serve    *Value
	Postgres *Value
}

// DraftSide is one side of a draft; an empty Apps or Database becomes a TODO.
type DraftSide struct {
	Apps     []Value
	Database Value
	Replicas []Value
}

// Draft is an inventory being written: every value found, every other one a TODO.
type Draft struct {
	Header                                              []string
	Name, ProbeURL, SSHConfig                           Value
	BalancerHost, Upstream, File, Test, Reload, PidFile Value
	Hosts                                               []DraftHost
	Production, Backup                                  DraftSide
	Version                                             Value
	Commands, Migrate                                   []Value
}

// NewDraft returns a draft with every field a TODO but those Pitstop has defaults for.
func NewDraft() *Draft {
	return &Draft{
		Name:         TODO("the application's name, e.g. shop"),
		ProbeURL:     TODO("the URL users reach the application at through the balancer, e.g. http://shop.example.com/"),
		BalancerHost: TODO("the nginx host, one of the hosts below"),
		Upstream:     TODO("the name of the nginx upstream that proxy_pass uses, e.g. shop_backend"),
		File:         TODO("the absolute path of the file holding that upstream block on the balancer, e.g. /etc/nginx/conf.d/shop-upstream.conf"),
		Version:      TODO("the version being installed, e.g. 2.4.0"),
		Commands:     []Value{TODO("the commands that install the new version on one app host (placeholders: host, serve, addr, version in braces)")},
	}
}

// TODOs counts the values left to fill in.
func (d *Draft) TODOs() int {
	n := 0
	count := func(vs ...Value) {
		for _, v := range vs {
			if v.TODO {
				n++
			}
		}
	}
	count(d.Name, d.ProbeURL, d.BalancerHost, d.Upstream, d.File, d.Test, d.Reload, d.PidFile, d.Version)
	count(d.Commands...)
	count(d.Migrate...)
	for _, h := range d.Hosts {
		count(h.SSH)
		if h.Serve != nil {
			count(*h.Serve)
		}
		if h.Postgres != nil {
			count(*h.Postgres)
		}
	}
	for _, s := range []DraftSide{d.Production, d.Backup} {
		count(s.Apps...)
		count(s.Database)
		count(s.Replicas...)
	}
	return n
}

// quote writes s as a YAML double-quoted scalar (JSON's string syntax is valid YAML).
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// comment is v's note as a trailing comment.
func comment(v Value) string {
	if v.Note == "" {
		return ""
	}
	return " # " + strings.ReplaceAll(v.Note, "\n", " ")
}

// Render writes the draft as a commented inventory file.
func (d *Draft) Render(w io.Writer) error {
	var b strings.Builder
	for _, l := range d.Header {
		fmt.Fprintf(&b, "# %s\n", l)
	}
	if len(d.Header) > 0 {
		b.WriteString("\n")
	}
	field := func(indent, key string, v Value) {
		if v.V == "" && !v.TODO {
			return
		}
		fmt.Fprintf(&b, "%s%s: %s%s\n", indent, key, quote(v.V), comment(v))
	}
	list := func(indent, key string, vs []Value) {
		fmt.Fprintf(&b, "%s%s:\n", indent, key)
		for _, v := range vs {
			fmt.Fprintf(&b, "%s  - %s%s\n", indent, quote(v.V), comment(v))
		}
	}
	field("", "name", d.Name)
	field("", "ssh_config", d.SSHConfig)
	b.WriteString("\nprobe:\n")
	field("  ", "url", d.ProbeURL)
	b.WriteString("\nbalancer:\n")
	field("  ", "host", d.BalancerHost)
	field("  ", "upstream", d.Upstream)
	field("  ", "file", d.File)
	field("  ", "test", d.Test)
	field("  ", "reload", d.Reload)
	field("  ", "pid_file", d.PidFile)
	b.WriteString("\nhosts:\n")
	if len(d.Hosts) == 0 {
		b.WriteString("  " + quote("TODO: every machine, each with ssh: user@address") + ":\n    ssh: " + quote("TODO: user@address") + "\n")
	}
	for _, h := range d.Hosts {
		if h.Note != "" {
			fmt.Fprintf(&b, "  # %s\n", h.Note)
		}
		fmt.Fprintf(&b, "  %s:\n", quote(h.Name))
		field("    ", "ssh", h.SSH)
		if h.Serve != nil {
			field("    ", "serve", *h.Serve)
		}
		if h.Postgres != nil {
			field("    ", "postgres", *h.Postgres)
		}
	}
	b.WriteString("\nsides:\n")
	for _, s := range []struct {
		name string
		side DraftSide
	}{{"production", d.Production}, {"backup", d.Backup}} {
		fmt.Fprintf(&b, "  %s:\n", s.name)
		apps := s.side.Apps
		if len(apps) == 0 {
			apps = []Value{TODO("the " + s.name + " side's app hosts, by their names under hosts:")}
		}
		list("    ", "apps", apps)
		db := s.side.Database
		if db.V == "" {
			db = TODO("the " + s.name + " side's PostgreSQL host, by its name under hosts:")
		}
		field("    ", "database", db)
		if len(s.side.Replicas) > 0 {
			list("    ", "replicas", s.side.Replicas)
		}
	}
	b.WriteString("\nupgrade:\n")
	field("  ", "version", d.Version)
	list("  ", "commands", d.Commands)
	if len(d.Migrate) > 0 {
		b.WriteString("  migrate:\n")
		list("    ", "commands", d.Migrate)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
