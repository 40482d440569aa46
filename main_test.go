package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/steps"
)

// runCLI runs the command line in-process and returns the exit code and both outputs.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDemoAutoApprove(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulated demo plans")
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		want     []string // in stdout+stderr
		wantJrnl steps.Kind
	}{
		{"readonly", nil, 0, []string{"plan readonly finished", "balancer sends traffic to production"}, steps.EvPlanFinished},
		{"reverse-sync", []string{"--plan", "reverse-sync"}, 0, []string{"plan reverse-sync finished", "step advance-sequences done", "step rebuild-backup done"}, steps.EvPlanFinished},
		{"nginx-test", []string{"--fault", "nginx-test"}, 1, []string{`step "switch-to-backup"`, "host not found in upstream", "balancer sends traffic to production"}, steps.EvPlanFinished},
		{"upgrade-fail", []string{"--fault", "upgrade-fail"}, 1, []string{`step "upgrade-production"`, "on [app-p1]", "status 100", "balancer sends traffic to backup"}, steps.EvPlanFinished},
		{"ssh-drop", []string{"--fault", "ssh-drop"}, 1, []string{`step "upgrade-production"`, "app-p1", "connection to host lost", "half-run"}, steps.EvPlanFinished},
		{"lag-spike", []string{"--fault", "lag-spike"}, 0, []string{"plan readonly finished"}, steps.EvPlanFinished},
		{"standby-down", []string{"--fault", "standby-down"}, 1, []string{`step "preflight"`, "db-backup is not streaming", "balancer sends traffic to production"}, steps.EvPlanFinished},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			journal := filepath.Join(t.TempDir(), "j.jsonl")
			args := append([]string{"demo", "--auto-approve", "--speed", "25", "--seed", "7", "--journal", journal}, tc.args...)
			code, out, errOut := runCLI(t, args...)
			all := out + errOut
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, tail(all))
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q\n%s", w, tail(all))
				}
			}
			evs, err := steps.ReadJournal(journal)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 || evs[len(evs)-1].Kind != tc.wantJrnl {
				t.Fatalf("journal does not end with %s (%d events)", tc.wantJrnl, len(evs))
			}
			if tc.code == 1 {
				// A connection cut mid-command is never re-run on its own.
				if tc.name == "ssh-drop" && strings.Count(out, "app-p1 | $ sudo apt-get install") != 1 {
					t.Errorf("the cut command ran %d times", strings.Count(out, "app-p1 | $ sudo apt-get install"))
				}
			}
		})
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

func TestPlanPrintsCommandsAndDiff(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "-i", "demo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{
		"Plan readonly for demo-shop",
		"app-p2$ sudo apt-get install -y shop=2.4.0",
		"app-p1$ sudo -u shop shop-migrate up",
		"-     server 10.0.1.11:8080; # app-p1",
		"+     server 10.0.2.11:8080; # app-b1",
		"GET /health on each of app-p1, app-p2 directly; expects version 2.4.0",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q", w)
		}
	}
	code, out, _ = runCLI(t, "plan", "-i", "demo", "--plan", "reverse-sync")
	if code != 0 || !strings.Contains(out, "pg_basebackup") || !strings.Contains(out, "Promote db-backup") {
		t.Fatalf("reverse-sync plan: exit %d\n%s", code, out)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nprobe:\n  url: not a url\n  colour: red\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage:"},
		{"unknown command", []string{"fly"}, `unknown command "fly"`},
		{"plan without inventory", []string{"plan"}, "-i FILE is required"},
		{"missing file", []string{"plan", "-i", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"bad inventory", []string{"plan", "-i", bad}, bad + ":4:3:"},
		{"unknown plan", []string{"plan", "-i", "demo", "--plan", "yolo"}, `unknown plan "yolo"`},
		{"unknown fault", []string{"demo", "--fault", "meteor"}, "meteor"},
		{"bad speed", []string{"demo", "--speed", "-3"}, "out of range"},
		{"demo without terminal", []string{"demo"}, "no terminal"},
		{"run without terminal", []string{"run", "-i", "demo"}, "no terminal"},
		{"stray argument", []string{"plan", "-i", "demo", "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitBadInput, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, errOut)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"--version"}, {"demo", "--help"}, {"run", "--help"}, {"plan", "--help"}, {"check", "--help"}, {"watch", "--help"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || out+errOut == "" {
			t.Errorf("%v: exit %d, output %q", args, code, out+errOut)
		}
	}
}

func TestWatchDemo(t *testing.T) {
	code, out, errOut := runCLI(t, "watch", "-i", "demo", "--every", "100ms", "--count", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "db-prod→db-backup replay"); n != 3 {
		t.Fatalf("%d readings, want 3:\n%s", n, out)
	}
}
