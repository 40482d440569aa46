package lab

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/inventory"
)

// TestInventoryRendersWhatItBuilds parses the rendered inventory.yaml back and compares it with the
// inventory built in code, with and without SSH. It starts nothing.
func TestInventoryRendersWhatItBuilds(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "ssh"}[ssh], func(t *testing.T) {
			l, err := newLayout(Options{Dir: "/tmp/pitstop-lab-x", PortBase: 16900, SSH: ssh, Pitstop: "/usr/local/bin/pitstop"})
			if err != nil {
				t.Fatal(err)
			}
			want := l.inventory()
			yaml, err := renderInventory(l, want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := inventory.Parse("lab", []byte(yaml))
			if err != nil {
				t.Fatalf("the rendered inventory does not parse: %v\n%s", err, yaml)
			}
			want.Defaults()
			want.Source = got.Source
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parsed inventory differs from the one built:\n got %+v\nwant %+v\n%s", got, want, yaml)
			}
			if got.Balancer.File != "/tmp/pitstop-lab-x/nginx/upstream.conf" || got.Hosts["db-prod"].Postgres == got.Hosts["db-backup"].Postgres {
				t.Errorf("balancer file %q, databases %q / %q", got.Balancer.File, got.Hosts["db-prod"].Postgres, got.Hosts["db-backup"].Postgres)
			}
			if cmd := got.Expand(got.Upgrade.Commands[0], "app-b1"); cmd != "/tmp/pitstop-lab-x/bin/appctl restart app-b1 v2" {
				t.Errorf("upgrade command for app-b1: %q", cmd)
			}
		})
	}
}

// TestOptionsValidation checks the errors for options Up cannot use, before it touches anything.
func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want string
	}{
		{"space in dir", Options{Dir: "/tmp/my lab"}, "use only letters"},
		{"long dir", Options{Dir: "/tmp/" + strings.Repeat("d", 80)}, "too long"},
		{"low port base", Options{Dir: "/tmp/l", PortBase: 80}, "port base 80"},
		{"high port base", Options{Dir: "/tmp/l", PortBase: 32760}, "port base 32760"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newLayout(tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("newLayout: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestMissingProgram checks that a missing PostgreSQL names the package that installs it.
func TestMissingProgram(t *testing.T) {
	l, err := newLayout(Options{Dir: "/tmp/pitstop-lab-x", PGBin: "/nonexistent/bin"})
	if err != nil {
		t.Fatal(err)
	}
	err = checkPrograms(l)
	if !errors.Is(err, ErrMissingProgram) || !strings.Contains(err.Error(), "apt-get install -y postgresql-15") {
		t.Errorf("checkPrograms with no PostgreSQL: %v", err)
	}
}
