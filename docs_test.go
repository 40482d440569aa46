package main

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/goccy/go-yaml"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// fragmentMarker starts a ```yaml block that shows only part of an inventory: it is checked for YAML
// syntax, not loaded as an inventory.
const fragmentMarker = "# fragment"

// mdDoc is one Markdown file of the documentation, parsed.
type mdDoc struct {
	path    string
	src     []byte
	anchors map[string]bool
	links   []mdLink
	yaml    []mdBlock
}

type mdLink struct {
	dest string
	line int
}

type mdBlock struct {
	text string
	line int
}

// docFiles lists the documentation the tests check: README.md, BENCHMARKS.md and docs/*.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no docs/*.md found: run the test from the repository root")
	}
	return append([]string{"README.md", "BENCHMARKS.md"}, pages...)
}

func parseDoc(t *testing.T, path string) *mdDoc {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := &mdDoc{path: path, src: src, anchors: map[string]bool{}}
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	root := md.Parser().Parse(text.NewReader(src))
	seen := map[string]int{}
	err = ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			slug := githubSlug(plainText(n, src))
			// GitHub numbers repeated headings: x, x-1, x-2, …
			if k := seen[slug]; k > 0 {
				seen[slug]++
				slug = fmt.Sprintf("%s-%d", slug, k)
			} else {
				seen[slug] = 1
			}
			d.anchors[slug] = true
		case *ast.Link:
			d.links = append(d.links, mdLink{dest: string(n.Destination), line: lineOf(src, n)})
		case *ast.Image:
			d.links = append(d.links, mdLink{dest: string(n.Destination), line: lineOf(src, n)})
		case *ast.FencedCodeBlock:
			if string(n.Language(src)) == "yaml" {
				var b strings.Builder
				lines := n.Lines()
				for i := 0; i < lines.Len(); i++ {
					seg := lines.At(i)
					b.Write(seg.Value(src))
				}
				line := 0
				if lines.Len() > 0 {
					line = bytes.Count(src[:lines.At(0).Start], []byte("\n")) + 1
				}
				d.yaml = append(d.yaml, mdBlock{text: b.String(), line: line})
			}
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// plainText is a heading's text as GitHub slugs it: text and code spans, without markup.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
		case *ast.String:
			b.Write(c.Value)
		default:
			b.WriteString(plainText(c, src))
		}
	}
	return b.String()
}

// githubSlug makes a heading's anchor the way GitHub does (github-slugger): lower case, every
// character that is not a letter, a digit, a mark, '_' or '-' dropped, each space made a '-'.
func githubSlug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lineOf finds the line of an inline node from its first text segment, or of its parent block.
func lineOf(src []byte, n ast.Node) int {
	for c := n; c != nil; c = c.Parent() {
		if t, ok := c.FirstChild().(*ast.Text); ok {
			return bytes.Count(src[:t.Segment.Start], []byte("\n")) + 1
		}
		if c.Type() == ast.TypeBlock && c.Lines().Len() > 0 {
			return bytes.Count(src[:c.Lines().At(0).Start], []byte("\n")) + 1
		}
	}
	return 0
}

