package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMessageTemplatesHaveNoHoles reads every string literal of the module's code (tests aside) and
// fails on the shapes that print a hole or a prefix said twice: ": :", " is :", ": ;" and a
// doubled "on HOST:" ("on %s: on %s:").
func TestMessageTemplatesHaveNoHoles(t *testing.T) {
	doubledOn := regexp.MustCompile(`\bon [^\s:]+: on [^\s:]+:`)
	root := filepath.Join("..", "..")
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, hole := range []string{": :", " is :", ": ;"} {
				if strings.Contains(s, hole) {
					t.Errorf("%s: message template %q has the hole %q", fset.Position(lit.Pos()), s, hole)
				}
			}
			if doubledOn.MatchString(s) {
				t.Errorf("%s: message template %q says \"on HOST:\" twice", fset.Position(lit.Pos()), s)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read only %d Go files under %s: the test is not looking at the module", files, root)
	}
}

// TestInventoryLongFlag: --inventory is the long form of -i for every command that takes one.
func TestInventoryLongFlag(t *testing.T) {
	for _, cmd := range []string{"plan", "check", "watch", "switch", "run", "demo"} {
		code, _, errOut := runCLI(t, cmd, "--inventory", "/nonexistent/inv.yaml", "--help")
		if code != exitOK || strings.Contains(errOut, "flag provided but not defined") {
			t.Errorf("pitstop %s --inventory FILE --help: exit %d, %s", cmd, code, errOut)
		}
	}
	code, out, errOut := runCLI(t, "plan", "--inventory", "demo")
	if code != exitOK || !strings.Contains(out, "Plan readonly for demo-shop") {
		t.Errorf("pitstop plan --inventory demo: exit %d\n%s%s", code, out, errOut)
	}
}

// TestPlanSaysEachHostOnce: `pitstop plan` names the host of a database step once ("on db-prod:
// CREATE SUBSCRIPTION …"), never "on db-prod: on db-prod:".
func TestPlanSaysEachHostOnce(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "-i", "demo", "--plan", "reverse-sync")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	doubled := regexp.MustCompile(`on ([^\s:,]+)(, [^\s:]+)*: on `)
	for _, l := range strings.Split(out, "\n") {
		if doubled.MatchString(l) {
			t.Errorf("plan says the host twice: %s", l)
		}
	}
	if !strings.Contains(out, "on db-prod: CREATE SUBSCRIPTION") {
		t.Errorf("plan lacks the reverse sync's subscription on db-prod:\n%s", out)
	}
}
