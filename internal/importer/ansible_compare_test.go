package importer

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pitstop-ops/pitstop/internal/testenv"
)

// TestAnsibleAgreesWithAnsibleInventory compares the variables resolved for every host of the
// fixtures with what Ansible itself resolves (`ansible-inventory --list`). scripts/test installs
// ansible-core; elsewhere the test skips where it is missing (and fails under PITSTOP_REQUIRE_ALL).
func TestAnsibleAgreesWithAnsibleInventory(t *testing.T) {
	bin, err := exec.LookPath("ansible-inventory")
	if err != nil {
		testenv.Missing(t, "ansible-inventory is not installed (apt-get install -y ansible-core); nothing to compare with")
	}
	for _, file := range []string{"ansible.ini", "ansible.yaml", "ansible-precedence.ini"} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("testdata", file)
			out, err := exec.Command(bin, "-i", path, "--list").Output()
			if err != nil {
				t.Fatalf("ansible-inventory: %v", err)
			}
			var list struct {
				Meta struct {
					HostVars map[string]map[string]any `json:"hostvars"`
				} `json:"_meta"`
			}
			if err := json.Unmarshal(out, &list); err != nil {
				t.Fatal(err)
			}
			src, err := ReadAnsible(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(src.Nodes) != len(list.Meta.HostVars) {
				t.Errorf("%d hosts, Ansible has %d", len(src.Nodes), len(list.Meta.HostVars))
			}
			for name, want := range list.Meta.HostVars {
				n := src.Node(name)
				if n == nil {
					t.Errorf("host %s: missing", name)
					continue
				}
				for k, v := range want {
					if got, w := n.Attrs[k], fmt.Sprint(v); got != w {
						t.Errorf("host %s: %s = %q, Ansible says %q", name, k, got, w)
					}
				}
				if len(n.Attrs) != len(want) {
					t.Errorf("host %s: %d variables %v, Ansible has %d %v", name, len(n.Attrs), n.Attrs, len(want), want)
				}
			}
		})
	}
}
