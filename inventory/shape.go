package inventory

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// The shape pass walks the YAML tree along the Inventory type before anything is decoded. It lists
// every unknown field, every duplicate key and every value of the wrong kind at once (the decoder
// stops at the first, and go.yaml.in/yaml/v3 does not refuse duplicate keys when decoding into a
// Node), and it records where each field sits so that later checks can point at it. It visits each
// node once: its cost is linear in the size of the file.

// shape holds the result of the walk: the problems found, and the tree to find fields in.
type shape struct {
	source string
	root   *yaml.Node
	// keys indexes the keys of a mapping, built the first time a path is looked up in it.
	keys map[*yaml.Node]map[string]int
	errs Errors
	// budget is how many more aliases may be followed.
	budget int
	// fieldsOf caches yamlFields, asked once per mapping.
	fieldsOf map[reflect.Type]map[string]reflect.StructField
	// path is the field path of the node being checked ("sides.backup.apps[1]"), grown and cut back
	// as the walk goes down and up: it becomes a string only for a message.
	path []byte
}

// fields is yamlFields(t), computed once per type.
func (s *shape) fields(t reflect.Type) map[string]reflect.StructField {
	f, ok := s.fieldsOf[t]
	if !ok {
		if s.fieldsOf == nil {
			s.fieldsOf = map[reflect.Type]map[string]reflect.StructField{}
		}
		f = yamlFields(t)
		s.fieldsOf[t] = f
	}
	return f
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	commandListType = reflect.TypeFor[CommandList]()
	commandItemType = reflect.TypeFor[commandItem]()
)

// Resolved tags of scalars, as yaml.Node.ShortTag gives them.
const (
	tagStr   = "!!str"
	tagInt   = "!!int"
	tagFloat = "!!float"
	tagBool  = "!!bool"
	tagNull  = "!!null"
	tagMerge = "!!merge"
)

// newShape walks body, the root node of the inventory document.
func newShape(source string, body *yaml.Node, budget int) *shape {
	s := &shape{source: source, root: body, budget: budget}
	s.check(body, reflect.TypeFor[Inventory](), nil)
	return s
}

func (s *shape) errorf(at *yaml.Node, format string, args ...any) {
	line, col := nodeLineCol(at)
	s.errs = append(s.errs, &Error{File: s.source, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// nodeLineCol is where n starts, 1:1 when it is unknown.
func nodeLineCol(n *yaml.Node) (line, col int) {
	if n == nil || n.Line < 1 {
		return 1, 1
	}
	return n.Line, max(n.Column, 1)
}

// uniqueKeys reports each key written twice in mapping n. Small mappings (a struct's fields) are
// compared pairwise, large ones (hosts) through a map: linear either way.
func (s *shape) uniqueKeys(n *yaml.Node) {
	dup := func(k, first *yaml.Node) {
		s.errorf(k, "invalid YAML: mapping key %q already defined at [%d:%d]; fix the syntax here", k.Value, first.Line, first.Column)
	}
	if len(n.Content) <= 32 {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || isMergeKey(k) {
				continue
			}
			for j := 0; j < i; j += 2 {
				if first := n.Content[j]; first.Kind == yaml.ScalarNode && first.Value == k.Value && !isMergeKey(first) {
					dup(k, first)
					break
				}
			}
		}
		return
	}
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || isMergeKey(k) {
			continue
		}
		if first, ok := seen[k.Value]; ok {
			dup(k, first)
			continue
		}
		seen[k.Value] = k
	}
}

// duplicates runs uniqueKeys on every mapping under root: for the parts of the document the walk
// along the types does not enter (unknown fields). Aliases are not followed: the mapping they name
// is checked where it is written.
func (s *shape) duplicates(root *yaml.Node) {
	stack := []*yaml.Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.MappingNode {
			s.uniqueKeys(n)
		}
		stack = append(stack, n.Content...)
	}
}

// name is the path of the node being checked, as messages name it.
func (s *shape) name() string {
	if len(s.path) == 0 {
		return "the inventory"
	}
	return string(s.path)
}

