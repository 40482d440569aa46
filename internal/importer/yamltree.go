package importer

import (
	"errors"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// yamlDoc is a parsed YAML file whose nodes keep their lines, with its anchors for resolving aliases.
type yamlDoc struct {
	file    string
	root    ast.Node
	anchors map[string]ast.Node
}

// entry is one key: value of a mapping.
type entry struct {
	key   string
	line  int
	value ast.Node
}

func parseYAML(file string, data []byte) (d *yamlDoc, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, errAt(file, 1, "the YAML parser failed on this file; check its syntax")
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			line := 1
			if tk := ye.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
				line = tk.Position.Line
			}
			return nil, errAt(file, line, "invalid YAML: %s; fix the syntax here", ye.GetMessage())
		}
		return nil, errAt(file, 1, "invalid YAML: %v", err)
	}
	d = &yamlDoc{file: file, anchors: map[string]ast.Node{}}
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			if _, c := doc.Body.(*ast.CommentGroupNode); !c {
				d.root = doc.Body
				break
			}
		}
	}
	if d.root != nil {
		ast.Walk(anchorCollector(d.anchors), d.root)
	}
	return d, nil
}

type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil {
		a[an.Name.GetToken().Value] = an.Value
	}
	return a
}

// resolve strips anchors and tags and follows aliases.
func (d *yamlDoc) resolve(n ast.Node) ast.Node {
	for range 100 {
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.TagNode:
			n = x.Value
		case *ast.AliasNode:
			if x.Value == nil {
				return nil
			}
			n = d.anchors[x.Value.GetToken().Value]
		default:
			return n
		}
	}
	return nil
}

func lineOf(n ast.Node) int {
	if n == nil || n.GetToken() == nil || n.GetToken().Position == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// isNull reports a missing or null value (`host:` with nothing after it).
func (d *yamlDoc) isNull(n ast.Node) bool {
	n = d.resolve(n)
	_, null := n.(*ast.NullNode)
	return n == nil || null
}

// mapping returns the entries of a mapping node, in order; ok is false when n is not a mapping. A null
// node is an empty mapping. Merge keys (<<) are expanded in place.
func (d *yamlDoc) mapping(n ast.Node) (out []entry, ok bool) {
	n = d.resolve(n)
	var values []*ast.MappingValueNode
	switch x := n.(type) {
	case nil, *ast.NullNode:
		return nil, true
	case *ast.MappingNode:
		values = x.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{x}
	default:
		return nil, false
	}
	for _, mv := range values {
		if mv.Key.IsMergeKey() {
			merged, _ := d.mapping(mv.Value)
			out = append(out, merged...)
			continue
		}
		out = append(out, entry{key: d.scalar(mv.Key), line: lineOf(mv.Key), value: mv.Value})
	}
	return out, true
}

// sequence returns the items of a sequence node; ok is false when n is not one.
func (d *yamlDoc) sequence(n ast.Node) ([]ast.Node, bool) {
	s, ok := d.resolve(n).(*ast.SequenceNode)
	if !ok {
		return nil, false
	}
	return s.Values, true
}

// scalar returns a scalar's text as written (without quotes); "" for null and for collections.
func (d *yamlDoc) scalar(n ast.Node) string {
	n = d.resolve(n)
	switch x := n.(type) {
	case nil, *ast.NullNode, *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return ""
	case *ast.StringNode:
		return x.Value
	case *ast.LiteralNode:
		if x.Value != nil {
			return x.Value.Value
		}
		return ""
	case *ast.MappingKeyNode:
		return d.scalar(x.Value)
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

func (d *yamlDoc) isScalar(n ast.Node) bool {
	switch d.resolve(n).(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return false
	}
	return true
}

// describe names a node's kind for messages.
func (d *yamlDoc) describe(n ast.Node) string {
	switch d.resolve(n).(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case nil, *ast.NullNode:
		return "nothing"
	}
	return fmt.Sprintf("%q", d.scalar(n))
}
