package importer

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// ReadRundeck reads a Rundeck resource model file: YAML (a mapping keyed by node name, or a list of
// nodes), XML (<project><node …><attribute name= value=/></node></project>) or JSON (the YAML forms
// written as JSON). The format is told from the content. Errors are *inventory.Error values at the
// file's line, naming the node.
func ReadRundeck(file string) (*Source, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read Rundeck resource model: %w; check the path", err)
	}
	return ParseRundeck(file, data)
}

// ParseRundeck is ReadRundeck on data already read; file names it in errors.
func ParseRundeck(file string, data []byte) (*Source, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errAt(file, 1, "the file is empty; give a Rundeck resource model (YAML, XML or JSON) with at least one node")
	}
	var src *Source
	var err error
	switch trimmed[0] {
	case '<':
		src, err = rundeckXML(file, data)
	case '{', '[':
		src, err = rundeckJSON(file, data)
	default:
		src, err = rundeckYAML(file, data)
	}
	if err != nil {
		return nil, err
	}
	if len(src.Nodes) == 0 {
		return nil, errAt(file, 1, "the resource model defines no node; check that this is the project's resource file")
	}
	return src, nil
}

// rundeckNode turns one node's attributes into a Node. key is the map-form key ("" in list form).
func rundeckNode(file, key string, line int, attrs map[string]string, tags []string) (*Node, error) {
	name := attrs["nodename"]
	if name == "" {
		name = key
	}
	if name == "" {
		return nil, errAt(file, line, "a node has no nodename; give every node a nodename: attribute")
	}
	if key != "" && attrs["nodename"] != "" && attrs["nodename"] != key {
		return nil, errAt(file, line, "node %q has nodename %q; Rundeck needs the two to be the same: fix one of them", key, attrs["nodename"])
	}
	hostname := attrs["hostname"]
	if strings.TrimSpace(hostname) == "" {
		return nil, errAt(file, line, "node %q has no hostname; give it hostname: address[:port]", name)
	}
	host, port, err := splitHostPort(hostname)
	if err != nil {
		return nil, errAt(file, line, "node %q: hostname %v; write hostname: address or address:port", name, err)
	}
	n := &Node{Name: name, Address: host, Port: port, User: attrs["username"], Tags: tags, Attrs: map[string]string{}, Line: line}
	for k, v := range attrs {
		switch k {
		case "nodename", "hostname", "username", "tags":
		default:
			n.Attrs[k] = v
		}
	}
	return n, nil
}

func addNode(src *Source, n *Node, file string) error {
	if prev := src.Node(n.Name); prev != nil {
		return errAt(file, n.Line, "node %q is defined twice (also at line %d); keep one", n.Name, prev.Line)
	}
	src.Nodes = append(src.Nodes, n)
	return nil
}

func rundeckYAML(file string, data []byte) (*Source, error) {
	d, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	src := &Source{File: file, Format: "Rundeck resource model (YAML)"}
	if d.root == nil {
		return src, nil
	}
	one := func(key string, line int, body ast.Node) error {
		attrs, tags, err := d.rundeckAttrs(key, line, body)
		if err != nil {
			return err
		}
		n, err := rundeckNode(file, key, line, attrs, tags)
		if err != nil {
			return err
		}
		return addNode(src, n, file)
	}
	if items, ok := d.sequence(d.root); ok {
		for _, it := range items {
			if err := one("", lineOf(d.resolve(it)), it); err != nil {
				return nil, err
			}
		}
		return src, nil
	}
	entries, ok := d.mapping(d.root)
	if !ok {
		return nil, errAt(file, lineOf(d.root), "a resource model is a mapping of node names to attributes, or a list of nodes; found %s", d.describe(d.root))
	}
	for _, e := range entries {
		if err := one(e.key, e.line, e.value); err != nil {
			return nil, err
		}
	}
	return src, nil
}

// rundeckAttrs reads one node's attributes from YAML; tags may be a list or a comma string.
func (d *yamlDoc) rundeckAttrs(key string, line int, body ast.Node) (map[string]string, []string, error) {
	what := "a node"
	if key != "" {
		what = fmt.Sprintf("node %q", key)
	}
	entries, ok := d.mapping(body)
	if !ok || d.isNull(body) {
		return nil, nil, errAt(d.file, line, "%s must be a mapping of attributes (nodename, hostname, username, tags, …), found %s", what, d.describe(body))
	}
	attrs := map[string]string{}
	var tags []string
	for _, e := range entries {
		if e.key == "tags" {
			if items, ok := d.sequence(e.value); ok {
				for _, it := range items {
					if t := strings.TrimSpace(d.scalar(it)); t != "" {
						tags = append(tags, t)
					}
				}
				continue
			}
			tags = splitTags(d.scalar(e.value))
			continue
		}
		if !d.isScalar(e.value) {
			return nil, nil, errAt(d.file, e.line, "%s: attribute %s must be a single value, found %s", what, e.key, d.describe(e.value))
		}
		attrs[e.key] = d.scalar(e.value)
	}
	return attrs, tags, nil
}