func TestGithubSlug(t *testing.T) {
	for in, want := range map[string]string{
		"The demo world: rehearse an upgrade with zero setup":    "the-demo-world-rehearse-an-upgrade-with-zero-setup",
		"`pitstop lab bench`: downtime with and without Pitstop": "pitstop-lab-bench-downtime-with-and-without-pitstop",
		"Running commands on hosts (package `remote`)":           "running-commands-on-hosts-package-remote",
		"`--speed`":                                                      "--speed",
		"What runs where (port base B = 16000)":                          "what-runs-where-port-base-b--16000",
		"Remote commands on 10 hosts (package `remote`)":                 "remote-commands-on-10-hosts-package-remote",
		"What users see during an upgrade, with and without Pitstop (x)": "what-users-see-during-an-upgrade-with-and-without-pitstop-x",
	} {
		if got := githubSlug(in); got != want {
			t.Errorf("githubSlug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDocLinks checks that every relative link in the documentation points at a file that exists
// and every #anchor at a heading of its page.
func TestDocLinks(t *testing.T) {
	docs := map[string]*mdDoc{}
	for _, f := range docFiles(t) {
		docs[filepath.Clean(f)] = parseDoc(t, f)
	}
	checked := 0
	for _, d := range docs {
		for _, l := range d.links {
			u, err := url.Parse(l.dest)
			if err != nil {
				t.Errorf("%s:%d: link %q does not parse: %v", d.path, l.line, l.dest, err)
				continue
			}
			if u.Scheme != "" || u.Host != "" {
				continue // external: not checked here, the test runs without a network
			}
			target := d.path
			if u.Path != "" {
				target = filepath.Clean(filepath.Join(filepath.Dir(d.path), u.Path))
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s:%d: link %q: %s does not exist", d.path, l.line, l.dest, target)
					continue
				}
			}
			checked++
			if u.Fragment == "" {
				continue
			}
			td, ok := docs[target]
			if !ok {
				if !strings.HasSuffix(target, ".md") {
					t.Errorf("%s:%d: link %q: an anchor into %s, which is not Markdown", d.path, l.line, l.dest, target)
					continue
				}
				td = parseDoc(t, target)
				docs[target] = td
			}
			if !td.anchors[u.Fragment] {
				t.Errorf("%s:%d: link %q: %s has no heading with anchor #%s", d.path, l.line, l.dest, target, u.Fragment)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d relative links found in the documentation; the parser is not seeing them", checked)
	}
}

// TestDocInventoryExamples loads every ```yaml block of the documentation with inventory.Load, the
// call pitstop makes, so a broken example fails here. A block starting with "# fragment" shows part
// of an inventory and is only checked to be valid YAML.
func TestDocInventoryExamples(t *testing.T) {
	complete := 0
	for _, f := range docFiles(t) {
		d := parseDoc(t, f)
		for _, b := range d.yaml {
			where := fmt.Sprintf("%s:%d", d.path, b.line)
			if strings.HasPrefix(b.text, fragmentMarker) {
				var v any
				if err := yaml.Unmarshal([]byte(b.text), &v); err != nil {
					t.Errorf("%s: fragment is not valid YAML: %v", where, err)
				}
				continue
			}
			complete++
			t.Run(strings.ReplaceAll(where, "/", "_"), func(t *testing.T) {
				err := loadExample(t.TempDir(), b.text)
				if err == nil {
					return
				}
				t.Errorf("%s: the inventory example does not load (mark a partial one with %q)", where, fragmentMarker)
				es := inventory.AsErrors(err)
				if es == nil {
					t.Error(err)
				}
				for _, e := range es { // positions in the example, made positions in the page
					t.Errorf("%s:%d:%d: %s", d.path, b.line+e.Line-1, e.Col, e.Msg)
				}
			})
		}
	}
	if complete < 2 {
		t.Errorf("found %d complete inventory examples, want at least 2 (README's minimal one, docs/inventory.md's full one)", complete)
	}
}

// loadExample writes an example to dir and loads it as pitstop does. An ssh_config file the
// example may name (ssh/config, relative to it) is created empty, since Load requires it to exist.
func loadExample(dir, example string) error {
	if err := os.MkdirAll(filepath.Join(dir, "ssh"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ssh", "config"), nil, 0o600); err != nil {
		return err
	}
	file := filepath.Join(dir, "example.yaml")
	if err := os.WriteFile(file, []byte(example), 0o600); err != nil {
		return err
	}
	_, err := inventory.Load(file)
	return err
}

// docPointer is how code points a reader at the documentation: "see docs/troubleshooting.md#fence".
var docPointer = regexp.MustCompile(`(?:docs/[A-Za-z0-9_-]+|README|BENCHMARKS)\.md(?:#[A-Za-z0-9_-]+)?`)

// TestCodeDocPointers checks that every docs page and anchor named in the Go code (messages,
// comments) and in demo/inventory.yaml exists, so a message never sends an operator to nowhere.
func TestCodeDocPointers(t *testing.T) {
	docs := map[string]*mdDoc{}
	found := 0
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") && path != "." {
			return filepath.SkipDir
		}
		if e.IsDir() || !(strings.HasSuffix(path, ".go") || path == filepath.Join("demo", "inventory.yaml")) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range docPointer.FindAllIndex(src, -1) {
			found++
			ref := string(src[m[0]:m[1]])
			line := bytes.Count(src[:m[0]], []byte("\n")) + 1
			file, frag, _ := strings.Cut(ref, "#")
			if _, err := os.Stat(file); err != nil {
				t.Errorf("%s:%d: %s: %s does not exist", path, line, ref, file)
				continue
			}
			if frag == "" {
				continue
			}
			if docs[file] == nil {
				docs[file] = parseDoc(t, file)
			}
			if !docs[file].anchors[frag] {
				t.Errorf("%s:%d: %s: %s has no heading with anchor #%s", path, line, ref, file, frag)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Error("no pointer to the documentation found in the code; the scan is broken")
	}
}

// TestPackageComments checks that every package of the module says what it is for in a package
// comment ("Package NAME …", or "Command NAME …" for main), so `go doc ./PKG` answers a contributor.
func TestPackageComments(t *testing.T) {
	dirs := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && path != "." && (strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !e.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 15 {
		t.Fatalf("found %d package directories; the walk is broken", len(dirs))
	}
	for dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		documented := false
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			want := "Package " + af.Name.Name + " "
			if af.Name.Name == "main" {
				want = "Command "
			}
			if af.Doc != nil && strings.HasPrefix(af.Doc.Text(), want) {
				documented = true
			}
		}
		if !documented {
			t.Errorf("%s: no package comment; add one saying in a paragraph what the package is for", dir)
		}
	}
}
