package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/cli"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Port bases of the labs of TestDiscoverLab and TestRundeckJobsUpgradeLab (each uses base … base+80).
const baseDiscover = 19000

// TestDiscoverLab runs `pitstop discover` against the real lab — its nginx over the lab's sshd, its
// PostgreSQL primary with a streaming standby — then fills the TODOs as an operator would, from the
// lab's own inventory, and runs the readonly plan on the result to the end.
func TestDiscoverLab(t *testing.T) {
	l := startLab(t, baseDiscover, true)
	want := l.Inv
	file := filepath.Join(t.TempDir(), "discovered.yaml")
	var stdout, stderr bytes.Buffer
	code := cli.Run([]string{"discover", "--balancer", "lb", "--ssh-config", want.SSHConfig, "--upstream", want.Balancer.Upstream,
		"--nginx-test", want.Balancer.Test, "--database", want.Hosts[want.Sides.Production.Database].Postgres, "-o", file}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("discover exit %d:\n%s", code, stderr.String())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	t.Logf("discovered:\n%s", text)
	for _, found := range []string{
		`upstream: "` + want.Balancer.Upstream + `" # found`,
		`file: "` + want.Balancer.File + `" # found`,
		`pid_file: "` + want.Balancer.PidFile + `" # found`,
		`serve: "` + want.Hosts["app-p1"].Serve + `" # found`,
		"database: \"db-backup\" # found: pg_stat_replication application_name db-backup",
	} {
		if !strings.Contains(text, found) {
			t.Errorf("the draft lacks %q", found)
		}
	}
	// The database given as an SSH target: psql runs there.
	conn := want.Hosts[want.Sides.Production.Database].Postgres
	m := regexp.MustCompile(`host=(\S+) port=(\d+) user=(\S+) dbname=(\S+)`).FindStringSubmatch(conn)
	if m == nil {
		t.Fatalf("the lab's connection string changed: %s", conn)
	}
	psql := fmt.Sprintf("/usr/lib/postgresql/15/bin/psql -h %s -p %s -U %s -d %s", m[1], m[2], m[3], m[4])
	var viaSSH, viaErr bytes.Buffer
	code = cli.Run([]string{"discover", "--balancer", "lb", "--ssh-config", want.SSHConfig, "--upstream", want.Balancer.Upstream,
		"--nginx-test", want.Balancer.Test, "--database", "db-prod", "--psql", psql}, &viaSSH, &viaErr)
	if code != 0 {
		t.Fatalf("discover --database over SSH: exit %d:\n%s", code, viaErr.String())
	}
	for _, found := range []string{"\"db-prod\":\n    ssh: \"db-prod\" # found: --database", "database: \"db-backup\" # found: pg_stat_replication application_name db-backup"} {
		if !strings.Contains(viaSSH.String(), found) {
			t.Errorf("the draft from psql over SSH lacks %q:\n%s", found, viaSSH.String())
		}
	}

	// Unfilled, plan refuses it with one error per TODO, each at its line.
	_, err = inventory.Load(file)
	es := inventory.AsErrors(err)
	todo := strings.Count(text, `"TODO:`)
	if todo == 0 || len(es) != todo {
		t.Fatalf("%d TODOs in the draft, %d errors:\n%v", todo, len(es), err)
	}
	lines := strings.Split(text, "\n")
	for _, e := range es {
		if !strings.Contains(lines[e.Line-1], "TODO") {
			t.Errorf("error %v is not on a TODO line", e)
		}
	}
	code = cli.Run([]string{"plan", "-i", file}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), file+":") || !strings.Contains(stderr.String(), "still a TODO") {
		t.Errorf("pitstop plan on the draft: exit %d, %s", code, stderr.String())
	}

	filled := fillLabTODOs(t, text, want)
	if err := os.WriteFile(file, []byte(filled), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(file)
	if err != nil {
		t.Fatalf("the filled draft: %v\n%s", err, filled)
	}
	if inv.Upstream(inventory.Production) != want.Upstream(inventory.Production) {
		t.Errorf("the discovered inventory's production upstream:\n%s\nthe lab's:\n%s", inv.Upstream(inventory.Production), want.Upstream(inventory.Production))
	}
	r := startRun(t, inv, runOptions{plan: steps.PlanReadonly, auto: true})
	if err := r.wait(3 * time.Minute); err != nil {
		t.Fatalf("readonly plan on the discovered inventory: %v", err)
	}
	if sum := r.summary(); sum.Status != steps.StatusDone || sum.Live != inventory.Production {
		t.Errorf("summary: %+v, want done with production live", sum)
	}
	l.assertVersion(t, "app-p1", "v2")
	l.assertVersion(t, "app-b1", "v2")
}

// fillLabTODOs replaces each TODO with the lab's value for that host and key, as an operator would,
// and adds the migration (discover cannot know it; the lab's v2 needs it).
func fillLabTODOs(t *testing.T, text string, lab *inventory.Inventory) string {
	t.Helper()
	todo := regexp.MustCompile(`^(\s*)(- |[a-z_]+: )"TODO:[^"]*"(.*)$`)
	hostKey := regexp.MustCompile(`^  "([^"]+)":$`)
	var out []string
	host, section := "", ""
	for _, line := range strings.Split(text, "\n") {
		if m := hostKey.FindStringSubmatch(line); m != nil {
			host = m[1]
		}
		if len(line) > 0 && line[0] != ' ' && line[0] != '#' {
			section = strings.TrimSuffix(line, ":")
		}
		m := todo.FindStringSubmatch(line)
		if m == nil {
			out = append(out, line)
			continue
		}
		key := strings.TrimSuffix(strings.TrimSpace(m[2]), ":")
		var v string
		switch {
		case key == "name":
			v = "shop (discovered)"
		case key == "url":
			v = lab.Probe.URL
		case key == "ssh":
			v = host // the lab's ssh_config has an alias per host
		case key == "serve":
			v = lab.Hosts[host].Serve
		case key == "postgres":
			v = lab.Hosts[host].Postgres
		case key == "version":
			v = lab.Upgrade.Version
		case key == "-" && strings.HasPrefix(section, "upgrade"):
			v = lab.Upgrade.Commands[0]
		}
		if v == "" {
			t.Fatalf("no lab value for TODO %q (host %q)", line, host)
		}
		out = append(out, m[1]+m[2]+quoteYAML(v))
	}
	filled := strings.Join(out, "\n")
	filled = strings.TrimRight(filled, "\n") + "\n  migrate:\n    commands:\n"
	for _, c := range lab.Upgrade.Migrate.Commands {
		filled += "      - " + quoteYAML(c) + "\n"
	}
	return filled
}

func quoteYAML(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
