package inventory

import (
	"os"
	"strings"
	"testing"
)

// TestTODOValuesReportedByLine checks that a value left as TODO (as pitstop import and discover write
// them) is an error at its line, and that other complaints about that line are not added.
func TestTODOValuesReportedByLine(t *testing.T) {
	data, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("valid.yaml", data); err != nil {
		t.Fatalf("fixture invalid: %v", err)
	}
	lines := strings.Split(string(data), "\n")
	want := map[int]string{}
	for i, l := range lines {
		for _, key := range []string{"upstream:", "serve:"} {
			if strings.HasPrefix(strings.TrimSpace(l), key) && len(want) < 2 {
				if _, dup := want[i+1]; !dup && !strings.Contains(strings.Join(values(want), ""), key) {
					lines[i] = l[:strings.Index(l, key)+len(key)] + ` "TODO: the ` + key + ` value"`
					want[i+1] = key
				}
			}
		}
	}
	if len(want) != 2 {
		t.Fatalf("fixture lacks upstream: or serve: (%v)", want)
	}
	_, err = Parse("todo.yaml", []byte(strings.Join(lines, "\n")))
	es := AsErrors(err)
	if len(es) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	for _, e := range es {
		key, ok := want[e.Line]
		if !ok || e.Msg != "still a TODO: write the "+key+" value" {
			t.Errorf("error %v; want one at each of %v", e, want)
		}
	}
}

func values(m map[int]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestIsTODO(t *testing.T) {
	for v, want := range map[string]bool{"TODO": true, "TODO: the url": true, " TODO fill": true, "TODOist": false, "todo: x": false, "shop": false} {
		if isTODO(v) != want {
			t.Errorf("isTODO(%q) = %t", v, !want)
		}
	}
}
