package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/testenv"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// TestMain lets a test run the command line in a child process (the test binary itself), to send it
// signals and give it a full disk.
func TestMain(m *testing.M) {
	if args := os.Getenv("PITSTOP_CLI_CHILD"); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			panic(err)
		}
		os.Exit(Run(a, os.Stdout, os.Stderr))
	}
	cleanup := setupCLITests()
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// child is the command line running in another process.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   strings.Builder // stdout and stderr, interleaved as they come
	lines chan string
	done  chan struct{}
	code  int
}

// startChild runs `pitstop ARGS` in a child process, through wrap (e.g. unshare) when given.
func startChild(t *testing.T, env []string, wrap []string, args ...string) *child {
	t.Helper()
	a, _ := json.Marshal(args)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string{}, wrap...), self, "-test.run=^$")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "PITSTOP_CLI_CHILD="+string(a)), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, lines: make(chan string, 10000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			c.mu.Lock()
			c.out.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		c.code = cmd.ProcessState.ExitCode()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			c.code = -1
		}
		pw.Close()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// waitLine waits for a line matching re and returns it.
func (c *child) waitLine(re string, within time.Duration) string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(within)
	for {
		select {
		case l := <-c.lines:
			if rx.MatchString(l) {
				return l
			}
		case <-deadline:
			c.t.Fatalf("no line matching %q within %s:\n%s", re, within, tail(c.output()))
		}
	}
}

// wait waits for the child to exit and returns its exit code and output.
func (c *child) wait(within time.Duration) (int, string) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(within):
		c.t.Fatalf("still running after %s:\n%s", within, tail(c.output()))
	}
	time.Sleep(50 * time.Millisecond) // the reader's last lines
	return c.code, c.output()
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// stepsNotCut checks that every step the output says started also ended.
func stepsNotCut(t *testing.T, out string) {
	t.Helper()
	started := regexp.MustCompile(`step (\S+) started`).FindAllStringSubmatch(out, -1)
	for _, m := range started {
		if !regexp.MustCompile(`step ` + regexp.QuoteMeta(m[1]) + ` (done|skipped)`).MatchString(out) {
			t.Errorf("step %s started and did not finish:\n%s", m[1], tail(out))
		}
	}
}

// TestSIGHUPStopsAtTheNextGate: SIGHUP while a step runs lets it finish, stops the run before the
// next step, records why in the journal and prints the next: lines.
func TestSIGHUPStopsAtTheNextGate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo in a child process")
	}
	journal := filepath.Join(t.TempDir(), "j.jsonl")
	c := startChild(t, nil, nil, "demo", "--auto-approve", "--speed", "4", "--seed", "7", "--journal", journal)
	c.waitLine(`step upgrade-production started`, 60*time.Second)
	c.waitLine(`app-p1 \| \$ `, 10*time.Second) // a command runs on a host
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	code, out := c.wait(60 * time.Second)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	for _, want := range []string{
		"step upgrade-production done",
		`pitstop: stopped before step "migrate-production" (`,
		"SIGHUP: the terminal or the SSH session to this machine was lost; the step before it finished, so nothing is half-done",
		"next: users are on the backup",
		"next: replay PAUSED on db-backup",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, tail(out))
		}
	}
	stepsNotCut(t, out)
	if strings.Contains(out, "step migrate-production started") {
		t.Errorf("the step after the SIGHUP ran:\n%s", tail(out))
	}
	evs, err := steps.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Kind != steps.EvPlanFinished || !strings.Contains(last.Err, "SIGHUP") {
		t.Errorf("last journal event %s %q, want plan-finished with the SIGHUP", last.Kind, last.Err)
	}
	var finished int
	for _, ev := range evs {
		if ev.Kind == steps.EvCommandFinished && ev.StepID == "upgrade-production" && ev.Status == steps.StatusDone {
			finished++
		}
	}
	if finished == 0 {
		t.Errorf("the journal records no finished command of upgrade-production")
	}
}