// enter checks node, the value of mapping key k (nil for a list item) or list item i, against t.
func (s *shape) enter(node *yaml.Node, t reflect.Type, k *yaml.Node, i int) {
	n := len(s.path)
	if k != nil {
		s.path = appendKey(s.path, keyText(k))
	} else {
		s.path = strconv.AppendInt(append(s.path, '['), int64(i), 10)
		s.path = append(s.path, ']')
	}
	s.check(node, t, k)
	s.path = s.path[:n]
}

// check checks node, at s.path, against type t. key is the field's key node, if it has one.
func (s *shape) check(node *yaml.Node, t reflect.Type, key *yaml.Node) {
	inner := node
	switch {
	case inner == nil, isNull(inner):
		return
	case inner.Kind == yaml.AliasNode:
		// What an alias brings is checked where its anchor is written, once per use: the budget
		// stops aliases that nest into billions of values.
		s.budget--
		if inner.Alias == nil || s.budget < 0 {
			if s.budget == -1 {
				s.errorf(inner, "%s", errAliasBudget.Error())
			}
			return
		}
		s.check(inner.Alias, t, key)
		return
	}
	at := inner
	if key != nil && !isScalar(inner) {
		at = key
	}
	switch {
	case t == durationType:
		if _, err := time.ParseDuration(inner.Value); inner.Kind != yaml.ScalarNode || inner.ShortTag() != tagStr || err != nil {
			s.errorf(inner, "%s must be a duration such as 500ms, 5s, 2m or 1h30m, found %s; write a number with its unit", s.name(), describeScalar(inner))
		}
	case t.Kind() == reflect.Pointer:
		s.check(node, t.Elem(), key)
	case t.Kind() == reflect.Struct:
		if inner.Kind != yaml.MappingNode {
			s.errorf(at, "%s must be a mapping of fields (field: value, one per line), found %s", s.name(), describe(inner))
			return
		}
		s.uniqueKeys(inner)
		fields := s.fields(t)
		for i := 0; i+1 < len(inner.Content); i += 2 {
			k, v := inner.Content[i], inner.Content[i+1]
			if isMergeKey(k) {
				s.merge(k, v, i/2, t, key)
				continue
			}
			f, ok := fields[k.Value]
			if !ok || k.Kind != yaml.ScalarNode {
				s.errorf(k, "%s", unknownField(string(s.path), keyText(k), t))
				s.duplicates(v)
				continue
			}
			s.enter(v, f.Type, k, 0)
		}
	case t.Kind() == reflect.Map:
		if inner.Kind != yaml.MappingNode {
			s.errorf(at, "%s must be a mapping of names to settings, found %s", s.name(), describe(inner))
			return
		}
		s.uniqueKeys(inner)
		for i := 0; i+1 < len(inner.Content); i += 2 {
			k, v := inner.Content[i], inner.Content[i+1]
			if isMergeKey(k) {
				s.merge(k, v, i/2, t, key)
				continue
			}
			s.enter(v, t.Elem(), k, 0)
		}
	case t.Kind() == reflect.Slice:
		if inner.Kind != yaml.SequenceNode {
			s.errorf(at, "%s must be a list, found %s; write [a, b] or one \"- item\" per line", s.name(), describe(inner))
			return
		}
		for i, v := range inner.Content {
			elem := t.Elem()
			if t == commandListType && !isScalar(v) && v.Kind != yaml.AliasNode {
				elem = commandItemType // a Rundeck job
			}
			s.enter(v, elem, nil, i)
		}
	case t.Kind() == reflect.String:
		if !isScalar(inner) {
			hint := ""
			if inner.Kind == yaml.SequenceNode && bytes.HasSuffix(s.path, []byte(".database")) {
				hint = "; a side has exactly one database, and extra read-only ones go under replicas:"
			}
			s.errorf(at, "%s must be a single value, found %s%s", s.name(), describe(inner), hint)
			return
		}
		// YAML reads `version: 2.10` as the number 2.1: refuse rather than let the text mean two things.
		if inner.Style == 0 {
			if got, changed := asNumber(inner); changed {
				s.errorf(inner, "%s is %s, which YAML reads as a number and changes to %q; quote it: \"%s\"", s.name(), inner.Value, got, inner.Value)
			}
		}
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		if inner.Kind != yaml.ScalarNode || inner.ShortTag() != tagInt {
			s.errorf(inner, "%s must be a whole number, found %s", s.name(), describeScalar(inner))
		}
	case t.Kind() == reflect.Float64:
		if inner.Kind != yaml.ScalarNode || (inner.ShortTag() != tagInt && inner.ShortTag() != tagFloat) {
			s.errorf(inner, "%s must be a number, found %s", s.name(), describeScalar(inner))
		}
	case t.Kind() == reflect.Bool:
		if inner.Kind != yaml.ScalarNode || inner.ShortTag() != tagBool {
			s.errorf(inner, "%s must be true or false, found %s", s.name(), describeScalar(inner))
		}
	}
}

