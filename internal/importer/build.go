package importer

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Options pick the sides out of a source's nodes. All are optional; what is not given becomes a
// TODO in the draft.
type Options struct {
	// Production and Backup select each side's nodes: a Rundeck tag or an Ansible group.
	Production, Backup string
	// Database selects, within each side, its database host (the first match) and its replicas (the
	// others); the side's other nodes are its app hosts.
	Database string
	// Balancer is the nginx node: a node name, or a tag or group with exactly one node.
	Balancer string
	// Command is the command line that made the draft, for its header.
	Command string
}

// hostName is what the inventory accepts as a host name (inventory.hostName).
var hostName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Build turns the nodes into a draft inventory. Bad selectors are errors naming the selector.
func Build(src *Source, opt Options) (*Draft, error) {
	d := NewDraft()
	d.Header = []string{
		fmt.Sprintf("Pitstop inventory drafted by `%s` from %s, %s.", opt.Command, src.File, src.Format),
		"Values marked \"found\" come from that file. Every value starting with TODO must be filled in:",
		"`pitstop plan -i THIS_FILE` lists each one left, by line. See docs/import.md#fill-in-the-todos.",
	}
	for _, n := range src.Nodes {
		if !hostName.MatchString(n.Name) {
			return nil, errAt(src.File, n.Line, "node %q cannot be a Pitstop host name; rename it with letters, digits, _, - and . only", n.Name)
		}
	}
	balancer := ""
	if opt.Balancer != "" {
		if src.Node(opt.Balancer) != nil {
			balancer = opt.Balancer
		} else {
			tagged := selectNodes(src, opt.Balancer)
			if len(tagged) != 1 {
				return nil, fmt.Errorf("--balancer %s: no node has that name, and %d nodes have that %s; name the nginx node", opt.Balancer, len(tagged), tagWord(src))
			}
			balancer = tagged[0].Name
		}
		d.BalancerHost = Found(balancer, "found: --balancer")
	}
	role := map[string]string{}
	side := func(sel, name string, out *DraftSide) error {
		if sel == "" {
			return nil
		}
		nodes := selectNodes(src, sel)
		if len(nodes) == 0 {
			return fmt.Errorf("--%s %s: no node has that %s; the file's %ss are: %s", name, sel, tagWord(src), tagWord(src), strings.Join(allTags(src), ", "))
		}
		for _, n := range nodes {
			if n.Name == balancer {
				return fmt.Errorf("--%s %s selects %s, the balancer; the balancer belongs to no side", name, sel, n.Name)
			}
			if r, ok := role[n.Name]; ok {
				return fmt.Errorf("--%s %s selects %s, which --%s also selects; a host belongs to one side only", name, sel, n.Name, r)
			}
			role[n.Name] = name
			v := Found(n.Name, fmt.Sprintf("found: %s %s", tagWord(src), sel))
			switch {
			case opt.Database != "" && n.HasTag(opt.Database) && out.Database.V == "":
				v.Note = fmt.Sprintf("found: %s %s and %s", tagWord(src), sel, opt.Database)
				out.Database = v
			case opt.Database != "" && n.HasTag(opt.Database):
				v.Note = fmt.Sprintf("found: %s %s and %s", tagWord(src), sel, opt.Database)
				out.Replicas = append(out.Replicas, v)
			default:
				out.Apps = append(out.Apps, v)
			}
		}
		return nil
	}
	if err := side(opt.Production, "production", &d.Production); err != nil {
		return nil, err
	}
	if err := side(opt.Backup, "backup", &d.Backup); err != nil {
		return nil, err
	}
	isApp := func(name string) bool {
		return slices.ContainsFunc(append(d.Production.Apps, d.Backup.Apps...), func(v Value) bool { return v.V == name })
	}
	isDB := func(name string) bool {
		dbs := append([]Value{d.Production.Database, d.Backup.Database}, append(d.Production.Replicas, d.Backup.Replicas...)...)
		return slices.ContainsFunc(dbs, func(v Value) bool { return v.V == name })
	}
	for _, n := range src.Nodes {
		h := DraftHost{Name: n.Name, SSH: Found(n.SSH(), "found"), Note: nodeNote(src, n)}
		if n.User == "" {
			h.SSH.Note = "found; no user in the source: add user@ unless your ssh config sets it"
		}
		if isApp(n.Name) {
			v := TODO("host:port the application listens on, as nginx reaches it, e.g. " + n.Address + ":8080")
			h.Serve = &v
		}
		if isDB(n.Name) {
			v := TODO("the libpq connection string, e.g. postgres://pitstop@" + n.Address + ":5432/DBNAME")
			h.Postgres = &v
		}
		d.Hosts = append(d.Hosts, h)
	}
	return d, nil
}

func nodeNote(src *Source, n *Node) string {
	note := "node " + n.Name
	if n.Line > 0 {
		note += fmt.Sprintf(" (%s:%d)", src.File, n.Line)
	}
	if len(n.Tags) > 0 {
		note += "; " + tagWord(src) + "s: " + strings.Join(n.Tags, ", ")
	}
	return note
}

func tagWord(src *Source) string {
	if strings.HasPrefix(src.Format, "Ansible") {
		return "group"
	}
	return "tag"
}

// selectNodes returns the nodes carrying tag, in the file's order.
func selectNodes(src *Source, tag string) []*Node {
	var out []*Node
	for _, n := range src.Nodes {
		if n.HasTag(tag) {
			out = append(out, n)
		}
	}
	return out
}

func allTags(src *Source) []string {
	var out []string
	for _, n := range src.Nodes {
		for _, t := range n.Tags {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}
