package inventory

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// decode fills v (a pointer) from node, along the yaml tags of v's type: any field with a tag is
// filled, so a new field needs nothing here. It runs after the shape pass has checked every kind, so
// a mismatch left here is a bug or an alias the shape pass could not follow; it comes back as an
// error, never a panic.
//
// go.yaml.in/yaml/v3's own Node.Decode is not used: it checks each mapping for duplicate keys by
// comparing every key with every later one, which made 20,000 hosts take 80 times as long as 2,000.
// The shape pass checks duplicates with a map instead.
func decode(node *yaml.Node, v any, budget int) error {
	d := &decoder{budget: budget}
	return d.value(node, reflect.ValueOf(v).Elem())
}

// errAliasBudget stops a document whose aliases expand to far more nodes than it holds.
var errAliasBudget = errors.New("the aliases in this file expand to too many values; write the values out instead of nesting aliases")

type decoder struct {
	// budget is how many more nodes may be visited; aliases can make a small file expand exponentially.
	budget int
	// fieldsOf caches yamlFields, asked once per mapping.
	fieldsOf map[reflect.Type]map[string]reflect.StructField
}

func (d *decoder) value(n *yaml.Node, out reflect.Value) error {
	d.budget--
	if d.budget < 0 {
		return errAliasBudget
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return fmt.Errorf("line %d: an alias names no anchor", n.Line)
		}
		return d.value(n.Alias, out)
	}
	if isNull(n) {
		return nil
	}
	t := out.Type()
	switch {
	case t == commandListType:
		return d.commandList(n, out)
	case t == durationType:
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: not a duration", n.Line)
		}
		out.SetInt(int64(dur))
		return nil
	case t.Kind() == reflect.Pointer:
		if out.IsNil() {
			out.Set(reflect.New(t.Elem()))
		}
		return d.value(n, out.Elem())
	case t.Kind() == reflect.Struct:
		return d.mapping(n, func(k, v *yaml.Node) error {
			f, ok := d.field(t, k.Value)
			if !ok {
				return fmt.Errorf("line %d: unknown field %q", k.Line, k.Value)
			}
			field := out.FieldByIndex(f.Index)
			field.SetZero() // a key written directly replaces what a merge brought, as YAML says
			return d.value(v, field)
		})
	case t.Kind() == reflect.Map:
		if out.IsNil() {
			// Sized for the keys written here (hosts: 20,000 at the size limit), so it never grows.
			out.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
		}
		// One key and one value to decode into, zeroed for each entry: SetMapIndex copies them.
		key, elem := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		return d.mapping(n, func(k, v *yaml.Node) error {
			key.SetZero()
			if err := d.value(k, key); err != nil {
				return err
			}
			elem.SetZero()
			if err := d.value(v, elem); err != nil {
				return err
			}
			out.SetMapIndex(key, elem)
			return nil
		})
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: want a list", n.Line)
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.value(c, s.Index(i)); err != nil {
				return err
			}
		}
		out.Set(s)
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a single value", n.Line)
	}
	switch t.Kind() {
	case reflect.String:
		out.SetString(n.Value)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			return fmt.Errorf("line %d: not a whole number", n.Line)
		}
		out.SetInt(i)
	case reflect.Float64:
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: not a number", n.Line)
		}
		out.SetFloat(f)
	case reflect.Bool:
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: not true or false", n.Line)
		}
		out.SetBool(b)
	default:
		return fmt.Errorf("line %d: pitstop cannot decode a %s", n.Line, t)
	}
	return nil
}

// mapping calls set for each key and value of mapping n. The values a merge key (<<) brings come
// first, so that keys written directly win, as YAML says.
func (d *decoder) mapping(n *yaml.Node, set func(k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; isMergeKey(k) {
			if err := d.merge(n.Content[i+1], set); err != nil {
				return err
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !isMergeKey(k) {
			if err := set(k, n.Content[i+1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// merge applies the value of a merge key: a mapping (or an alias of one), or a list of them where
// the first to set a key wins.
func (d *decoder) merge(v *yaml.Node, set func(k, v *yaml.Node) error) error {
	d.budget--
	if d.budget < 0 {
		return errAliasBudget
	}
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		return d.merge(v.Alias, set)
	}
	if v.Kind == yaml.SequenceNode {
		for i := len(v.Content) - 1; i >= 0; i-- {
			if err := d.merge(v.Content[i], set); err != nil {
				return err
			}
		}
		return nil
	}
	return d.mapping(v, set)
}

// field finds the field of struct type t whose yaml tag is name.
func (d *decoder) field(t reflect.Type, name string) (reflect.StructField, bool) {
	fields, ok := d.fieldsOf[t]
	if !ok {
		if d.fieldsOf == nil {
			d.fieldsOf = map[reflect.Type]map[string]reflect.StructField{}
		}
		fields = yamlFields(t)
		d.fieldsOf[t] = fields
	}
	f, ok := fields[name]
	return f, ok
}

// commandList fills a CommandList: each item a shell command (a scalar), or a Rundeck job written as
// a rundeck: mapping, kept in its text form (RundeckJob.String).
func (d *decoder) commandList(n *yaml.Node, out reflect.Value) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: want a list", n.Line)
	}
	list := make(CommandList, 0, len(n.Content))
	for _, c := range n.Content {
		for c.Kind == yaml.AliasNode && c.Alias != nil {
			c = c.Alias
		}
		if c.Kind == yaml.ScalarNode {
			list = append(list, c.Value)
			continue
		}
		var item commandItem
		if err := d.value(c, reflect.ValueOf(&item).Elem()); err != nil {
			return err
		}
		if item.Rundeck == nil {
			return fmt.Errorf("line %d: a command is a string, or rundeck: with job: and options:", c.Line)
		}
		list = append(list, item.Rundeck.String())
	}
	out.Set(reflect.ValueOf(list))
	return nil
}
