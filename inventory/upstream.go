package inventory

import (
	"fmt"
	"strings"
)

// The upstream file is the operator's: a switch changes only the server lines of the named upstream
// block and keeps every other byte — keepalive, zone, least_conn or hash, comments, other blocks.

// upstreamServer is one server directive of the upstream block being rewritten.
type upstreamServer struct {
	// start and end are the directive's byte offsets, `server` up to and including its ';'.
	start, end int
	addr       string
	params     []string
}

// upstreamScan is what scanUpstream found of the named block.
type upstreamScan struct {
	found bool
	// open is the offset just after the block's '{', close the offset of its '}'.
	open, close int
	// firstStmt is the offset of the block's first directive, or -1.
	firstStmt int
	servers   []upstreamServer
}

// scanUpstream finds the first `upstream name { … }` block of an nginx configuration fragment and its
// server directives. It understands comments, quoted strings, statements ending in ';' and nested
// blocks: enough for a file a person wrote.
func scanUpstream(content, name string) upstreamScan {
	sc := upstreamScan{firstStmt: -1}
	type tok struct {
		text       string
		start, end int
	}
	var stmt []tok
	depth, inDepth := 0, -1
	done, unterminated := false, false
	i := 0
	for i < len(content) && !done {
		c := content[i]
		switch {
		case c == '#':
			for i < len(content) && content[i] != '\n' {
				i++
			}
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '{':
			if inDepth < 0 && !sc.found && len(stmt) == 2 && stmt[0].text == "upstream" && stmt[1].text == name {
				sc.found, sc.open, inDepth = true, i+1, depth+1
			}
			depth++
			stmt = nil
			i++
			continue
		case c == '}':
			if inDepth >= 0 && depth == inDepth {
				sc.close = i
				done = true
				if len(stmt) > 0 {
					unterminated = true // a directive without its ';': nginx -t would refuse it
				}
			}
			depth--
			stmt = nil
			i++
			continue
		case c == ';':
			if inDepth >= 0 && depth == inDepth && len(stmt) >= 2 && stmt[0].text == "server" {
				s := upstreamServer{start: stmt[0].start, end: i + 1, addr: stmt[1].text}
				for _, t := range stmt[2:] {
					s.params = append(s.params, t.text)
				}
				sc.servers = append(sc.servers, s)
			}
			stmt = nil
			i++
			continue
		}
		start := i
		if c == '"' || c == '\'' {
			i++
			for i < len(content) && content[i] != c {
				if content[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i+1, len(content))
		} else {
			for i < len(content) && !strings.ContainsRune(" \t\r\n;{}#", rune(content[i])) {
				i++
			}
		}
		if inDepth >= 0 && depth == inDepth && len(stmt) == 0 && sc.firstStmt < 0 {
			sc.firstStmt = start
		}
		stmt = append(stmt, tok{text: content[start:i], start: start, end: i})
	}
	if sc.found && (!done || unterminated) {
		sc.found = false // an unclosed block, or a directive without ';': nginx -t would refuse it anyway
	}
	return sc
}

// UpstreamServers lists the server directives of the block named balancer.upstream in content:
// address and parameters. ok is false when content has no such block.
func (inv *Inventory) UpstreamServers(content string) (servers [][]string, ok bool) {
	sc := scanUpstream(content, inv.Balancer.Upstream)
	for _, s := range sc.servers {
		servers = append(servers, append([]string{s.addr}, s.params...))
	}
	return servers, sc.found
}

// keptServer reports whether a server directive stays as written through every switch: a server
// marked backup that is no app host of the inventory is the operator's own fallback (a sorry page).
func (inv *Inventory) keptServer(s upstreamServer) bool {
	return inv.SideOfAddr(s.addr) == "" && hasWord(s.params, "backup")
}

func hasWord(list []string, w string) bool {
	for _, x := range list {
		if x == w {
			return true
		}
	}
	return false
}

// RewriteUpstream returns content with the server lines of its balancer.upstream block replaced by
// side's app hosts, and every other byte as it was: the directives of the block (keepalive, zone,
// least_conn, hash, comments), other blocks, the rest of the file. A server line gets its host's
// server_params, or else the parameters the same address had in content. When content is empty it
// returns Upstream(side); content that holds no such block is an error.
func (inv *Inventory) RewriteUpstream(content string, side Side) (string, error) {
	if strings.TrimSpace(content) == "" {
		return inv.Upstream(side), nil
	}
	sc := scanUpstream(content, inv.Balancer.Upstream)
	if !sc.found {
		return "", fmt.Errorf("it holds no complete `upstream %s { … }` block; add one (the server lines are Pitstop's to write, the rest stays as you write it)", inv.Balancer.Upstream)
	}
	had := map[string][]string{}
	var replaced []upstreamServer
	for _, s := range sc.servers {
		if _, seen := had[s.addr]; !seen {
			had[s.addr] = s.params
		}
		if !inv.keptServer(s) {
			replaced = append(replaced, s)
		}
	}

	indent := "    "
	insertAt, midLine := -1, false
	if len(replaced) > 0 {
		ls := lineStart(content, replaced[0].start)
		if onlySpace(content[ls:replaced[0].start]) {
			indent, insertAt = content[ls:replaced[0].start], ls
		} else {
			insertAt, midLine = replaced[0].start, true
		}
	} else {
		if sc.firstStmt >= 0 {
			if ls := lineStart(content, sc.firstStmt); onlySpace(content[ls:sc.firstStmt]) {
				indent = content[ls:sc.firstStmt]
			}
		}
		ls := lineStart(content, sc.close)
		insertAt, midLine = sc.close, true
		if onlySpace(content[ls:sc.close]) && ls >= sc.open {
			insertAt, midLine = ls, false
		}
	}
	var lines strings.Builder
	for _, app := range inv.Sides.Get(side).Apps {
		h := inv.Hosts[app]
		if h == nil {
			continue
		}
		params := strings.Fields(h.ServerParams)
		if h.ServerParams == "" {
			params = had[h.Serve]
		}
		lines.WriteString(indent + serverLine(h.Serve, params, app) + "\n")
	}
	newLines := lines.String()
	if midLine {
		// Not at the start of a line: keep the new lines apart from what precedes them.
		newLines = "\n" + newLines
	}

	var b strings.Builder
	pos := 0
	inserted := false
	insert := func() {
		if !inserted {
			b.WriteString(newLines)
			inserted = true
		}
	}
	for _, s := range replaced {
		ls, le := lineStart(content, s.start), lineEnd(content, s.end)
		from, to := s.start, s.end
		if onlySpace(content[ls:s.start]) && onlySpaceOrComment(content[s.end:le]) {
			from, to = ls, le // the whole line is this server: drop the line with its comment
		}
		if from < pos {
			from = pos // two servers on one line
		}
		b.WriteString(content[pos:from])
		if from >= insertAt {
			insert()
		}
		pos = to
	}
	if !inserted {
		b.WriteString(content[pos:insertAt])
		pos = insertAt
		insert()
	}
	b.WriteString(content[pos:])
	return b.String(), nil
}

// serverLine is one server directive as Pitstop writes it, with the host's name as a comment.
func serverLine(addr string, params []string, host string) string {
	return string(appendServerLine(nil, addr, params, host))
}

// appendServerLine appends serverLine(addr, params, host) to b.
func appendServerLine(b []byte, addr string, params []string, host string) []byte {
	b = append(append(b, "server "...), addr...)
	for _, p := range params {
		b = append(append(b, ' '), p...)
	}
	return append(append(b, "; # "...), host...)
}

func lineStart(s string, i int) int { return strings.LastIndexByte(s[:i], '\n') + 1 }

// lineEnd is the offset just after the newline that ends the line holding offset i (or len(s)).
func lineEnd(s string, i int) int {
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

func onlySpace(s string) bool { return strings.TrimLeft(s, " \t") == "" }

func onlySpaceOrComment(s string) bool {
	t := strings.TrimLeft(s, " \t\r")
	return t == "" || t == "\n" || strings.HasPrefix(t, "#")
}
