package importer

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// ReadAnsible reads an Ansible inventory file, INI or YAML (told from the content: a YAML inventory
// starts with a group name followed by a colon, all: usually). Host variables are resolved with
// Ansible's precedence: the host's own, then its groups' from the most nested to all, groups of one
// depth in name order, the later winning. Ranges such as web[01:04].example.com and db-[a:c] are
// expanded. Errors are *inventory.Error values at the file's line, naming the group or host.
func ReadAnsible(file string) (*Source, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read Ansible inventory: %w; check the path", err)
	}
	return ParseAnsible(file, data)
}

// ParseAnsible is ReadAnsible on data already read; file names it in errors.
func ParseAnsible(file string, data []byte) (*Source, error) {
	inv := &ansibleInv{file: file, groups: map[string]*group{}, hosts: map[string]*hostDef{}}
	inv.group("all", 0)
	var err error
	if isYAMLInventory(data) {
		err = inv.parseYAML(data)
	} else {
		err = inv.parseINI(data)
	}
	if err != nil {
		return nil, err
	}
	return inv.resolve()
}

// isYAMLInventory tells a YAML inventory from an INI one: the first meaningful line of YAML is a
// key ending in ":" (or a document start), never a [section] or a bare host name.
func isYAMLInventory(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") {
			continue
		}
		if l == "---" {
			return true
		}
		if strings.HasPrefix(l, "[") {
			return false
		}
		f := strings.Fields(l)[0]
		return strings.HasSuffix(f, ":") || strings.HasSuffix(l, ":")
	}
	return false
}

type ansibleInv struct {
	file   string
	groups map[string]*group
	hosts  map[string]*hostDef
	order  []string // host names in first-seen order
}

type group struct {
	name     string
	line     int
	vars     map[string]string
	children []string
	hosts    []string
}

type hostDef struct {
	name string
	line int
	vars map[string]string
}

func (a *ansibleInv) group(name string, line int) *group {
	g := a.groups[name]
	if g == nil {
		g = &group{name: name, line: line, vars: map[string]string{}}
		a.groups[name] = g
	}
	return g
}

// addHost records host in group g with vars (later definitions add to earlier ones).
func (a *ansibleInv) addHost(g *group, name string, line int, vars map[string]string) {
	h := a.hosts[name]
	if h == nil {
		h = &hostDef{name: name, line: line, vars: map[string]string{}}
		a.hosts[name] = h
		a.order = append(a.order, name)
	}
	for k, v := range vars {
		h.vars[k] = v
	}
	if !slices.Contains(g.hosts, name) {
		g.hosts = append(g.hosts, name)
	}
}

func (a *ansibleInv) addChild(parent *group, child string, line int) {
	a.group(child, line)
	if !slices.Contains(parent.children, child) {
		parent.children = append(parent.children, child)
	}
}

// parseINI reads the INI form: host lines, [group], [group:vars], [group:children].
func (a *ansibleInv) parseINI(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	cur, kind := a.group("ungrouped", 0), "hosts"
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") {
			continue
		}
		if strings.HasPrefix(l, "[") {
			end := strings.Index(l, "]")
			if end < 0 || strings.TrimSpace(l[end+1:]) != "" && !strings.HasPrefix(strings.TrimSpace(l[end+1:]), "#") {
				return errAt(a.file, n, "section header %q is malformed; write [group], [group:vars] or [group:children]", l)
			}
			name, suffix, _ := strings.Cut(l[1:end], ":")
			name = strings.TrimSpace(name)
			if !validGroup(name) {
				return errAt(a.file, n, "group name %q is not valid; use letters, digits and _", name)
			}
			switch suffix {
			case "":
				kind = "hosts"
			case "vars", "children":
				kind = suffix
			default:
				return errAt(a.file, n, "section [%s] has the unknown suffix :%s; use :vars or :children", l[1:end], suffix)
			}
			cur = a.group(name, n)
			if cur.line == 0 {
				cur.line = n
			}
			continue
		}
		switch kind {
		case "vars":
			k, v, ok := strings.Cut(l, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				return errAt(a.file, n, "[%s:vars] line %q is not key=value; write one variable per line, e.g. ansible_user=deploy", cur.name, l)
			}
			cur.vars[k] = unquote(strings.TrimSpace(v))
		case "children":
			child := strings.Fields(l)[0]
			if !validGroup(child) {
				return errAt(a.file, n, "[%s:children] names %q, which is not a valid group name", cur.name, child)
			}
			a.addChild(cur, child, n)
		default:
			words, err := splitWords(l)
			if err != nil {
				return errAt(a.file, n, "host line in [%s]: %v", cur.name, err)
			}
			vars := map[string]string{}
			for _, w := range words[1:] {
				if strings.HasPrefix(w, "#") {
					break
				}
				k, v, ok := strings.Cut(w, "=")
				if !ok || k == "" {
					return errAt(a.file, n, "host %s in [%s]: %q is not key=value; host variables are written key=value after the host", words[0], cur.name, w)
				}
				vars[k] = v
			}
			names, err := expandRange(words[0])
			if err != nil {
				return errAt(a.file, n, "host %s in [%s]: %v", words[0], cur.name, err)
			}
			for _, h := range names {
				a.addHost(cur, h, n, vars)
			}
		}
	}
	return sc.Err()
}

