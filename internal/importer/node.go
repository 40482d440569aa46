// Package importer reads the node inventories operators already keep — a Rundeck resource model
// (YAML in its map and list forms, XML, JSON) or an Ansible inventory (INI or YAML) — and writes a
// Pitstop inventory from them: every node as a host, the sides when selectors pick them, and a TODO
// for every value the source cannot tell (see Write).
package importer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pitstop-ops/pitstop/inventory"
)

// Node is one machine of the source inventory.
type Node struct {
	// Name is the node's name (Rundeck nodename, Ansible inventory hostname).
	Name string
	// Address is the host to connect to, without port (Rundeck hostname, ansible_host).
	Address string
	// Port is the SSH port, 0 when the source names none.
	Port int
	// User is the SSH user, "" when the source names none.
	User string
	// Tags are what a selector matches: a Rundeck node's tags, every Ansible group the host is in
	// (directly or through :children).
	Tags []string
	// Attrs are the other attributes (Rundeck) or the merged variables (Ansible).
	Attrs map[string]string
	// Local: commands run on this machine (ansible_connection=local).
	Local bool
	// Line is where the node is defined (its first definition), 0 when the format has no lines.
	Line int
}

// SSH returns the node's target in the inventory's ssh syntax: user@address[:port].
func (n *Node) SSH() string {
	if n.Local {
		return "local"
	}
	t := inventory.Target{User: n.User, Host: n.Address, Port: n.Port}
	if t.Host == "" {
		t.Host = n.Name
	}
	return t.String()
}

// HasTag reports whether the node carries tag (a Rundeck tag or an Ansible group).
func (n *Node) HasTag(tag string) bool { return slices.Contains(n.Tags, tag) }

// Source is everything read from one file.
type Source struct {
	// File is the path the nodes were read from.
	File string
	// Format names the format, e.g. "Rundeck resource model (YAML)".
	Format string
	// Nodes are in the order the file defines them.
	Nodes []*Node
}

// Node returns the named node, or nil.
func (s *Source) Node(name string) *Node {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// errAt is a problem in the source file at line (0 when unknown), as an *inventory.Error so that every
// FILE:LINE message of Pitstop reads the same.
func errAt(file string, line int, format string, args ...any) *inventory.Error {
	e := &inventory.Error{File: file, Msg: fmt.Sprintf(format, args...)}
	if line > 0 {
		e.Line, e.Col = line, 1
	}
	return e
}

// splitHostPort splits a Rundeck hostname or Ansible host that may end in :port. An IPv6 address
// without brackets (more than one colon) is taken whole.
func splitHostPort(s string) (host string, port int, err error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, fmt.Errorf("%q opens [ without closing it", s)
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, 0, nil
		}
		if !strings.HasPrefix(rest, ":") {
			return "", 0, fmt.Errorf("%q has %q after the address; write [address]:port", s, rest)
		}
		p, err := parsePort(rest[1:])
		return host, p, err
	}
	if strings.Count(s, ":") != 1 {
		return s, 0, nil
	}
	h, p, _ := strings.Cut(s, ":")
	port, err = parsePort(p)
	return h, port, err
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return p, nil
}

// splitTags reads Rundeck's comma-separated tags string.
func splitTags(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
