package inventory

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// A value written as TODO… is one a generated inventory (pitstop import, pitstop discover) could not
// know. Each is reported at its line, and other complaints about that same line are dropped: the TODO
// says what to write there.

// isTODO reports a value written as TODO, TODO: … or TODO …, not a name that merely starts so (TODOist).
func isTODO(v string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "TODO")
	return ok && (rest == "" || rest[0] == ':' || rest[0] == ' ')
}

// todos returns an error for every TODO value in body (aliases are not followed: the value is
// reported where it is written).
func todos(source string, body *yaml.Node) Errors {
	var errs Errors
	stack := []*yaml.Node{body}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.ScalarNode && n.ShortTag() == tagStr && isTODO(n.Value) {
			line, col := nodeLineCol(n)
			hint := strings.TrimSpace(strings.TrimLeft(strings.TrimPrefix(strings.TrimSpace(n.Value), "TODO"), ":"))
			msg := "this value is still a TODO; replace it with the real value (see docs/import.md#fill-in-the-todos)"
			if hint != "" {
				msg = "still a TODO: write " + hint
			}
			errs = append(errs, &Error{File: source, Line: line, Col: col, Msg: msg})
		}
		stack = append(stack, n.Content...)
	}
	return errs
}

// withTODOs adds the TODO errors to errs, dropping the other errors on a line that holds a TODO.
func withTODOs(errs, todo Errors) Errors {
	if len(todo) == 0 {
		return errs
	}
	lines := map[int]bool{}
	for _, t := range todo {
		lines[t.Line] = true
	}
	out := append(Errors{}, todo...)
	for _, e := range errs {
		if !lines[e.Line] {
			out = append(out, e)
		}
	}
	return sortErrors(out)
}