// asNumber returns the text a plain scalar that YAML resolves to a number stands for, and whether it
// differs from the text as written (2.10 is 2.1, 0x10 is 16).
func asNumber(n *yaml.Node) (string, bool) {
	var got string
	switch n.ShortTag() {
	case tagInt:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			return "", false
		}
		got = strconv.FormatInt(i, 10)
	case tagFloat:
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			return "", false
		}
		got = strconv.FormatFloat(f, 'g', -1, 64)
	default:
		return "", false
	}
	return got, got != n.Value
}

// merge checks a merge key (<<), the i-th entry of the mapping at s.path. Pitstop refuses the forms
// whose meaning readers get wrong: << after fields (which win anyway, but look overridden) and a
// list of merges (where the first wins). One anchor merged first reads the way YAML decodes it.
func (s *shape) merge(k, v *yaml.Node, i int, t reflect.Type, key *yaml.Node) {
	if i > 0 {
		s.errorf(k, "the merge key << in %s must come first, before the fields it may be overridden by; move it up", s.name())
		return
	}
	if v.Kind == yaml.SequenceNode {
		s.errorf(k, "the merge key << in %s merges a list; merge one anchor (<<: *name) and write the other fields directly", s.name())
		return
	}
	// A field the merge brings and the mapping then writes directly is recorded at the direct one,
	// which comes later.
	s.check(v, t, key)
}

// pos returns where path is written. A missing field is placed at the nearest enclosing field that
// is present (its key), and the root at 1:1. A scalar is placed at its value, anything else at its key.
func (s *shape) pos(path string) (line, col int) {
	key, node, whole := s.lookup(path)
	if node == s.root && !whole {
		return 1, 1
	}
	at := node
	if !(whole && isScalar(node)) && key != nil {
		at = key
	}
	if at == nil || at.Line < 1 {
		return 1, 1
	}
	return at.Line, max(at.Column, 1)
}

// lookup finds the field path in the document: the deepest field of path that is written, its key
// node (nil for the root and list items), and whether that is path itself. Fields a merge key (<<)
// brings are found where the merged mapping writes them. The document is never indexed as a whole:
// only mappings a path goes through are, once each, so a file without errors pays nothing for it.
func (s *shape) lookup(path string) (key, node *yaml.Node, whole bool) {
	node = s.root
	segs := splitPath(path)
	for i, seg := range segs {
		next, nextKey := s.child(node, seg, 0)
		if next == nil {
			return key, node, false
		}
		node, key = next, nextKey
		if seg.index >= 0 {
			key = nil
		}
		if i == len(segs)-1 {
			return key, node, true
		}
	}
	return key, node, true
}

