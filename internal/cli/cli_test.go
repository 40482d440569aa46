package cli

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
	code := Run(args, &out, &errb)
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
		{"upgrade-fail", []string{"--fault", "upgrade-fail"}, 1, []string{`step "upgrade-production"`, "on [app-p1]", "status 100", "balancer sends traffic to backup",
			"next: this was the simulated demo", "next: users are on the backup in the simulated demo", "run pitstop demo again and press R"}, steps.EvPlanFinished},
		{"ssh-drop", []string{"--fault", "ssh-drop"}, 1, []string{`step "upgrade-production"`, "app-p1", "connection to host lost", "half-run", "next: replay PAUSED on db-backup, which users read now: resume it only once users are back on production"}, steps.EvPlanFinished},
		{"own inventory", []string{"-i", "../../inventory/testdata/valid.yaml"}, 0, []string{"plan readonly finished", "balancer sends traffic to production"}, steps.EvPlanFinished},
		{"lag-spike", []string{"--fault", "lag-spike"}, 0, []string{"plan readonly finished"}, steps.EvPlanFinished},
		{"reverse-sync nginx-test", []string{"--plan", "reverse-sync", "--fault", "nginx-test"}, 1, []string{`step "switch-to-backup"`, "balancer sends traffic to production",
			"next: db-prod is fenced read-only: once users should write there again, in psql on db-prod run ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf();",
			"next: db-backup is a primary now"}, steps.EvPlanFinished},
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
	// A regular file where a directory should be: nothing can be created under it, not even by root. The
	// lab cases point --dir at it too, so that a lost check would fail in lab.Up before it starts anything.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
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
		{"zero speed", []string{"demo", "--auto-approve", "--speed", "0"}, "--speed 0 is out of range"},
		{"NaN speed", []string{"demo", "--auto-approve", "--speed", "NaN"}, "--speed NaN is out of range"},
		{"negative parallel", []string{"demo", "--auto-approve", "--parallel", "-3"}, "--parallel -3"},
		{"zero parallel", []string{"run", "-i", "demo", "--auto-approve", "--parallel", "0"}, "--parallel 0"},
		{"empty operator", []string{"demo", "--auto-approve", "--operator", " "}, "--operator is empty"},
		{"journal not creatable", []string{"demo", "--auto-approve", "--journal", filepath.Join(file, "j.jsonl")}, filepath.Join(file, "j.jsonl") + ": mkdir " + file + ": not a directory"},
		{"unknown flag", []string{"demo", "--bogus"}, "pitstop demo: flag provided but not defined: -bogus"},
		{"bad flag value", []string{"demo", "--parallel", "many"}, `invalid value "many" for flag -parallel`},
		{"demo without terminal", []string{"demo"}, "no terminal"},
		{"run without terminal", []string{"run", "-i", "demo"}, "no terminal"},
		{"stray argument", []string{"plan", "-i", "demo", "extra"}, `pitstop plan: unexpected argument "extra"`},
		{"zero interval", []string{"watch", "-i", "demo", "--every", "0s"}, "--every 0s"},
		{"negative command timeout", []string{"run", "-i", "demo", "--auto-approve", "--command-timeout", "-1s"}, "--command-timeout -1s"},
		{"switch without a side", []string{"switch", "-i", "demo"}, `--to ""`},
		{"switch to no side", []string{"switch", "-i", "demo", "--to", "sideways"}, `--to "sideways"`},
		{"switch the demo", []string{"switch", "-i", "demo", "--to", "backup"}, "simulated"},
		{"switch with a bad inventory", []string{"switch", "-i", bad, "--to", "backup"}, bad + ":4:3:"},
		{"negative count", []string{"watch", "-i", "demo", "--count", "-1"}, "--count -1"},
		{"lab without subcommand", []string{"lab"}, "bench"},
		{"lab unknown subcommand", []string{"lab", "fly"}, `unknown subcommand "fly"`},
		{"lab unknown flag", []string{"lab", "up", "--dir", file, "--bogus"}, "pitstop lab up: flag provided but not defined: -bogus"},
		{"lab low port base", []string{"lab", "up", "--dir", file, "--port-base", "80"}, "port base 80: choose one from 1024"},
		{"lab zero port base", []string{"lab", "up", "--dir", file, "--port-base", "0"}, "port base 0"},
		{"lab high port base", []string{"lab", "up", "--dir", file, "--port-base", "40000"}, "port base 40000"},
		{"lab bad directory", []string{"lab", "up", "--dir", dir + "/a b"}, "use only letters"},
		{"lab stray argument", []string{"lab", "up", "--dir", file, "now"}, `unexpected argument "now"`},
		{"lab down unknown flag", []string{"lab", "down", "--bogus"}, "flag provided but not defined: -bogus"},
		{"lab bench rate", []string{"lab", "bench", "--dir", file, "--rate", "0"}, "--rate 0"},
		{"lab bench settle", []string{"lab", "bench", "--dir", file, "--settle", "0s"}, "--settle 0s"},
		{"lab bench port base", []string{"lab", "bench", "--dir", file, "--port-base", "80"}, "port base 80"},
		{"lab bench runs", []string{"lab", "bench", "--dir", file, "--startup", "--runs", "0"}, "--runs 0"},
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
			// Bad input is found before anything starts: nothing on stdout ("starting the lab", "journal: …").
			if out != "" {
				t.Errorf("stdout is not empty:\n%s", out)
			}
		})
	}
}

