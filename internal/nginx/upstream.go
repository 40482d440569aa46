package nginx

import (
	"fmt"
	"strings"

	"github.com/pitstop-ops/pitstop/inventory"
)

// upstreamBlock is one `upstream NAME { … }` block of an upstream file.
type upstreamBlock struct {
	Name string
	// Servers are the addresses of its server directives, in order; servers marked `down` are left out.
	Servers []string
}

// parseUpstream reads the upstream blocks of an nginx configuration fragment. It understands enough of
// nginx's syntax for a file Pitstop or a person wrote: comments, statements ending in ';', blocks in
// braces. Quoted strings are not expected in an upstream file and are not treated specially.
func parseUpstream(content string) []upstreamBlock {
	var blocks []upstreamBlock
	var stmt []string
	depth := 0
	in := -1 // index in blocks of the upstream block being read, or -1
	inDepth := 0
	for _, tok := range tokenize(content) {
		switch tok {
		case "{":
			if len(stmt) == 2 && stmt[0] == "upstream" && in < 0 {
				blocks = append(blocks, upstreamBlock{Name: stmt[1]})
				in, inDepth = len(blocks)-1, depth+1
			}
			depth++
			stmt = nil
		case "}":
			if in >= 0 && depth == inDepth {
				in = -1
			}
			depth--
			stmt = nil
		case ";":
			if in >= 0 && depth == inDepth && len(stmt) >= 2 && stmt[0] == "server" && !hasParam(stmt[2:], "down") {
				blocks[in].Servers = append(blocks[in].Servers, stmt[1])
			}
			stmt = nil
		default:
			stmt = append(stmt, tok)
		}
	}
	return blocks
}

func tokenize(content string) []string {
	var toks []string
	for _, line := range strings.Split(content, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, c := range []string{"{", "}", ";"} {
			line = strings.ReplaceAll(line, c, " "+c+" ")
		}
		toks = append(toks, strings.Fields(line)...)
	}
	return toks
}

func hasParam(params []string, p string) bool {
	for _, x := range params {
		if x == p {
			return true
		}
	}
	return false
}

// sideOf tells which side the upstream file content sends traffic to: every server of the inventory's
// upstream block must be an app host of that one side.
func sideOf(inv *inventory.Inventory, content string) (inventory.Side, error) {
	name := inv.Balancer.Upstream
	blocks := parseUpstream(content)
	var block *upstreamBlock
	var names []string
	for i := range blocks {
		names = append(names, blocks[i].Name)
		if blocks[i].Name == name && block == nil {
			block = &blocks[i]
		}
	}
	if block == nil {
		if len(names) == 0 {
			return "", fmt.Errorf("it holds no upstream block (content: %s); expected `upstream %s { server …; }`", excerpt(content), name)
		}
		return "", fmt.Errorf("it defines upstream %s but not %q, which the inventory's balancer.upstream names", strings.Join(names, ", "), name)
	}
	// The operator's own fallback (a server marked backup that is no app host) stays through every
	// switch and names no side.
	var addrs []string
	servers, _ := inv.UpstreamServers(content)
	for _, s := range servers {
		if hasParam(s[1:], "down") || (inv.SideOfAddr(s[0]) == "" && hasParam(s[1:], "backup")) {
			continue
		}
		addrs = append(addrs, s[0])
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("its upstream %s has no server that is not marked down", name)
	}
	sides := map[inventory.Side]bool{}
	var described []string
	unknown := false
	for _, addr := range addrs {
		s := inv.SideOfAddr(addr)
		if s == "" {
			unknown = true
			described = append(described, addr+" (no app host of the inventory serves there)")
			continue
		}
		sides[s] = true
		described = append(described, fmt.Sprintf("%s (%s)", addr, s))
	}
	switch {
	case unknown:
		return "", fmt.Errorf("its upstream %s names %s", name, strings.Join(described, ", "))
	case len(sides) > 1:
		return "", fmt.Errorf("its upstream %s mixes both sides: %s", name, strings.Join(described, ", "))
	}
	for s := range sides {
		return s, nil
	}
	return "", nil // unreachable: at least one server, each known
}

// excerpt shortens content to one line for an error message.
func excerpt(content string) string {
	s := strings.Join(strings.Fields(content), " ")
	if s == "" {
		return "empty"
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return fmt.Sprintf("%q", s)
}