// TestSIGINTAndSIGTERMExitCodes: SIGINT and SIGTERM stop the run at once with 130 and 143 and a last
// line that says what was interrupted.
func TestSIGINTAndSIGTERMExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo in a child process")
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		name string
	}{{syscall.SIGINT, 130, "SIGINT"}, {syscall.SIGTERM, 143, "SIGTERM"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			journal := filepath.Join(t.TempDir(), "j.jsonl")
			c := startChild(t, nil, nil, "demo", "--auto-approve", "--speed", "4", "--seed", "7", "--journal", journal)
			c.waitLine(`step upgrade-production started`, 60*time.Second)
			c.waitLine(`app-p1 \| \$ `, 10*time.Second)
			if err := c.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			code, out := c.wait(30 * time.Second)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, tail(out))
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			want := fmt.Sprintf(`pitstop: interrupted by %s while step "upgrade-production" (`, tc.name)
			if !strings.HasPrefix(last, want) || !strings.Contains(last, "pitstop demo runs it again") {
				t.Errorf("last line %q, want it to start with %q and say how to go on", last, want)
			}
			if strings.Contains(out, "\npitstop: context canceled") {
				t.Errorf("output ends with context canceled:\n%s", tail(out))
			}
		})
	}
}

// TestJournalNamesAreUnique: runs started in the same second get journals of their own, and the
// journal is one file in the journal directory whatever the inventory's name holds.
func TestJournalNamesAreUnique(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	seen := map[string]bool{}
	for name, want := range map[string]string{
		"shop":                                   "shop-readonly-",
		"shop (pitstop lab in /tmp/pitstop-lab)": "shop-pitstop-lab-in-tmp-pitstop-lab-readonly-",
		"../..":                                  "inventory-readonly-",
		"café":                                   "caf-readonly-",
	} {
		for range 3 {
			j, created, err := openJournal(&inventory.Inventory{Name: name, Source: "demo"}, "readonly", "", false)
			if err != nil {
				t.Fatal(err)
			}
			p := j.Path()
			j.Close()
			if !created || filepath.Dir(p) != filepath.Join(dir, "pitstop", "journal") || !strings.HasPrefix(filepath.Base(p), want) {
				t.Errorf("journal for %q = %s (created %v), want %s/pitstop/journal/%s…", name, p, created, dir, want)
			}
			if seen[p] {
				t.Errorf("two runs got the same journal %s", p)
			}
			seen[p] = true
		}
	}
}

// TestTwoRunsInTheSameSecond: two runs started together (in the same second, from the same
// directory) each write and keep a journal of their own. Before, they shared a name, and a refused
// run deleted the file the other was writing.
func TestTwoRunsInTheSameSecond(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo in child processes")
	}
	state := t.TempDir()
	env := []string{"XDG_STATE_HOME=" + state}
	a := startChild(t, env, nil, "demo", "--auto-approve", "--speed", "50", "--seed", "7")
	b := startChild(t, env, nil, "demo", "--auto-approve", "--speed", "50", "--seed", "8")
	for _, c := range []*child{a, b} {
		if code, out := c.wait(120 * time.Second); code != 0 {
			t.Fatalf("exit %d\n%s", code, tail(out))
		}
	}
	files, _ := filepath.Glob(filepath.Join(state, "pitstop", "journal", "*.jsonl"))
	if len(files) != 2 {
		t.Fatalf("journals: %v, want two", files)
	}
	for _, f := range files {
		evs, err := steps.ReadJournal(f)
		if err != nil || len(evs) < 10 || evs[0].Kind != steps.EvJournalOpened || evs[len(evs)-1].Kind != steps.EvPlanFinished {
			t.Errorf("%s: %d events, err %v", f, len(evs), err)
		}
	}
}

