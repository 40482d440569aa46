package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/control"
	"github.com/pitstop-ops/pitstop/steps"
)

// The JSON outputs are checked against the schemas documented in docs/pairing-and-scripting.md:
// every field written is documented, and every documented field that is not optional (type without
// "?") is written wherever its parent is.

const schemaDoc = "../../docs/pairing-and-scripting.md"

type schema struct {
	name     string
	fields   map[string]bool // path → required
	maps     map[string]bool // paths documented as a{} (keyed by a name)
	embedded map[string]string
}

var schemaRow = regexp.MustCompile("^\\| `([^`]+)` \\| ([^|]+) \\|")

func loadSchema(t *testing.T, name string) *schema {
	t.Helper()
	b, err := os.ReadFile(schemaDoc)
	if err != nil {
		t.Fatal(err)
	}
	s := &schema{name: name, fields: map[string]bool{}, maps: map[string]bool{}, embedded: map[string]string{}}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "<!-- schema: ") {
			in = strings.TrimSuffix(strings.TrimPrefix(l, "<!-- schema: "), " -->") == name
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(l, "|") && len(s.fields) > 0 {
			break
		}
		m := schemaRow.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		path, typ := m[1], strings.TrimSpace(m[2])
		// Arrays and maps hold objects whose fields are documented under them: a[].b is a.b here.
		path = strings.ReplaceAll(path, "[]", "")
		if i := strings.Index(path, "{}"); i >= 0 {
			s.maps[path[:i]] = true
			path = strings.ReplaceAll(path, "{}", "")
		}
		s.fields[path] = !strings.HasSuffix(typ, "?")
	}
	if len(s.fields) == 0 {
		t.Fatalf("%s documents no schema %q", schemaDoc, name)
	}
	if name == "event" {
		s.embedded["readings"] = "readings"
	}
	return s
}

// norm turns a concrete path into its documented form: array indexes and map keys dropped.
type walker struct {
	t        *testing.T
	s        *schema
	seen     map[string]bool
	nonEmpty map[string]bool
	subs     map[string][]any
}

func (w *walker) walk(prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		if w.s.maps[prefix] {
			if len(x) > 0 {
				w.nonEmpty[prefix] = true
			}
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					w.walkObj(prefix, m)
				}
			}
			return
		}
		w.walkObj(prefix, x)
	case []any:
		if len(x) > 0 {
			w.nonEmpty[prefix] = true
		}
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				w.walkObj(prefix, m)
			}
		}
	}
}

func (w *walker) walkObj(prefix string, m map[string]any) {
	if prefix != "" {
		w.nonEmpty[prefix] = true
	}
	for k, v := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		if _, ok := w.s.fields[p]; !ok {
			w.t.Errorf("%s: field %q is written but not documented in %s", w.s.name, p, schemaDoc)
			continue
		}
		w.seen[p] = true
		if sub, ok := w.s.embedded[p]; ok {
			w.subs[sub] = append(w.subs[sub], v)
			continue
		}
		w.walk(p, v)
	}
}

// validate checks objects against the schema name and returns how many fields it saw.
func validate(t *testing.T, name string, objs []any) int {
	t.Helper()
	s := loadSchema(t, name)
	w := &walker{t: t, s: s, seen: map[string]bool{}, nonEmpty: map[string]bool{"": true}, subs: map[string][]any{}}
	for _, o := range objs {
		m, ok := o.(map[string]any)
		if !ok {
			t.Fatalf("%s: not a JSON object: %v", name, o)
		}
		w.walkObj("", m)
	}
	var missing []string
	for p, req := range s.fields {
		parent := ""
		if i := strings.LastIndex(p, "."); i >= 0 {
			parent = p[:i]
		}
		if req && w.nonEmpty[parent] && !w.seen[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s: documented fields never written: %v", name, missing)
	}
	for sub, vs := range w.subs {
		validate(t, sub, vs)
	}
	return len(w.seen)
}

func decodeLines(t *testing.T, out string) []any {
	t.Helper()
	var objs []any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not JSON: %v: %q", err, l)
		}
		objs = append(objs, v)
	}
	return objs
}

func TestJSONPlanMatchesDocs(t *testing.T) {
	var objs []any
	for _, plan := range []string{"readonly", "reverse-sync"} {
		code, out, errOut := runCLI(t, "plan", "-i", "demo", "--plan", plan, "--json")
		if code != 0 {
			t.Fatalf("plan --json: %d %s", code, errOut)
		}
		objs = append(objs, decodeLines(t, out)...)
	}
	if len(objs) != 2 {
		t.Fatalf("plan --json printed %d objects, want one per plan", len(objs))
	}
	t.Logf("%d documented fields seen", validate(t, "plan", objs))
}