// rundeckJSON reads the JSON resource model: an object keyed by node name, or an array of nodes.
// encoding/json gives byte offsets; lines are counted from them.
func rundeckJSON(file string, data []byte) (*Source, error) {
	src := &Source{File: file, Format: "Rundeck resource model (JSON)"}
	line := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	jsonErr := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return errAt(file, line(se.Offset), "invalid JSON: %v; fix the syntax here", se)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errAt(file, line(te.Offset), "node attribute %s must be a string (tags: a string or a list of strings), found a JSON %s", te.Field, te.Value)
		}
		return errAt(file, 1, "invalid JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(err)
	}
	one := func(key string, at int) error {
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return errAt(file, at, "node %q must be an object of attributes, found a JSON %s", key, te.Value)
			}
			return jsonErr(err)
		}
		attrs := map[string]string{}
		var tags []string
		for k, v := range raw {
			if k == "tags" {
				var list []string
				if json.Unmarshal(v, &list) == nil {
					tags = list
					continue
				}
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return errAt(file, at, "node %q: tags must be a string or a list of strings", key)
				}
				tags = splitTags(s)
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				var num json.Number
				if json.Unmarshal(v, &num) != nil {
					return errAt(file, at, "node %q: attribute %s must be a string", key, k)
				}
				s = num.String()
			}
			attrs[k] = s
		}
		n, err := rundeckNode(file, key, at, attrs, tags)
		if err != nil {
			return err
		}
		return addNode(src, n, file)
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, jsonErr(err)
			}
			at := line(dec.InputOffset())
			if err := one(k.(string), at); err != nil {
				return nil, err
			}
		}
	case json.Delim('['):
		for dec.More() {
			// The offset is just past the previous value: the node starts on a following line.
			rest := data[dec.InputOffset():]
			at := line(dec.InputOffset() + int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n,"))))
			if err := one("", at); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonErr(err)
	}
	return src, nil
}

// xmlProject is the resource-xml format.
type xmlNode struct {
	Attrs  []xml.Attr `xml:",any,attr"`
	Nested []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"attribute"`
}

// rundeckXML reads the XML resource model with a token decoder, so each node knows its line.
func rundeckXML(file string, data []byte) (*Source, error) {
	src := &Source{File: file, Format: "Rundeck resource model (XML)"}
	dec := xml.NewDecoder(bytes.NewReader(data))
	sawProject := false
	for {
		line, _ := dec.InputPos()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, errAt(file, se.Line, "invalid XML: %s; fix the syntax here", se.Msg)
			}
			return nil, errAt(file, line, "invalid XML: %v", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		line, _ = dec.InputPos()
		switch start.Name.Local {
		case "project":
			sawProject = true
			continue
		case "node":
		default:
			if !sawProject {
				return nil, errAt(file, line, "the root element is <%s>; a Rundeck resource model is <project> holding <node> elements", start.Name.Local)
			}
			if err := dec.Skip(); err != nil {
				return nil, errAt(file, line, "invalid XML: %v", err)
			}
			continue
		}
		var xn xmlNode
		if err := dec.DecodeElement(&xn, &start); err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, errAt(file, se.Line, "invalid XML: %s; fix the syntax here", se.Msg)
			}
			return nil, errAt(file, line, "invalid XML in <node>: %v", err)
		}
		attrs := map[string]string{}
		for _, a := range xn.Attrs {
			attrs[a.Name.Local] = a.Value
		}
		name := attrs["name"]
		delete(attrs, "name")
		for _, a := range xn.Nested {
			if a.Name == "" {
				return nil, errAt(file, line, "node %q has an <attribute> without name=; write <attribute name=\"…\" value=\"…\"/>", name)
			}
			attrs[a.Name] = a.Value
		}
		if name == "" {
			return nil, errAt(file, line, "a <node> has no name=; give every node a name")
		}
		attrs["nodename"] = name
		n, err := rundeckNode(file, name, line, attrs, splitTags(attrs["tags"]))
		if err != nil {
			return nil, err
		}
		if err := addNode(src, n, file); err != nil {
			return nil, err
		}
	}
	if !sawProject && len(src.Nodes) == 0 {
		return nil, errAt(file, 1, "no <project> element; a Rundeck resource model is <project> holding <node> elements")
	}
	return src, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
