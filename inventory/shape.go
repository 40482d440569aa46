package inventory

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// The shape pass walks the YAML tree along the Inventory type before anything is decoded. It lists
// every unknown field and every value of the wrong kind at once (the decoder stops at the first),
// and it records where each field sits so that later checks can point at it.

// located is where one field of the inventory is written.
type located struct {
	// key is the position of the field's key; nil for the root and for list items.
	key  *token.Position
	node ast.Node
}

// shape holds the result of the walk: an index from field path to position, and the problems found.
type shape struct {
	source string
	index  map[string]located
	errs   Errors
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	commandListType = reflect.TypeFor[CommandList]()
	commandItemType = reflect.TypeFor[commandItem]()
)

// newShape walks body, the root node of the inventory document.
func newShape(source string, body ast.Node) *shape {
	s := &shape{source: source, index: map[string]located{}}
	s.walk(body, reflect.TypeFor[Inventory](), "", nil)
	return s
}

func (s *shape) errorf(pos *token.Position, format string, args ...any) {
	line, col := 1, 1
	if pos != nil && pos.Line > 0 {
		line, col = pos.Line, max(pos.Column, 1)
	}
	s.errs = append(s.errs, &Error{File: s.source, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// walk records where the field path ("sides.backup.apps[1]") is written and checks its node against
// type t. key is the field's key node, if it has one.
func (s *shape) walk(node ast.Node, t reflect.Type, path string, key ast.Node) {
	var keyPos *token.Position
	if key != nil && key.GetToken() != nil {
		keyPos = key.GetToken().Position
	}
	s.index[path] = located{key: keyPos, node: node}
	s.check(node, t, path, keyPos)
}

// check is walk without recording node's position: a merge key (<<) adds fields to a mapping whose
// position is already recorded.
func (s *shape) check(node ast.Node, t reflect.Type, path string, keyPos *token.Position) {
	inner := unwrap(node)
	switch inner.(type) {
	case nil, *ast.NullNode:
		return
	case *ast.AliasNode:
		// The decoder resolves aliases and still rejects what is wrong behind one, one error at a time.
		return
	}
	name := path
	if name == "" {
		name = "the inventory"
	}
	at := nodePos(inner)
	if keyPos != nil && !isScalar(inner) {
		at = keyPos
	}
	switch {
	case t == durationType:
		_, isString := inner.(*ast.StringNode)
		if _, err := time.ParseDuration(scalarText(inner)); !isString || err != nil {
			s.errorf(nodePos(inner), "%s must be a duration such as 500ms, 5s, 2m or 1h30m, found %s; write a number with its unit", name, describeScalar(inner))
		}
	case t.Kind() == reflect.Pointer:
		s.check(node, t.Elem(), path, keyPos)
	case t.Kind() == reflect.Struct:
		m, ok := inner.(*ast.MappingNode)
		if !ok {
			s.errorf(at, "%s must be a mapping of fields (field: value, one per line), found %s", name, describe(inner))
			return
		}
		fields := yamlFields(t)
		for i, mv := range m.Values {
			if mv.Key.IsMergeKey() {
				s.merge(mv, i, t, name, path, keyPos)
				continue
			}
			k := keyText(mv.Key)
			f, ok := fields[k]
			if !ok {
				s.errorf(mv.Key.GetToken().Position, "%s", unknownField(path, k, t))
				continue
			}
			s.walk(mv.Value, f.Type, joinKey(path, k), mv.Key)
		}
	case t.Kind() == reflect.Map:
		m, ok := inner.(*ast.MappingNode)
		if !ok {
			s.errorf(at, "%s must be a mapping of names to settings, found %s", name, describe(inner))
			return
		}
		for i, mv := range m.Values {
			if mv.Key.IsMergeKey() {
				s.merge(mv, i, t, name, path, keyPos)
				continue
			}
			s.walk(mv.Value, t.Elem(), joinKey(path, keyText(mv.Key)), mv.Key)
		}
	case t.Kind() == reflect.Slice:
		seq, ok := inner.(*ast.SequenceNode)
		if !ok {
			s.errorf(at, "%s must be a list, found %s; write [a, b] or one \"- item\" per line", name, describe(inner))
			return
		}
		for i, v := range seq.Values {
			elem := t.Elem()
			if t == commandListType && !isScalar(unwrap(v)) {
				elem = commandItemType // a Rundeck job
			}
			s.walk(v, elem, fmt.Sprintf("%s[%d]", path, i), nil)
		}
	case t.Kind() == reflect.String:
		if !isScalar(inner) {
			hint := ""
			if _, list := inner.(*ast.SequenceNode); list && strings.HasSuffix(path, ".database") {
				hint = "; a side has exactly one database, and extra read-only ones go under replicas:"
			}
			s.errorf(at, "%s must be a single value, found %s%s", name, describe(inner), hint)
			return
		}
		if _, ok := inner.(*ast.StringNode); ok {
			return
		}
		if _, ok := inner.(*ast.LiteralNode); ok {
			return
		}
		// YAML reads `version: 2.10` as the number 2.1: refuse rather than silently change the text.
		var got string
		if err := yaml.NodeToValue(node, &got); err != nil || got != scalarText(inner) {
			s.errorf(nodePos(inner), "%s is %s, which YAML reads as a number and changes to %q; quote it: \"%s\"", name, scalarText(inner), got, scalarText(inner))
		}
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		if _, ok := inner.(*ast.IntegerNode); !ok {
			s.errorf(nodePos(inner), "%s must be a whole number, found %s", name, describeScalar(inner))
		}
	case t.Kind() == reflect.Float64:
		switch inner.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		default:
			s.errorf(nodePos(inner), "%s must be a number, found %s", name, describeScalar(inner))
		}
	case t.Kind() == reflect.Bool:
		if _, ok := inner.(*ast.BoolNode); !ok {
			s.errorf(nodePos(inner), "%s must be true or false, found %s", name, describeScalar(inner))
		}
	}
}

// merge checks a merge key (<<), the i-th entry of the mapping at path. The decoder (goccy/go-yaml)
// applies entries in order, later ones winning, where YAML says keys written directly always win and
// the first of a list of merges wins. The two agree only when << comes first and merges one mapping,
// so anything else is refused rather than decoded differently from what the reader expects.
func (s *shape) merge(mv *ast.MappingValueNode, i int, t reflect.Type, name, path string, keyPos *token.Position) {
	at := mv.Key.GetToken().Position
	if i > 0 {
		s.errorf(at, "the merge key << in %s must come first, before the fields it may be overridden by; move it up", name)
		return
	}
	if _, list := unwrap(mv.Value).(*ast.SequenceNode); list {
		s.errorf(at, "the merge key << in %s merges a list; merge one anchor (<<: *name) and write the other fields directly", name)
		return
	}
	// A field the merge brings and the mapping then writes directly is recorded at the direct one,
	// which comes later.
	s.check(mv.Value, t, path, keyPos)
}

// pos returns where path is written. A missing field is placed at the nearest enclosing field that
// is present (its key), and the root at 1:1. A scalar is placed at its value, anything else at its key.
func (s *shape) pos(path string) (line, col int) {
	for p := path; p != ""; p = parentPath(p) {
		l, ok := s.index[p]
		if !ok {
			continue
		}
		var at *token.Position
		if inner := unwrap(l.node); p == path && isScalar(inner) {
			at = nodePos(inner)
		} else if l.key != nil {
			at = l.key
		} else {
			at = nodePos(inner)
		}
		if at != nil && at.Line > 0 {
			return at.Line, max(at.Column, 1)
		}
	}
	return 1, 1
}

// joinKey appends a mapping key to path, quoting keys that would make the path ambiguous.
func joinKey(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// parentPath undoes the last joinKey or list index. A quoted key's text never holds `["` (Quote
// escapes the quote), so the last `["` starts the last quoted segment.
func parentPath(p string) string {
	switch {
	case strings.HasSuffix(p, `"]`):
		return p[:strings.LastIndex(p, `["`)]
	case strings.HasSuffix(p, "]"):
		return p[:strings.LastIndex(p, "[")]
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

// yamlFields maps the yaml tag of each field of struct type t to the field.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		out[tag] = f
	}
	return out
}

// unknownField explains an unknown key, suggesting the closest known one.
func unknownField(path, key string, t reflect.Type) string {
	fields := yamlFields(t)
	names := slices.Sorted(maps.Keys(fields))
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	msg := fmt.Sprintf("unknown field %q %s", key, where)
	if best := closest(key, names); best != "" {
		return msg + fmt.Sprintf("; did you mean %q?", best)
	}
	return msg + "; known fields there: " + strings.Join(names, ", ")
}

// closest returns the name nearest to s when it is near enough to be a likely typo, else "".
func closest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		d := editDistance(strings.ToLower(s), strings.ToLower(n))
		if d < bestD && d < len(n) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions, deletions, substitutions and
// swaps of two neighbours each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// unwrap looks through anchors (&name) and tags (!!str) to the value they decorate.
func unwrap(n ast.Node) ast.Node {
	for {
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.TagNode:
			n = x.Value
		default:
			return n
		}
	}
}

func isScalar(n ast.Node) bool {
	switch n.(type) {
	case nil, *ast.NullNode, *ast.MappingNode, *ast.SequenceNode, *ast.AliasNode, *ast.MappingValueNode:
		return false
	}
	return true
}

// scalarText is the text of a scalar as written (without quotes).
func scalarText(n ast.Node) string {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value
	case *ast.LiteralNode:
		if x.Value != nil {
			return x.Value.Value
		}
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// keyText is a mapping key as text.
func keyText(k ast.MapKeyNode) string {
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		if v, ok := mk.Value.(ast.MapKeyNode); ok {
			return keyText(v)
		}
	}
	if tag, ok := k.(*ast.TagNode); ok {
		if v, ok := tag.Value.(ast.MapKeyNode); ok {
			return keyText(v)
		}
	}
	return scalarText(k)
}

// nodePos is where a node starts: a block mapping at its first key, anything else at its token.
func nodePos(n ast.Node) *token.Position {
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		if tk := m.Values[0].Key.GetToken(); tk != nil {
			return tk.Position
		}
	}
	if n == nil || n.GetToken() == nil {
		return nil
	}
	return n.GetToken().Position
}

// describe names what a node is, for "found …" in messages. It never echoes a string value, which
// could be a connection string with a password.
func describe(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a text value"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + scalarText(n)
	case *ast.BoolNode:
		return scalarText(n)
	}
	return "a " + strings.ToLower(n.Type().String())
}

// describeScalar is describe, but quotes a text value: only for fields that never hold a secret
// (durations, numbers, booleans).
func describeScalar(n ast.Node) string {
	switch n.(type) {
	case *ast.StringNode, *ast.LiteralNode:
		return strconv.Quote(scalarText(n))
	}
	return describe(n)
}