// child is the value (and key) of seg in node, through aliases and merge keys.
func (s *shape) child(node *yaml.Node, seg pathSeg, depth int) (value, key *yaml.Node) {
	for node != nil && node.Kind == yaml.AliasNode && depth < 64 {
		node, depth = node.Alias, depth+1
	}
	if node == nil || depth >= 64 {
		return nil, nil
	}
	if seg.index >= 0 {
		if node.Kind != yaml.SequenceNode || seg.index >= len(node.Content) {
			return nil, nil
		}
		return node.Content[seg.index], nil
	}
	if node.Kind != yaml.MappingNode {
		return nil, nil
	}
	if s.keys == nil {
		s.keys = map[*yaml.Node]map[string]int{}
	}
	idx, ok := s.keys[node]
	if !ok {
		idx = make(map[string]int, len(node.Content)/2)
		for i := 0; i+1 < len(node.Content); i += 2 {
			if k := node.Content[i]; k.Kind == yaml.ScalarNode && !isMergeKey(k) {
				idx[k.Value] = i
			}
		}
		s.keys[node] = idx
	}
	if i, ok := idx[seg.key]; ok {
		return node.Content[i+1], node.Content[i]
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if isMergeKey(node.Content[i]) {
			if v, k := s.child(node.Content[i+1], seg, depth+1); v != nil {
				return v, k
			}
		}
	}
	return nil, nil
}

// pathSeg is one step of a field path: a mapping key, or a list index (index >= 0).
type pathSeg struct {
	key   string
	index int
}

// splitPath undoes joinKey and the list indexes of a path: `hosts["lb.old"].ssh` is hosts, lb.old, ssh.
func splitPath(p string) []pathSeg {
	var segs []pathSeg
	for p != "" {
		switch {
		case strings.HasPrefix(p, `["`):
			// A quoted key: Quote escapes every quote inside, so the first unescaped `"]` ends it.
			end := 2
			for end < len(p) && !(p[end] == '"' && p[end-1] != '\\') {
				end++
			}
			k, err := strconv.Unquote(p[1 : end+1])
			if err != nil {
				return append(segs, pathSeg{key: p, index: -1})
			}
			segs = append(segs, pathSeg{key: k, index: -1})
			p = strings.TrimPrefix(p[min(end+1, len(p)):], "]")
		case strings.HasPrefix(p, "["):
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return append(segs, pathSeg{key: p, index: -1})
			}
			i, err := strconv.Atoi(p[1:end])
			if err != nil {
				return append(segs, pathSeg{key: p, index: -1})
			}
			segs = append(segs, pathSeg{index: i})
			p = p[end+1:]
		default:
			p = strings.TrimPrefix(p, ".")
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			segs = append(segs, pathSeg{key: p[:end], index: -1})
			p = p[end:]
		}
	}
	return segs
}

// joinKey appends a mapping key to path, quoting keys that would make the path ambiguous.
func joinKey(path, key string) string {
	return string(appendKey([]byte(path), key))
}

// appendKey is joinKey on a path being built.
func appendKey(path []byte, key string) []byte {
	switch {
	case !isPlainKey(key):
		return append(strconv.AppendQuote(append(path, '['), key), ']')
	case len(path) == 0:
		return append(path, key...)
	}
	return append(append(path, '.'), key...)
}

// isPlainKey reports whether key matches ^[A-Za-z0-9_-]+$ (a loop: this runs once per key).
func isPlainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return key != ""
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

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == tagMerge
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull
}

func isScalar(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && !isNull(n)
}

// keyText is a mapping key as text (a key that is not a scalar has none).
func keyText(k *yaml.Node) string {
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	return ""
}

// describe names what a node is, for "found …" in messages. It never echoes a string value, which
// could be a connection string with a password.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case tagInt, tagFloat:
		return "the number " + n.Value
	case tagBool:
		return n.Value
	case tagNull:
		return "nothing"
	case tagStr:
		return "a text value"
	}
	return "a value tagged " + n.ShortTag()
}

// describeScalar is describe, but quotes a text value: only for fields that never hold a secret
// (durations, numbers, booleans).
func describeScalar(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tagStr {
		return strconv.Quote(n.Value)
	}
	return describe(n)
}