// TestJournalOnAFullDiskRefusesToStart: a journal that cannot take its first line stops the run
// before anything is done (exit 2), and leaves no file behind.
func TestJournalOnAFullDiskRefusesToStart(t *testing.T) {
	code, out, errOut := runCLI(t, "demo", "--auto-approve", "--speed", "50", "--seed", "7", "--journal", "/dev/full")
	if code != exitBadInput || !strings.Contains(errOut, "cannot write the event journal, so the run does not start") ||
		!strings.Contains(errOut, "no space left on device") || strings.Contains(out, "plan started") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, tail(out), errOut)
	}
}

// TestJournalFillsUpMidRun: the disk holding the journal fills up during the run (a 64 KiB tmpfs
// mounted in a private mount namespace); the run stops at the next gate, no step is cut, and it says
// why.
func TestJournalFillsUpMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo in a child process")
	}
	if os.Getuid() != 0 {
		testenv.Missing(t, "mounting a tmpfs for a full disk needs root (unshare -m); run the tests as root, as CI does")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		testenv.Missing(t, "unshare (util-linux) is missing: apt-get install -y util-linux")
	}
	dir := t.TempDir()
	self, _ := os.Executable()
	a, _ := json.Marshal([]string{"demo", "--auto-approve", "--speed", "8", "--seed", "7", "--journal", filepath.Join(dir, "j.jsonl")})
	script := fmt.Sprintf("mount -t tmpfs -o size=64k tmpfs %s && PITSTOP_CLI_CHILD='%s' exec %s -test.run='^$'", dir, a, self)
	c := startChild(t, nil, []string{"unshare", "-m", "sh", "-c", script})
	code, out := c.wait(120 * time.Second)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	for _, want := range []string{"the journal cannot be written any more", "no space left on device", "pitstop: stopped before step", "the step before it finished"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, tail(out))
		}
	}
	if strings.Contains(out, "plan readonly finished") {
		t.Errorf("the run went on to the end with its journal full:\n%s", tail(out))
	}
	stepsNotCut(t, out)
}