func validGroup(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// splitWords splits a host line on blanks, keeping quoted values (k="a b") together.
func splitWords(l string) ([]string, error) {
	var out []string
	var b strings.Builder
	var quote byte
	in := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("a %c quote is not closed", quote)
	}
	if in {
		out = append(out, b.String())
	}
	return out, nil
}

// expandRange expands Ansible host ranges: web[01:04] (numbers, keeping the zero padding),
// db-[a:c] (letters) and an optional stride web[1:9:2]; several ranges multiply.
func expandRange(pattern string) ([]string, error) {
	open := strings.Index(pattern, "[")
	if open < 0 {
		if strings.Contains(pattern, "]") {
			return nil, fmt.Errorf("] without [ in %q", pattern)
		}
		return []string{pattern}, nil
	}
	end := strings.Index(pattern[open:], "]")
	if end < 0 {
		return nil, fmt.Errorf("range [ is not closed in %q", pattern)
	}
	end += open
	prefix, spec, suffix := pattern[:open], pattern[open+1:end], pattern[end+1:]
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("range [%s] must be [start:end] or [start:end:step], e.g. web[01:04]", spec)
	}
	step := 1
	if len(parts) == 3 {
		s, err := strconv.Atoi(parts[2])
		if err != nil || s < 1 {
			return nil, fmt.Errorf("range [%s] has step %q; a step is a whole number of 1 or more", spec, parts[2])
		}
		step = s
	}
	var items []string
	lo, hi := parts[0], parts[1]
	if a, errA := strconv.Atoi(lo); errA == nil {
		b, err := strconv.Atoi(hi)
		if err != nil || b < a {
			return nil, fmt.Errorf("range [%s] must go from a number to a larger one", spec)
		}
		if b-a > 100000 {
			return nil, fmt.Errorf("range [%s] names more than 100000 hosts", spec)
		}
		width := 0
		if len(lo) > 1 && lo[0] == '0' {
			width = len(lo)
		}
		for i := a; i <= b; i += step {
			items = append(items, fmt.Sprintf("%0*d", width, i))
		}
	} else if len(lo) == 1 && len(hi) == 1 && isLetter(lo[0]) && isLetter(hi[0]) && lo[0] <= hi[0] {
		for c := lo[0]; c <= hi[0]; c += byte(step) {
			items = append(items, string(c))
			if int(c)+step > 255 {
				break
			}
		}
	} else {
		return nil, fmt.Errorf("range [%s] must be numbers ([01:04]) or single letters ([a:c]), from low to high", spec)
	}
	rest, err := expandRange(suffix)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, it := range items {
		for _, r := range rest {
			out = append(out, prefix+it+r)
		}
	}
	return out, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// parseYAML reads the YAML form: top-level groups (all: usually), each with hosts:, vars: and children:.
func (a *ansibleInv) parseYAML(data []byte) error {
	d, err := parseYAML(a.file, data)
	if err != nil {
		return err
	}
	if d.root == nil {
		return nil
	}
	top, ok := d.mapping(d.root)
	if !ok {
		return errAt(a.file, lineOf(d.root), "a YAML inventory is a mapping of groups (all: with hosts:, vars:, children:), found %s", d.describe(d.root))
	}
	for _, e := range top {
		if err := a.yamlGroup(d, e.key, e.line, e.value, nil); err != nil {
			return err
		}
	}
	return nil
}

func (a *ansibleInv) yamlGroup(d *yamlDoc, name string, line int, body ast.Node, path []string) error {
	if !validGroup(name) {
		return errAt(a.file, line, "group name %q is not valid; use letters, digits and _", name)
	}
	if slices.Contains(path, name) {
		return errAt(a.file, line, "group %s is its own child (%s); remove the loop", name, strings.Join(append(path, name), " > "))
	}
	g := a.group(name, line)
	if g.line == 0 {
		g.line = line
	}
	entries, ok := d.mapping(body)
	if !ok {
		return errAt(a.file, line, "group %s must be a mapping with hosts:, vars: or children:, found %s", name, d.describe(body))
	}
	for _, e := range entries {
		switch e.key {
		case "hosts":
			hosts, ok := d.mapping(e.value)
			if !ok {
				return errAt(a.file, e.line, "group %s: hosts must be a mapping of host names (each with its variables, or nothing), found %s", name, d.describe(e.value))
			}
			for _, h := range hosts {
				vars, err := a.yamlVars(d, h.value, h.line, "host "+h.key)
				if err != nil {
					return err
				}
				names, err := expandRange(h.key)
				if err != nil {
					return errAt(a.file, h.line, "host %s in group %s: %v", h.key, name, err)
				}
				for _, hn := range names {
					a.addHost(g, hn, h.line, vars)
				}
			}
		case "vars":
			vars, err := a.yamlVars(d, e.value, e.line, "group "+name+" vars")
			if err != nil {
				return err
			}
			for k, v := range vars {
				g.vars[k] = v
			}
		case "children":
			children, ok := d.mapping(e.value)
			if !ok {
				return errAt(a.file, e.line, "group %s: children must be a mapping of group names, found %s", name, d.describe(e.value))
			}
			for _, c := range children {
				a.addChild(g, c.key, c.line)
				if err := a.yamlGroup(d, c.key, c.line, c.value, append(path, name)); err != nil {
					return err
				}
			}
		default:
			return errAt(a.file, e.line, "group %s has the key %q; a group holds only hosts:, vars: and children:", name, e.key)
		}
	}
	return nil
}