func TestJSONWatchMatchesDocs(t *testing.T) {
	code, out, errOut := runCLI(t, "watch", "-i", "demo", "--count", "3", "--every", "300ms", "--json")
	if code != 0 {
		t.Fatalf("watch --json: %d %s", code, errOut)
	}
	objs := decodeLines(t, out)
	if len(objs) != 3 {
		t.Fatalf("watch --count 3 printed %d objects", len(objs))
	}
	validate(t, "event", objs)
}

func TestJSONCheckMatchesDocs(t *testing.T) {
	var b bytes.Buffer
	c := &checkJSON{out: &jsonLines{w: &b}}
	c.Write([]byte("ok    lb: reachable, host key known\nFAIL  db-prod: reachable: dial tcp: connection refused\nnote  reverse-sync plan not possible yet (x): y\nok    users: 100.0% over 3 requests"))
	c.flush() // the last line had no newline
	c.flush()
	objs := decodeLines(t, b.String())
	if len(objs) != 4 {
		t.Fatalf("%d objects from 4 lines", len(objs))
	}
	validate(t, "check", objs)
	var first, second checkLine
	json.Unmarshal([]byte(strings.Split(b.String(), "\n")[0]), &first)
	json.Unmarshal([]byte(strings.Split(b.String(), "\n")[1]), &second)
	if first != (checkLine{Status: "ok", Host: "lb", Text: "lb: reachable, host key known"}) || second.Status != "fail" || second.Host != "db-prod" {
		t.Errorf("check lines: %+v %+v", first, second)
	}
}

// TestJSONHeadlessAndStatusMatchDocs: a headless demo with --json prints the journal's events (each
// documented), and status --json at a gate matches its schema.
func TestJSONHeadlessAndStatusMatchDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary through a demo plan")
	}
	bin := pitstopBinary(t)
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir())
	journal := filepath.Join(t.TempDir(), "j.jsonl")
	run := exec.Command(bin, "demo", "--headless", "--json", "--plan", "reverse-sync", "--speed", "25", "--seed", "7", "--operator", "driver", "--journal", journal)
	run.Env = env
	var out, errb bytes.Buffer
	run.Stdout, run.Stderr = &out, &errb
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	t.Cleanup(func() { run.Process.Kill() })
	var statuses []any
	deadline := time.Now().Add(3 * time.Minute)
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("headless demo: %v\n%s", err, errb.String())
			}
			finished = true
			continue
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not end in 3 minutes")
		}
		c := exec.Command(bin, "status", "-i", "demo", "--json")
		c.Env = env
		js, err := c.Output()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var st control.Status
		json.Unmarshal(js, &st)
		if st.Gate != nil && st.Gate.Ready {
			var v any
			json.Unmarshal(js, &v)
			statuses = append(statuses, v)
			a := exec.Command(bin, "approve", "-i", "demo", "--gate", st.Gate.ID, "--operator", "bob")
			a.Env = env
			a.Run()
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(errb.String(), "journal: "+journal) {
		t.Errorf("with --json the journal's path goes to stderr: %q", errb.String())
	}
	events := decodeLines(t, out.String())
	kinds := map[string]bool{}
	for _, e := range events {
		kinds[e.(map[string]any)["kind"].(string)] = true
	}
	for _, k := range []string{"plan-started", "gate-waiting", "gate-decided", "command-finished", "readings", "switched", "plan-finished"} {
		if !kinds[k] {
			t.Errorf("no %s event on stdout", k)
		}
	}
	validate(t, "event", events)
	// stdout holds exactly the journal's events; the journal's first line is its header, not an event.
	jb, _ := os.ReadFile(journal)
	var jl []string
	for _, l := range strings.Split(strings.TrimSpace(string(jb)), "\n") {
		if !strings.Contains(l, `"kind":"`+string(steps.EvJournalOpened)+`"`) {
			jl = append(jl, l)
		}
	}
	if strings.Join(jl, "\n") != strings.TrimSpace(out.String()) {
		t.Errorf("stdout (%d bytes) differs from the journal's events (%d bytes)", out.Len(), len(strings.Join(jl, "\n")))
	}
	if len(statuses) == 0 {
		t.Fatal("no status taken at a gate")
	}
	validate(t, "status", statuses)
}
