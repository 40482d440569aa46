package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it returns is positioned in the source,
// and that whatever it accepts passes validation again and can be used (upstreams rendered, commands
// expanded).
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, "../demo/inventory.yaml")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{"", "a: [", "name: &a x\nprobe: *a\n", "hosts:\n  x:\n    <<: *y\n", "- {}: []"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse("fuzz.yaml", data)
		if err != nil {
			es := AsErrors(err)
			if len(es) == 0 {
				t.Fatalf("Parse returned a %T, not Errors: %v", err, err)
			}
			for _, e := range es {
				if e.File != "fuzz.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Fatalf("error without a position or message: %#v", e)
				}
			}
			return
		}
		if err := inv.Validate(); err != nil {
			t.Fatalf("Parse accepted an inventory that Validate rejects: %v", err)
		}
		for _, side := range []Side{Production, Backup} {
			_ = inv.Upstream(side)
		}
		cmds := append(append([]string{}, inv.Upgrade.Commands...), inv.ReverseSync.Rebuild...)
		for _, c := range cmds {
			for _, h := range inv.HostNames() {
				_ = inv.Expand(c, h)
			}
		}
	})
}
