package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/steps"
)

// TestSetOverridesRunParameters: --set version=… changes the plan's version (commands and the direct
// verification), --set of a vars: name fills its {name} placeholder, an unknown name is refused with
// a suggestion, and a run records the values in its journal.
func TestSetOverridesRunParameters(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../inventory/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv := strings.Replace(string(src), "shop={version}", "shop={version} --channel {channel}", 1) + "vars:\n  channel: stable\n"
	file := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(file, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "plan", "-i", file, "--offline", "--set", "version=5.2.0", "--set", "channel=beta")
	if code != 0 {
		t.Fatalf("plan --set: exit %d: %s", code, errOut)
	}
	for _, w := range []string{"Run parameters: channel=beta, version=5.2.0", "app-p1$ sudo apt-get install -y shop=5.2.0 --channel beta",
		"expects version 5.2.0", steps.RenderedLabel + " — --offline"} {
		if !strings.Contains(out, w) {
			t.Errorf("plan --set lacks %q:\n%s", w, out)
		}
	}
	code, _, errOut = runCLI(t, "plan", "-i", file, "--offline", "--set", "chanel=beta")
	if code != exitBadInput || !strings.Contains(errOut, `did you mean "channel"?`) {
		t.Errorf("--set chanel: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "run", "-i", file, "--auto-approve", "--set", "verison=5")
	if code != exitBadInput || !strings.Contains(errOut, `did you mean "version"?`) {
		t.Errorf("run --set verison: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "plan", "-i", file, "--set", "version")
	if code != exitBadInput || !strings.Contains(errOut, "write name=value") {
		t.Errorf("--set without =: exit %d, %s", code, errOut)
	}

	journal := filepath.Join(dir, "j.jsonl")
	code, out, errOut = runCLI(t, "demo", "-i", file, "--auto-approve", "--speed", "50", "--seed", "3", "--journal", journal, "--set", "version=5.2.0")
	if code != 0 {
		t.Fatalf("demo --set: exit %d\n%s", code, tail(out+errOut))
	}
	evs, err := steps.ReadJournal(journal)
	if err != nil || len(evs) == 0 {
		t.Fatal(err)
	}
	var started *steps.Event
	for i := range evs {
		if evs[i].Kind == steps.EvPlanStarted {
			started = &evs[i]
			break
		}
	}
	if started == nil || started.Params["version"] != "5.2.0" || !strings.Contains(started.Text, "with version=5.2.0") {
		t.Errorf("the journal's plan-started event %+v does not record the run parameters", started)
	}
	if !strings.Contains(out, "sudo apt-get install -y shop=5.2.0 --channel stable") {
		t.Errorf("the demo run did not use the set version:\n%s", tail(out))
	}
	last := evs[len(evs)-1]
	if last.Summary == nil || !strings.Contains(last.Text, "users saw 0 failed reads") {
		t.Errorf("the run's last event does not say what users saw: %+v", last)
	}
}

// TestPlanDiffAgainstLiveFile: plan reads the balancer's upstream file and shows each switch's diff
// against it, the operator's own lines kept; when the file cannot be read it says the diff is
// rendered from the inventory and why.
func TestPlanDiffAgainstLiveFile(t *testing.T) {
	dir := t.TempDir()
	up := filepath.Join(dir, "shop.conf")
	live := "upstream shop_backend {\n    zone shop 64k;\n    server 10.0.1.11:8080 weight=4;\n    keepalive 16;\n}\n"
	if err := os.WriteFile(up, []byte(live), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../inventory/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv := strings.Replace(string(src), "/etc/nginx/conf.d/shop.conf", up, 1)
	inv = strings.Replace(inv, "  lb:\n    ssh: ops@lb\n", "  lb:\n    ssh: local\n", 1)
	file := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(file, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "plan", "-i", file)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errOut)
	}
	for _, w := range []string{"diff against the live file on lb, read now", "      zone shop 64k;", "-     server 10.0.1.11:8080 weight=4;",
		"+     server 10.0.2.11:8080; # app-b1", "      keepalive 16;", "+     server 10.0.1.11:8080; # app-p1"} {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "Pitstop switches") {
		t.Errorf("plan shows a line the live file does not have:\n%s", out)
	}
	os.Remove(up)
	_, out, _ = runCLI(t, "plan", "-i", file)
	if !strings.Contains(out, steps.RenderedLabel+" — the balancer's file could not be read") {
		t.Errorf("plan without the file:\n%s", out)
	}
}
