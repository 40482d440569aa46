package lab_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/internal/lab"
)

// TestMainHelp: `pitstop lab` and every subcommand answer -h, --help and help with their usage on
// stdout and nothing on stderr.
func TestMainHelp(t *testing.T) {
	cases := []struct {
		args    []string
		want    []string
		errHelp bool // a subcommand's flags: Main returns flag.ErrHelp
	}{
		{[]string{"--help"}, []string{"Usage: pitstop lab SUBCOMMAND", "  up ", "  down ", "  status ", "  bench "}, false},
		{[]string{"-h"}, []string{"Usage: pitstop lab SUBCOMMAND"}, false},
		{[]string{"help"}, []string{"Usage: pitstop lab SUBCOMMAND"}, false},
		{[]string{"help", "bench"}, []string{"Usage: pitstop lab bench", "-startup"}, true},
		{[]string{"up", "--help"}, []string{"Usage: pitstop lab up", "-dir", "-ssh", "-port-base", "(default 16000)"}, true},
		{[]string{"up", "-h"}, []string{"Usage: pitstop lab up"}, true},
		{[]string{"down", "--help"}, []string{"Usage: pitstop lab down", "-dir"}, true},
		{[]string{"status", "-h"}, []string{"Usage: pitstop lab status", "-dir"}, true},
		{[]string{"bench", "--help"}, []string{"Usage: pitstop lab bench", "-rate", "-runs", "-settle"}, true},
		{[]string{"migrate", "--help"}, []string{"Usage: pitstop lab migrate", "-db"}, true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errs strings.Builder
			err := lab.Main(context.Background(), tc.args, &out, &errs)
			if tc.errHelp && !errors.Is(err, flag.ErrHelp) || !tc.errHelp && err != nil {
				t.Fatalf("Main: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			if errs.Len() > 0 {
				t.Errorf("stderr is not empty:\n%s", errs.String())
			}
		})
	}
}

// TestMainUsageErrors: a bad command line is an error that wraps lab.ErrUsage, says what is wrong, and
// comes before anything starts: nothing on stdout (no "starting the lab").
func TestMainUsageErrors(t *testing.T) {
	// --dir is a regular file: were a check lost, Up would fail on it before it starts anything.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "say what to do: up, down, status or bench"},
		{"unknown subcommand", []string{"fly"}, `unknown subcommand "fly"`},
		{"unknown flag", []string{"up", "--dir", file, "--bogus"}, "pitstop lab up: flag provided but not defined: -bogus (see pitstop lab up --help)"},
		{"bad number", []string{"up", "--dir", file, "--port-base", "lots"}, `invalid value "lots" for flag -port-base`},
		{"low port base", []string{"up", "--dir", file, "--port-base", "80"}, "pitstop lab up: port base 80: choose one from 1024"},
		{"zero port base", []string{"up", "--dir", file, "--port-base", "0"}, "port base 0"},
		{"high port base", []string{"up", "--dir", file, "--port-base", "32760"}, "port base 32760"},
		{"bad directory", []string{"up", "--dir", "/tmp/my lab"}, "use only letters"},
		{"stray argument", []string{"up", "--dir", file, "now"}, `pitstop lab up: unexpected argument "now"`},
		{"down stray argument", []string{"down", "now"}, `pitstop lab down: unexpected argument "now"`},
		{"status unknown flag", []string{"status", "--port-base", "16000"}, "flag provided but not defined: -port-base"},
		{"bench port base", []string{"bench", "--dir", file, "--port-base", "80"}, "pitstop lab bench: port base 80"},
		{"bench rate", []string{"bench", "--dir", file, "--rate", "0"}, "--rate 0"},
		{"bench readers", []string{"bench", "--dir", file, "--readers", "-1"}, "--readers -1"},
		{"bench write-every", []string{"bench", "--dir", file, "--write-every", "0s"}, "--write-every 0s"},
		{"bench settle", []string{"bench", "--dir", file, "--settle", "-1s"}, "--settle -1s"},
		{"bench upgrade-sleep", []string{"bench", "--dir", file, "--upgrade-sleep", "-1s"}, "--upgrade-sleep -1s"},
		{"bench verify-window", []string{"bench", "--dir", file, "--verify-window", "-1s"}, "--verify-window -1s"},
		{"bench runs", []string{"bench", "--dir", file, "--startup", "--runs", "0"}, "--runs 0"},
		{"bench stray argument", []string{"bench", "--dir", file, "now"}, `unexpected argument "now"`},
		{"migrate without db", []string{"migrate"}, "--db is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs strings.Builder
			err := lab.Main(context.Background(), tc.args, &out, &errs)
			if !errors.Is(err, lab.ErrUsage) {
				t.Fatalf("Main: %v, want an error wrapping ErrUsage", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if out.Len() > 0 {
				t.Errorf("stdout is not empty:\n%s", out.String())
			}
		})
	}
}

// TestStandInUsageExitCodes: run as `… lab ARGS`, the stand-in exits 0 for help, 2 for a bad command
// line and 1 when the command fails.
func TestStandInUsageExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"up", "--help"}, 0},
		{[]string{"fly"}, 2},
		{[]string{"up", "--port-base", "80"}, 2},
		{[]string{"status", "--dir", filepath.Join(t.TempDir(), "none")}, 1},
	}
	for _, tc := range cases {
		cmd := exec.Command(os.Args[0], append([]string{"lab"}, tc.args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("lab %v: %v", tc.args, err)
		}
		if code != tc.code {
			t.Errorf("lab %v: exit %d, want %d\n%s", tc.args, code, tc.code, out)
		}
	}
}
