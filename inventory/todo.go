package inventory

import (
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// A value written as TODO… is one a generated inventory (pitstop import, pitstop discover) could not
// know. Each is reported at its line, and other complaints about that same line are dropped: the TODO
// says what to write there.

type todoVisitor struct {
	source string
	errs   Errors
}

func (v *todoVisitor) Visit(n ast.Node) ast.Visitor {
	if s, ok := n.(*ast.StringNode); ok && isTODO(s.Value) {
		line, col := 1, 1
		if tk := s.GetToken(); tk != nil && tk.Position != nil {
			line, col = tk.Position.Line, max(tk.Position.Column, 1)
		}
		hint := strings.TrimSpace(strings.TrimLeft(strings.TrimPrefix(strings.TrimSpace(s.Value), "TODO"), ":"))
		msg := "this value is still a TODO; replace it with the real value (see docs/import.md#fill-in-the-todos)"
		if hint != "" {
			msg = "still a TODO: write " + hint
		}
		v.errs = append(v.errs, &Error{File: v.source, Line: line, Col: col, Msg: msg})
	}
	return v
}

// isTODO reports a value written as TODO, TODO: … or TODO …, not a name that merely starts so (TODOist).
func isTODO(v string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "TODO")
	return ok && (rest == "" || rest[0] == ':' || rest[0] == ' ')
}

// todos returns an error for every TODO value in body.
func todos(source string, body ast.Node) Errors {
	v := &todoVisitor{source: source}
	ast.Walk(v, body)
	return v.errs
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
