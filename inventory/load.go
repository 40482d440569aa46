package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Parse reads an inventory from YAML data, fills defaults and validates it. source names the data in
// error messages: a file path, or "demo" for the built-in inventory. Any problem comes back as Errors,
// every one as SOURCE:LINE:COL: what is wrong, what to do. Unknown fields and values of the wrong kind
// are all reported together; when there are none, every semantic problem is reported together. A YAML
// syntax error stops at the first.
//
// Parse reads no file: a relative ssh_config stays as written (Load resolves it).
func Parse(source string, data []byte) (*Inventory, error) {
	return parse(source, data, "")
}

// Load reads the inventory file at path and parses it like Parse, with path as the source. It also
// resolves ssh_config against the inventory file's directory (and a leading ~/ against the home
// directory), checks that file exists, and stores its absolute path in SSHConfig.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w; check the path of the inventory file", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", path, err)
	}
	return parse(path, data, filepath.Dir(abs))
}

// inYAML runs a call into the YAML library and turns its error into Errors. goccy/go-yaml has panicked
// on odd input before, and a bad file must not crash the cockpit, so a panic there becomes an error
// too. Only the library's calls are guarded: a panic in Pitstop's own checks stays a crash, which the
// fuzz test then finds.
func inYAML(source string, call func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Errors{{File: source, Line: 1, Col: 1,
				Msg: "the YAML parser failed on this file (a bug in the parser); check the file's syntax and report the file to Pitstop"}}
		}
	}()
	if err := call(); err != nil {
		return Errors{yamlError(source, err)}
	}
	return nil
}

// parse is Parse; when dir is not empty, ssh_config is resolved against it.
func parse(source string, data []byte, dir string) (*Inventory, error) {
	var file *ast.File
	if err := inYAML(source, func() (err error) { file, err = parser.ParseBytes(data, 0); return err }); err != nil {
		return nil, err
	}
	body, e := document(source, file)
	if e != nil {
		return nil, Errors{e}
	}
	sh := newShape(source, body)
	todo := todos(source, body)
	if len(sh.errs) > 0 {
		return nil, withTODOs(sortErrors(sh.errs), todo)
	}
	inv := &Inventory{}
	// The parser has already refused duplicate keys; the decoder's own check would also refuse a key
	// that overrides one brought in by a merge key (<<), which YAML allows.
	if err := inYAML(source, func() error {
		return yaml.NodeToValue(body, inv, yaml.DisallowUnknownField(), yaml.AllowDuplicateMapKey())
	}); err != nil {
		return nil, err
	}
	inv.Upgrade.Verify.HealthOnly = sh.healthOnlyWritten()
	inv.Defaults()
	inv.Source = source
	c := &checker{inv: inv, source: source, shape: sh}
	c.check()
	if dir != "" {
		c.resolveSSHConfig(dir)
	}
	if len(c.errs) > 0 || len(todo) > 0 {
		return nil, withTODOs(sortErrors(c.errs), todo)
	}
	return inv, nil
}

// document returns the body of the file's only non-empty YAML document.
func document(source string, f *ast.File) (ast.Node, *Error) {
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		switch d.Body.(type) {
		case *ast.NullNode, *ast.CommentGroupNode, *ast.CommentNode:
			continue
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		return nil, &Error{File: source, Line: 1, Col: 1,
			Msg: "the inventory is empty; write at least name, probe, balancer, hosts, sides and upgrade (docs/inventory.md has a full example; demo/inventory.yaml is a working one)"}
	}
	if len(docs) > 1 {
		line, col := 1, 1
		tk := docs[1].Start
		if tk == nil {
			tk = docs[1].Body.GetToken()
		}
		if tk != nil && tk.Position != nil {
			line, col = tk.Position.Line, max(tk.Position.Column, 1)
		}
		return nil, &Error{File: source, Line: line, Col: col,
			Msg: "a second YAML document starts here; an inventory file holds one document: remove the --- separator or split the file"}
	}
	return docs[0].Body, nil
}

// yamlError turns an error from the YAML parser or decoder into an Error at its token. It uses the
// bare message, never the source excerpt goccy attaches (the excerpt could show a password).
func yamlError(source string, err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line, col := 1, 1
		if tk := ye.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
			line, col = tk.Position.Line, max(tk.Position.Column, 1)
		}
		return &Error{File: source, Line: line, Col: col,
			Msg: fmt.Sprintf("invalid YAML: %s; fix the syntax here", ye.GetMessage())}
	}
	return &Error{File: source, Line: 1, Col: 1, Msg: fmt.Sprintf("invalid YAML: %v; fix the file's syntax", err)}
}

// resolveSSHConfig makes SSHConfig absolute, relative to dir, and checks that it is a readable file.
func (c *checker) resolveSSHConfig(dir string) {
	written := c.inv.SSHConfig
	if written == "" {
		return
	}
	p := written
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			c.errorf("ssh_config", "ssh_config %q starts with ~/ but the home directory is unknown (%v); give an absolute path", written, err)
			return
		}
		p = filepath.Join(home, rest)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	p = filepath.Clean(p)
	c.inv.SSHConfig = p
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.errorf("ssh_config", "ssh_config %q resolves to %s, which does not exist; a relative path starts from the inventory file's directory", written, p)
	case err != nil:
		c.errorf("ssh_config", "ssh_config %q cannot be read: %v; fix its permissions or the path", written, err)
	case st.IsDir():
		c.errorf("ssh_config", "ssh_config %q resolves to %s, which is a directory; name the ssh_config file itself", written, p)
	}
}