// TestCockpitLostTerminal: the cockpit runs in a tmux pane that goes away (tmux kill-server: the
// pane's processes get SIGHUP, the terminal is gone) while a step runs. The step finishes, the run
// stops before the next step, and the journal records why.
func TestCockpitLostTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the cockpit in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		testenv.Missing(t, "tmux is missing: apt-get install -y tmux")
	}
	dir := t.TempDir()
	journal := filepath.Join(dir, "j.jsonl")
	self, _ := os.Executable()
	a, _ := json.Marshal([]string{"demo", "--speed", "4", "--seed", "7", "--journal", journal})
	sock := "pitstop-test-" + filepath.Base(dir)
	tmux := func(args ...string) error {
		return exec.Command("tmux", append([]string{"-L", sock}, args...)...).Run()
	}
	cmd := fmt.Sprintf("PITSTOP_CLI_CHILD='%s' %s -test.run='^$'", a, self)
	if err := tmux("new-session", "-d", "-x", "120", "-y", "40", cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tmux("kill-server") })
	events := func() []steps.Event { evs, _ := steps.ReadJournal(journal); return evs }
	has := func(match func(steps.Event) bool) bool {
		for _, ev := range events() {
			if match(ev) {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(90 * time.Second)
	for !has(func(ev steps.Event) bool {
		return ev.Kind == steps.EvOutput && ev.StepID == "upgrade-production" && strings.HasPrefix(ev.Text, "$ ")
	}) {
		if time.Now().After(deadline) {
			t.Fatalf("upgrade-production never ran; journal has %d events", len(events()))
		}
		tmux("send-keys", "y") // confirm whatever gate waits
		time.Sleep(300 * time.Millisecond)
	}
	if err := tmux("kill-server"); err != nil {
		t.Fatal(err)
	}
	for !has(func(ev steps.Event) bool { return ev.Kind == steps.EvPlanFinished }) {
		if time.Now().After(deadline.Add(60 * time.Second)) {
			t.Fatalf("the run did not end after its terminal went away")
		}
		time.Sleep(200 * time.Millisecond)
	}
	evs := events()
	last := evs[len(evs)-1]
	if !strings.Contains(last.Err, "SIGHUP") || !strings.Contains(last.Err, "stopped before step") {
		t.Errorf("plan-finished err %q, want the halt at a gate with SIGHUP", last.Err)
	}
	var upgraded bool
	for _, ev := range evs {
		if ev.Kind == steps.EvStepFinished && ev.StepID == "upgrade-production" {
			upgraded = ev.Status == steps.StatusDone
		}
		if upgraded && ev.Kind == steps.EvStepStarted && ev.Status == steps.StatusRunning {
			t.Errorf("step %s ran after the terminal was lost", ev.StepID)
		}
	}
	if !upgraded {
		t.Errorf("upgrade-production did not finish after the terminal was lost")
	}
}

// TestBrokenOutputStopsAtTheNextGate: a stray SIGPIPE (what any write to a broken socket would raise
// if the run asked for SIGPIPE) changes nothing; when the run's own output goes away (the reader of
// its stdout pipe died), the running step finishes and the run stops at the next gate.
func TestBrokenOutputStopsAtTheNextGate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo in a child process")
	}
	journal := filepath.Join(t.TempDir(), "j.jsonl")
	a, _ := json.Marshal([]string{"demo", "--auto-approve", "--speed", "4", "--seed", "7", "--journal", journal})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "PITSTOP_CLI_CHILD="+string(a))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "step sync started") {
			if err := cmd.Process.Signal(syscall.SIGPIPE); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Contains(sc.Text(), "step upgrade-production started") {
			break
		}
	}
	pr.Close() // the reader goes away mid-step
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the run did not stop after its output went away")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitFailed {
		t.Errorf("exit %d, want %d\n%s", code, exitFailed, errb.String())
	}
	evs, err := steps.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Kind != steps.EvPlanFinished || !strings.Contains(last.Err, "broken pipe") {
		t.Errorf("last journal event %s %q, want plan-finished halted by the broken pipe", last.Kind, last.Err)
	}
	var upgraded, migrated bool
	for _, ev := range evs {
		if ev.Kind == steps.EvStepFinished && ev.StepID == "upgrade-production" && ev.Status == steps.StatusDone {
			upgraded = true
		}
		if ev.Kind == steps.EvStepStarted && ev.StepID == "migrate-production" {
			migrated = true
		}
	}
	if !upgraded || migrated {
		t.Errorf("the step running when the output went away should finish (%v) and the next not start (%v)", upgraded, migrated)
	}
}

// TestRunIDIsPerRun: detached commands keep their output and status on the host under the run's ID.
// Two runs whose journals share a name (the same --journal name in two directories, a rerun, a new run
// appended to an old journal) must get different IDs, or the later one would take the earlier one's
// finished commands for its own; a resumed run must get the interrupted run's ID to re-attach.
func TestRunIDIsPerRun(t *testing.T) {
	inv := &inventory.Inventory{Name: "shop", Source: "demo"}
	open := func(path string, resuming bool) string {
		j, _, err := openJournal(inv, "readonly", path, resuming)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		return (&session{journal: j}).runID()
	}
	p1, p2 := filepath.Join(t.TempDir(), "lab-run.jsonl"), filepath.Join(t.TempDir(), "lab-run.jsonl")
	first, other := open(p1, false), open(p2, false)
	if first == other {
		t.Errorf("two runs with journals named alike share the run ID %q", first)
	}
	if !strings.HasPrefix(first, "lab-run-") {
		t.Errorf("run ID %q does not start with the journal's name", first)
	}
	if got := open(p1, true); got != first {
		t.Errorf("the resumed run's ID %q differs from the interrupted run's %q", got, first)
	}
	appended := open(p1, false) // a new run appended to the same journal
	if appended == first {
		t.Errorf("a new run appended to an old journal reuses its run ID %q", first)
	}
	if got := open(p1, true); got != appended {
		t.Errorf("resuming after the appended run gives %q, want its ID %q", got, appended)
	}
}
