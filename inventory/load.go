package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
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

// Load reads the inventory file at path and parses it like Parse, with path as the source. The file
// must be a regular file of at most MaxFileBytes (see read.go). Load also resolves ssh_config against
// the inventory file's directory (and a leading ~/ against the home directory), checks that file
// exists, and stores its absolute path in SSHConfig.
func Load(path string) (*Inventory, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", path, err)
	}
	return parse(path, data, filepath.Dir(abs))
}

// inYAML runs a call into the YAML library and turns a panic there into an error: a bad file must
// not crash the cockpit. Only the library's calls are guarded: a panic in Pitstop's own checks stays
// a crash, which the fuzz test then finds.
func inYAML(source string, call func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Errors{{File: source, Line: 1, Col: 1,
				Msg: "the YAML parser failed on this file (a bug in the parser); check the file's syntax and report the file to Pitstop"}}
		}
	}()
	return call()
}

// parse is Parse; when dir is not empty, ssh_config is resolved against it.
//
// go.yaml.in/yaml/v3 parses into yaml.Node in time linear in the file (goccy/go-yaml, used before,
// was quadratic in the keys of one mapping: 50,000 hosts took 17 s). The shape pass then checks the
// tree along the Inventory type, and decode (decode.go) fills the structs from their yaml tags, so a
// new field needs only its tag.
func parse(source string, data []byte, dir string) (*Inventory, error) {
	defer holdGC(len(data))() // see gc.go
	var body *yaml.Node
	if err := inYAML(source, func() (err error) { body, err = document(source, data); return err }); err != nil {
		return nil, err
	}
	sh := newShape(source, body, aliasBudget(data))
	todo := todos(source, body)
	if len(sh.errs) > 0 {
		return nil, withTODOs(sortErrors(sh.errs), todo)
	}
	inv := &Inventory{}
	if err := inYAML(source, func() error { return decodeError(source, decode(body, inv, aliasBudget(data))) }); err != nil {
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

// document returns the body of the data's only non-empty YAML document.
func document(source string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var body *yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, Errors{syntaxError(source, data, err)}
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue
		}
		if body != nil {
			line, col := nodeLineCol(&doc)
			return nil, Errors{{File: source, Line: line, Col: col,
				Msg: "a second YAML document starts here; an inventory file holds one document: remove the --- separator or split the file"}}
		}
		body = doc.Content[0]
	}
	if body == nil {
		return nil, Errors{{File: source, Line: 1, Col: 1,
			Msg: "the inventory is empty; write at least name, probe, balancer, hosts, sides and upgrade (docs/inventory.md has a full example; demo/inventory.yaml is a working one)"}}
	}
	return body, nil
}

// yamlLine finds the line in go.yaml.in/yaml/v3's error texts ("yaml: line 4: …").
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// decodeError turns an error of decode ("line 4: …") into Errors. The shape pass has refused
// nearly everything the decoder could; what is left is an alias bomb or a bug.
func decodeError(source string, err error) error {
	if err == nil {
		return nil
	}
	msg, line := err.Error(), 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	return Errors{{File: source, Line: max(line, 1), Col: 1, Msg: fmt.Sprintf("invalid value: %s", redactDecode(msg))}}
}

// aliasBudget is how many nodes the shape pass and the decoder may visit: without aliases a file
// holds fewer nodes than bytes, so this allows each node to be visited a few times through aliases
// and stops a file whose aliases nest into billions of values.
func aliasBudget(data []byte) int {
	return 4*len(data) + 1024
}

// redactDecode drops the quoted value from "cannot unmarshal !!str `secret` into int": the value
// could be a password.
func redactDecode(msg string) string {
	if i := strings.Index(msg, "`"); i >= 0 {
		if j := strings.LastIndex(msg, "`"); j > i {
			return msg[:i] + "…" + msg[j+1:]
		}
	}
	return msg
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
