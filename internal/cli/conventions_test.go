package cli

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelpWritesLongFlagsWithTwoDashes: every command's --help writes its flags as the synopsis does,
// --name (and -i for one letter), never Go's -name.
func TestHelpWritesLongFlagsWithTwoDashes(t *testing.T) {
	for _, c := range commands {
		args := [][]string{{c.name}}
		if c.name == "lab" {
			args = nil
			for _, sub := range labCommands {
				args = append(args, []string{"lab", sub})
			}
		}
		for _, a := range args {
			code, out, _ := runCLI(t, append(a, "--help")...)
			if code != 0 {
				t.Errorf("pitstop %s --help: exit %d", strings.Join(a, " "), code)
				continue
			}
			flags := 0
			for _, l := range strings.Split(out, "\n") {
				if !strings.HasPrefix(l, "  -") {
					continue
				}
				flags++
				name, _, _ := strings.Cut(strings.TrimSpace(l), " ")
				if long := strings.TrimLeft(name, "-"); len(long) > 1 && !strings.HasPrefix(name, "--") {
					t.Errorf("pitstop %s --help writes %q with one dash", strings.Join(a, " "), name)
				}
			}
			if c.name == "run" && flags < 5 {
				t.Errorf("pitstop run --help shows %d flags:\n%s", flags, out)
			}
		}
	}
}

// TestCompletionBash loads the bash script in bash and completes with it.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	bin := pitstopBinary(t)
	out, err := exec.Command("bash", "-c", "source <("+bin+" completion bash) && complete -p pitstop").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-F _pitstop pitstop") {
		t.Fatalf("the bash script does not load: %v\n%s", err, out)
	}
	cases := []struct {
		words string
		want  []string
		not   []string
	}{
		{"pitstop ru", []string{"run"}, []string{"demo"}},
		{"pitstop ap", []string{"approve"}, []string{"demo"}},
		{"pitstop status --j", []string{"--json"}, nil},
		{"pitstop rollback --f", []string{"--force"}, nil},
		{"pitstop demo --pl", []string{"--plan"}, nil},
		{"pitstop run --plan ''", []string{"readonly", "reverse-sync"}, nil},
		{"pitstop demo --fault ss", []string{"ssh-drop"}, nil},
		{"pitstop switch --to ''", []string{"production", "backup"}, nil},
		{"pitstop plan --inventory de", []string{"demo"}, nil},
		{"pitstop import ''", []string{"rundeck", "ansible"}, nil},
		{"pitstop import rundeck --pro", []string{"--production"}, nil},
		{"pitstop lab ''", []string{"up", "down", "status", "bench"}, nil},
		{"pitstop lab up --p", []string{"--port-base"}, nil},
		{"pitstop completion ''", []string{"bash", "zsh", "fish"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.words, func(t *testing.T) {
			script := "source <(" + bin + " completion bash)\nCOMP_WORDS=(" + tc.words + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]}-1))\n_pitstop\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
			out, err := exec.Command("bash", "-c", script).CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			for _, w := range tc.want {
				if !contains(got, w) {
					t.Errorf("completing %q gives %v, lacking %q", tc.words, got, w)
				}
			}
			for _, w := range tc.not {
				if contains(got, w) {
					t.Errorf("completing %q gives %v, with %q", tc.words, got, w)
				}
			}
		})
	}
}

func TestCompletionZshAndFish(t *testing.T) {
	for _, sh := range []string{"zsh", "fish"} {
		code, out, errOut := runCLI(t, "completion", sh)
		if code != 0 {
			t.Fatalf("completion %s: exit %d: %s", sh, code, errOut)
		}
		want := []string{"switch", "--plan", "reverse-sync", "--auto-approve"}
		if sh == "fish" {
			want = []string{"switch", "-l plan", "reverse-sync", "-l auto-approve", "-s i"}
		}
		for _, want := range want {
			if !strings.Contains(out, want) {
				t.Errorf("the %s script lacks %q", sh, want)
			}
		}
	}
	if code, _, errOut := runCLI(t, "completion", "tcsh"); code != 2 || !strings.Contains(errOut, "bash, zsh or fish") {
		t.Errorf("an unknown shell: exit %d, %q", code, errOut)
	}
}

// TestSIGINTExits130: a headless run and watch interrupted by SIGINT exit 130, SIGTERM 143.
func TestSIGINTExits130(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	bin := pitstopBinary(t)
	cases := []struct {
		name string
		args []string
		sig  syscall.Signal
		code int
	}{
		{"demo headless SIGINT", []string{"demo", "--auto-approve", "--speed", "1", "--journal", filepath.Join(t.TempDir(), "j.jsonl")}, syscall.SIGINT, 130},
		{"watch SIGINT", []string{"watch", "-i", "demo", "--every", "200ms"}, syscall.SIGINT, 130},
		{"watch SIGTERM", []string{"watch", "-i", "demo", "--every", "200ms"}, syscall.SIGTERM, 143},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond)
			cmd.Process.Signal(tc.sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
				t.Fatalf("exit %v, want %d\n%s", err, tc.code, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if tc.args[0] == "demo" && !strings.HasPrefix(lines[len(lines)-1], "pitstop: interrupted by SIGINT") {
				t.Errorf("the last line should say the run was interrupted by SIGINT:\n%s", out.String())
			}
		})
	}
}

// TestVersionHasRevision: a binary built by go build in a git checkout says its module and the commit
// it was built from. It builds from a fresh clone of this repository's HEAD: the go command does not
// stamp a revision in a linked git worktree (where .git is a file), and GOFLAGS may say -buildvcs=false.
func TestVersionHasRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("clones the repository and builds the binary")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command("git", "clone", "-q", "--shared", strings.TrimSpace(string(top)), dir).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "pitstop")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The go command stamps a pseudo-version made of the commit's time and hash as the module's version.
	short := strings.TrimSpace(string(head))[:12]
	for _, want := range []string{"pitstop v0.0.0-", short + "\n", "module   github.com/pitstop-ops/pitstop v0.0.0-", "revision " + strings.TrimSpace(string(head))} {
		if !strings.Contains(string(out), want) {
			t.Errorf("pitstop version lacks %q:\n%s", want, out)
		}
	}
	// Without build information from git, it says so instead of printing an empty revision.
	code, plain, _ := runCLI(t, "version")
	if code != 0 || !strings.Contains(plain, "revision ") || strings.Contains(plain, "revision \n") {
		t.Errorf("pitstop version in a test binary: %q", plain)
	}
}

// TestJSONNeedsHeadless: the cockpit has the screen, so --json alone is refused before anything starts.
func TestJSONNeedsHeadless(t *testing.T) {
	code, _, errOut := runCLI(t, "demo", "--json")
	if code != 2 || !strings.Contains(errOut, "--json needs --headless or --auto-approve") {
		t.Errorf("demo --json: exit %d, %q", code, errOut)
	}
}
