package report_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/cli"
	"github.com/pitstop-ops/pitstop/internal/report"
	"github.com/pitstop-ops/pitstop/internal/testenv"
	"github.com/pitstop-ops/pitstop/steps"
)

// TestMain keeps the control sockets of the demo runs out of the user's runtime directory.
func TestMain(m *testing.M) {
	rt, err := os.MkdirTemp("", "pitstop-report-rt-")
	if err == nil {
		os.Setenv("XDG_RUNTIME_DIR", rt)
	}
	code := m.Run()
	os.RemoveAll(rt)
	os.Exit(code)
}

// demoJournal runs a demo plan headless and returns its journal.
func demoJournal(t *testing.T, args ...string) string {
	t.Helper()
	j := filepath.Join(t.TempDir(), "run.jsonl")
	var out, errb bytes.Buffer
	code := cli.Run(append([]string{"demo", "--auto-approve", "--speed", "25", "--seed", "7", "--journal", j}, args...), &out, &errb)
	if code > 1 {
		t.Fatalf("demo: exit %d\n%s", code, errb.String())
	}
	return j
}

func TestReportFromDemoJournal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a demo plan")
	}
	j := demoJournal(t, "--plan", "reverse-sync")
	evs, err := steps.ReadJournal(j)
	if err != nil {
		t.Fatal(err)
	}
	s := report.Build(evs, j, nil)
	if len(s.Phases) < 5 || len(s.Gates) < 5 || len(s.Commands) < 4 || len(s.Samples) < 20 || len(s.Links) == 0 {
		t.Fatalf("the session lacks data: %d phases, %d gates, %d commands, %d samples, %d links", len(s.Phases), len(s.Gates), len(s.Commands), len(s.Samples), len(s.Links))
	}
	for _, c := range s.Commands {
		if c.Exit == nil || c.Host == "" || c.Command == "" || c.Duration <= 0 {
			t.Errorf("a command lacks host, duration or exit status: %+v", c)
		}
	}
	if len(s.Refused) == 0 || len(s.Fenced) == 0 {
		t.Errorf("reverse-sync fences production and refuses writes: refused %v, fenced %v", s.Refused, s.Fenced)
	}
	var page bytes.Buffer
	if err := s.HTML(&page); err != nil {
		t.Fatal(err)
	}
	if missing := report.CheckHTML(page.String()); len(missing) > 0 {
		t.Errorf("the report lacks: %v", missing)
	}
	for _, want := range []string{"auto-approve approved", "passed: its conditions held", "sudo systemctl stop shop", "balancer sends traffic to production"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// TestReportCommand: pitstop report writes HTML by default and Markdown with SVG files beside it.
func TestReportCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a demo plan")
	}
	j := demoJournal(t, "--fault", "upgrade-fail")
	dir := filepath.Dir(j)
	var out, errb bytes.Buffer
	if code := cli.Run([]string{"report", j}, &out, &errb); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errb.String())
	}
	page, err := os.ReadFile(filepath.Join(dir, "run.html"))
	if err != nil {
		t.Fatal(err)
	}
	if missing := report.CheckHTML(string(page)); len(missing) > 0 {
		t.Errorf("the report lacks: %v", missing)
	}
	// The failed install shows its exit status, and the final state what to do.
	for _, want := range []string{`class="bad">100</td>`, "What to do next", "users are on the backup"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the report of a failed run lacks %q", want)
		}
	}
	md := filepath.Join(dir, "out", "r.md")
	os.MkdirAll(filepath.Dir(md), 0o755)
	out.Reset()
	if code := cli.Run([]string{"report", "--markdown", "-o", md, j}, &out, &errb); code != 0 {
		t.Fatalf("report --markdown: exit %d: %s", code, errb.String())
	}
	text, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Timeline", "## Users", "## Replication lag", "## Commands", "## State left at the end", "![Replication lag of every link](r-charts/replication-lag.svg)", "| 100 |"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
	for _, name := range []string{"timeline", "users-success", "users-latency", "served-by", "replication-lag"} {
		b, err := os.ReadFile(filepath.Join(dir, "out", "r-charts", name+".svg"))
		if err != nil || !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("chart %s.svg: %v", name, err)
		}
	}
	if code := cli.Run([]string{"report", filepath.Join(dir, "nope.jsonl")}, &out, &errb); code != 2 {
		t.Errorf("a missing journal: exit %d", code)
	}
}

// TestReportOpensInChromium: the page renders in a real browser to something that is not blank.
func TestReportOpensInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a demo plan and chromium")
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		testenv.Missing(t, "chromium is not installed (apt-get install -y chromium): the report is checked in a real browser")
	}
	j := demoJournal(t)
	html := strings.TrimSuffix(j, ".jsonl") + ".html"
	var out, errb bytes.Buffer
	if code := cli.Run([]string{"report", j, "-o", html}, &out, &errb); code != 0 {
		t.Fatalf("report: %s", errb.String())
	}
	start := time.Now()
	v, shot, err := report.Screenshot(html, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s in %s: luminance variance %.0f", shot, time.Since(start).Round(time.Millisecond), v)
	if v < 100 {
		t.Errorf("the screenshot is blank (variance %.1f)", v)
	}
	// The measure tells a blank page from a report.
	blank := filepath.Join(t.TempDir(), "blank.html")
	os.WriteFile(blank, []byte("<!DOCTYPE html><html><body></body></html>"), 0o644)
	if bv, _, err := report.Screenshot(blank, t.TempDir()); err != nil || bv >= 100 {
		t.Errorf("a blank page measures %.1f (%v)", bv, err)
	}
}
