package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/internal/cli"
	"github.com/pitstop-ops/pitstop/internal/report"
	"github.com/pitstop-ops/pitstop/internal/testenv"
	"github.com/pitstop-ops/pitstop/steps"
)

// baseReport is the report test's lab (21100 … 21180).
const baseReport = 21100

// TestReportFromLabRun runs the readonly plan headless on the real lab under load, as pitstop run
// does, then renders the session report from its journal: every section and chart is there, the
// commands carry their hosts and exit statuses, and Chromium renders the page to something not blank.
func TestReportFromLabRun(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // the run's control socket
	l := startLab(t, baseReport, false)
	startLoad(t, l)
	dir := t.TempDir()
	journal := filepath.Join(dir, "lab-run.jsonl")
	// An upgrade of 1.5 s keeps users on the backup across several readings (every 500 ms): the lab's
	// own takes a few hundred milliseconds, and the served-by series checked below might miss it.
	inv := withFirstUpgrade(t, l, "report.yaml", "sleep 1.5")
	var out, errb bytes.Buffer
	if code := cli.Run([]string{"run", "-i", inv, "--auto-approve", "--journal", journal}, &out, &errb); code != 0 {
		t.Fatalf("pitstop run: exit %d\n%s\n%s", code, tail(out.String(), 20), errb.String())
	}
	// pitstop check --json on the real lab: one documented object per check, all ok.
	out.Reset()
	if code := cli.Run([]string{"check", "-i", l.Report.Inventory, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("pitstop check --json: exit %d\n%s%s", code, out.String(), errb.String())
	}
	checks := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var c struct{ Status, Host, Text string }
		if err := json.Unmarshal([]byte(line), &c); err != nil || c.Text == "" || (c.Status != "ok" && c.Status != "note") {
			t.Errorf("check --json line %q: %v", line, err)
		}
		checks++
	}
	if checks < 5 {
		t.Errorf("check --json printed %d checks", checks)
	}
	evs, err := steps.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	s := report.Build(evs, journal, l.Inv)
	if len(s.Commands) == 0 || len(s.Samples) < 10 {
		t.Fatalf("the lab journal gives %d commands, %d readings", len(s.Commands), len(s.Samples))
	}
	for _, c := range s.Commands {
		if c.Exit == nil || *c.Exit != 0 || c.Host == "" {
			t.Errorf("command %+v: want a host and exit 0", c)
		}
	}
	served := map[string]bool{}
	for _, m := range s.Samples {
		served[m.Served] = true
	}
	if !served["production"] || !served["backup"] {
		t.Errorf("with the lab's inventory the served-by series names both sides; got %v", served)
	}
	html := filepath.Join(dir, "report.html")
	if code := cli.Run([]string{"report", journal, "-i", inv, "-o", html}, &out, &errb); code != 0 {
		t.Fatalf("pitstop report: exit %d: %s", code, errb.String())
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if missing := report.CheckHTML(string(page)); len(missing) > 0 {
		t.Errorf("the report lacks: %v", missing)
	}
	for _, want := range []string{"db-", "readonly plan on", "switched users from production to backup", "balancer sends traffic to production"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		testenv.Missing(t, "chromium is not installed (apt-get install -y chromium): the report is checked in a real browser")
	}
	v, shot, err := report.Screenshot(html, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report %s (%d bytes), screenshot %s: luminance variance %.0f", html, len(page), shot, v)
	if v < 100 {
		t.Errorf("the report's screenshot is blank (variance %.1f)", v)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