// TestHelpAndVersion: every command and subcommand answers -h and --help with its usage on stdout and
// exit 0; `pitstop` and `pitstop lab` alone show the usage on stderr and exit 2.
func TestHelpAndVersion(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string // in stdout for exit 0, in stderr otherwise
	}{
		{[]string{"--help"}, 0, "pitstop lab   up|down|status|bench"},
		{[]string{"-h"}, 0, "Usage:"},
		{[]string{"--version"}, 0, "pitstop " + version},
		{[]string{}, 2, "Usage:"},
		{[]string{"demo", "--help"}, 0, "Usage: pitstop demo"},
		{[]string{"demo", "-h"}, 0, "-parallel"},
		{[]string{"help", "demo"}, 0, "Usage: pitstop demo"},
		{[]string{"run", "--help"}, 0, "Usage: pitstop run"},
		{[]string{"run", "-h"}, 0, "-journal"},
		{[]string{"plan", "--help"}, 0, "Usage: pitstop plan"},
		{[]string{"check", "--help"}, 0, "Usage: pitstop check"},
		{[]string{"watch", "--help"}, 0, "-every"},
		{[]string{"switch", "--help"}, 0, "Usage: pitstop switch -i FILE --to production|backup"},
		{[]string{"lab"}, 2, "Usage: pitstop lab SUBCOMMAND"},
		{[]string{"lab", "--help"}, 0, "  bench "},
		{[]string{"lab", "-h"}, 0, "Usage: pitstop lab SUBCOMMAND"},
		{[]string{"lab", "help"}, 0, "Usage: pitstop lab SUBCOMMAND"},
		{[]string{"help", "lab"}, 0, "Usage: pitstop lab SUBCOMMAND"},
		{[]string{"lab", "help", "up"}, 0, "-port-base"},
		{[]string{"lab", "up", "--help"}, 0, "-port-base"},
		{[]string{"lab", "up", "-h"}, 0, "Usage: pitstop lab up"},
		{[]string{"lab", "down", "--help"}, 0, "Usage: pitstop lab down"},
		{[]string{"lab", "status", "-h"}, 0, "Usage: pitstop lab status"},
		{[]string{"lab", "bench", "--help"}, 0, "-startup"},
		{[]string{"lab", "bench", "-h"}, 0, "Usage: pitstop lab bench"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(append([]string{"pitstop"}, tc.args...), " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			got, other := out, errOut
			if tc.code != 0 {
				got, other = errOut, out
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, got)
			}
			if other != "" {
				t.Errorf("unexpected output on the other stream:\n%s", other)
			}
		})
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
