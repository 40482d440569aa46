package inventory

import (
	"os"
	"strings"
	"testing"
)

// withRundeck is testdata/valid.yaml with its upgrade command replaced by cmds (YAML list items) and
// the rundeck section added.
func withRundeck(t *testing.T, cmds, section string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "    - sudo apt-get install -y shop={version}\n", cmds, 1)
	return s + section
}

func TestRundeckCommand(t *testing.T) {
	t.Setenv("RD_URL", "")
	src := withRundeck(t, "    - sudo systemctl stop shop\n    - rundeck:\n        job: 3f2a-job\n        options: {version: \"{version}\", target: \"{host} {serve}\"}\n        filter: \"name: {host}\"\n",
		"rundeck:\n  url: http://127.0.0.1:4440\n  token_file: rd.token\n")
	inv, err := Parse("rd.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !inv.UsesRundeck() || len(inv.Upgrade.Commands) != 2 || inv.Upgrade.Commands[0] != "sudo systemctl stop shop" {
		t.Fatalf("commands %q", inv.Upgrade.Commands)
	}
	app := inv.Sides.Production.Apps[0]
	got := inv.Expand(inv.Upgrade.Commands[1], app)
	j, ok, err := ParseRundeckJob(got)
	if !ok || err != nil {
		t.Fatalf("expanded %q: %v", got, err)
	}
	if j.Job != "3f2a-job" || j.Options["version"] != inv.Upgrade.Version || j.Options["target"] != app+" "+inv.Hosts[app].Serve || j.Filter != "name: "+app {
		t.Errorf("expanded job %+v", j)
	}
	if inv.Rundeck.URL != "http://127.0.0.1:4440" || inv.Rundeck.TokenFile != "rd.token" {
		t.Errorf("rundeck config %+v", inv.Rundeck)
	}
	// A shell command keeps its shell quoting.
	if got := inv.Expand("echo {host}", "a b"); got != "echo 'a b'" {
		t.Errorf("shell expansion %q", got)
	}
}

func TestRundeckCommandErrors(t *testing.T) {
	t.Setenv("RD_URL", "")
	for _, tc := range []struct{ name, cmds, section, want string }{
		{"unknown field", "    - rundeck: {jobb: x}\n", "rundeck: {url: http://127.0.0.1:4440}\n", "rd.yaml:35:17: "},
		{"no job", "    - rundeck: {options: {version: \"{version}\"}}\n", "rundeck: {url: http://127.0.0.1:4440}\n", "upgrade.commands[0] is a Rundeck job without job:"},
		{"bad placeholder", "    - rundeck: {job: x, options: {v: \"{verison}\"}}\n", "rundeck: {url: http://127.0.0.1:4440}\n", "uses {verison}, which is not a placeholder"},
		{"no url", "    - rundeck: {job: x}\n", "", "rundeck.url is missing and RD_URL is not set"},
		{"bad url", "    - rundeck: {job: x}\n", "rundeck: {url: ftp://x}\n", "rundeck.url must start with http:// or https://"},
		{"number option", "    - rundeck: {job: x, options: {version: 2.10}}\n", "rundeck: {url: http://127.0.0.1:4440}\n", "YAML reads as a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("rd.yaml", []byte(withRundeck(t, tc.cmds, tc.section)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	t.Setenv("RD_URL", "http://127.0.0.1:4440")
	if _, err := Parse("rd.yaml", []byte(withRundeck(t, "    - rundeck: {job: x}\n", ""))); err != nil {
		t.Errorf("with RD_URL set: %v", err)
	}
}

func TestRundeckFixtureLoads(t *testing.T) {
	t.Setenv("RD_URL", "")
	data, err := os.ReadFile("testdata/rundeck.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Parse("rundeck.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Upgrade.Commands) != 2 || len(inv.Upgrade.Migrate.Commands) != 1 || !inv.UsesRundeck() || inv.Rundeck.APIVersion != 41 {
		t.Errorf("loaded %+v", inv.Upgrade)
	}
	if err := inv.Validate(); err != nil {
		t.Errorf("validate again: %v", err)
	}
}
