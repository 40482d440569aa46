package inventory

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	goccy "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// syntaxError places a YAML syntax error. go.yaml.in/yaml/v3 names the line of most syntax errors but
// never the column, and its messages are terse ("did not find expected node content"). Only then, on
// a file already refused, goccy/go-yaml's parser reads the file again for the line, column and a
// clearer message: its cost (quadratic in the keys of one mapping, a few seconds at the 1 MiB limit)
// is paid on the error path only. When goccy accepts what yaml.v3 refused, yaml.v3's line stands.
func syntaxError(source string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(err.Error(), m[0])
	}
	if e := goccySyntax(source, data); e != nil {
		return e
	}
	return &Error{File: source, Line: max(line, 1), Col: 1, Msg: fmt.Sprintf("invalid YAML: %s; fix the syntax here", msg)}
}

// goccySyntax is goccy/go-yaml's syntax error for data, or nil when it parses. It uses the bare
// message, never the source excerpt goccy attaches (the excerpt could show a password). goccy has
// panicked on odd input before: a panic counts as no answer.
func goccySyntax(source string, data []byte) (out *Error) {
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	_, err := parser.ParseBytes(data, 0)
	var ye goccy.Error
	if err == nil || !errors.As(err, &ye) {
		return nil
	}
	line, col := 1, 1
	if tk := ye.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
		line, col = tk.Position.Line, max(tk.Position.Column, 1)
	}
	return &Error{File: source, Line: line, Col: col, Msg: fmt.Sprintf("invalid YAML: %s; fix the syntax here", ye.GetMessage())}
}