// yamlVars reads a mapping of variables; values that are not scalars (lists, dicts) are kept out:
// Pitstop uses none of them.
func (a *ansibleInv) yamlVars(d *yamlDoc, n ast.Node, line int, what string) (map[string]string, error) {
	entries, ok := d.mapping(n)
	if !ok {
		return nil, errAt(a.file, line, "%s must be a mapping of variables, found %s", what, d.describe(n))
	}
	out := map[string]string{}
	for _, e := range entries {
		if d.isScalar(e.value) {
			out[e.key] = d.scalar(e.value)
		}
	}
	return out, nil
}

// resolve computes each host's groups and variables and returns the nodes.
func (a *ansibleInv) resolve() (*Source, error) {
	// Depth of each group below all: a child is one deeper than its deepest parent.
	depth := map[string]int{"all": 0}
	var visit func(name string, d int, path []string) error
	visit = func(name string, d int, path []string) error {
		if slices.Contains(path, name) {
			return errAt(a.file, a.groups[name].line, "group %s is its own child (%s); remove the loop", name, strings.Join(append(path, name), " > "))
		}
		if old, ok := depth[name]; ok && old >= d && name != "all" {
			return nil
		}
		depth[name] = d
		for _, c := range a.groups[name].children {
			if err := visit(c, d+1, append(path, name)); err != nil {
				return err
			}
		}
		return nil
	}
	isChild := map[string]bool{}
	for _, g := range a.groups {
		for _, c := range g.children {
			isChild[c] = true
		}
	}
	for _, name := range sortedKeys(a.groups) {
		if name != "all" && !isChild[name] {
			if err := visit(name, 1, []string{"all"}); err != nil {
				return nil, err
			}
		}
	}
	if err := visit("all", 0, nil); err != nil {
		return nil, err
	}
	parents := map[string][]string{}
	for _, g := range a.groups {
		for _, c := range g.children {
			parents[c] = append(parents[c], g.name)
		}
	}
	src := &Source{File: a.file, Format: "Ansible inventory"}
	for _, hn := range a.order {
		h := a.hosts[hn]
		member := map[string]bool{}
		var up func(g string)
		up = func(g string) {
			if member[g] {
				return
			}
			member[g] = true
			for _, p := range parents[g] {
				up(p)
			}
		}
		for _, g := range a.groups {
			if slices.Contains(g.hosts, hn) {
				up(g.name)
			}
		}
		member["all"] = true
		groups := sortedKeys(member)
		slices.SortStableFunc(groups, func(x, y string) int { return depth[x] - depth[y] })
		vars := map[string]string{}
		var tags []string
		for _, g := range groups {
			for k, v := range a.groups[g].vars {
				vars[k] = v
			}
			if g != "all" {
				tags = append(tags, g)
			}
		}
		for k, v := range h.vars {
			vars[k] = v
		}
		n := &Node{Name: hn, Address: first(vars, "ansible_host", "ansible_ssh_host"), User: first(vars, "ansible_user", "ansible_ssh_user"), Tags: tags, Attrs: vars, Line: h.line}
		if p := first(vars, "ansible_port", "ansible_ssh_port"); p != "" {
			port, err := parsePort(p)
			if err != nil {
				return nil, errAt(a.file, h.line, "host %s: ansible_port: %v", hn, err)
			}
			n.Port = port
		}
		if n.Address != "" && strings.Contains(n.Address, ":") && !strings.Contains(n.Address, "::") {
			host, port, err := splitHostPort(n.Address)
			if err != nil {
				return nil, errAt(a.file, h.line, "host %s: ansible_host %v", hn, err)
			}
			n.Address = host
			if n.Port == 0 {
				n.Port = port
			}
		}
		if n.Address == "" {
			n.Address = hn
		}
		n.Local = vars["ansible_connection"] == "local"
		src.Nodes = append(src.Nodes, n)
	}
	if len(src.Nodes) == 0 {
		return nil, errAt(a.file, 1, "the inventory lists no host; check that this is the inventory file")
	}
	return src, nil
}

func first(vars map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := vars[k]; v != "" {
			return v
		}
	}
	return ""
}
