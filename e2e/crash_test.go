package e2e

import (
	"bufio"
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

	"github.com/pitstop-ops/pitstop/internal/cli"
	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Port base of the crash tests' lab (the other tests' bases are in main_test.go).
const baseCrash = 17900

// init runs the pitstop command line instead of the tests when asked: the crash tests start this
// binary as pitstop, to kill it.
func init() {
	if args := os.Getenv("PITSTOP_E2E_CLI"); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			panic(err)
		}
		os.Exit(cli.Run(a, os.Stdout, os.Stderr))
	}
}

// pitstopProc is `pitstop ARGS` running as a child process.
type pitstopProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   strings.Builder
	lines chan string
	done  chan struct{}
	code  int
}

func startPitstop(t *testing.T, env []string, args ...string) *pitstopProc {
	t.Helper()
	a, _ := json.Marshal(args)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(append(os.Environ(), "PITSTOP_E2E_CLI="+string(a)), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pitstopProc{t: t, cmd: cmd, lines: make(chan string, 100000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
	}()
	go func() {
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *pitstopProc) waitLine(re string, within time.Duration) string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(within)
	for {
		select {
		case l := <-p.lines:
			if rx.MatchString(l) {
				return l
			}
		case <-p.done:
			for {
				select {
				case l := <-p.lines:
					if rx.MatchString(l) {
						return l
					}
				default:
					p.t.Fatalf("pitstop exited %d before a line matching %q:\n%s", p.code, re, lastLines(p.output(), 40))
				}
			}
		case <-deadline:
			p.t.Fatalf("no line matching %q within %s:\n%s", re, within, lastLines(p.output(), 40))
		}
	}
}

func (p *pitstopProc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.done
}

func (p *pitstopProc) wait(within time.Duration) (int, string) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		p.t.Fatalf("pitstop still runs after %s:\n%s", within, lastLines(p.output(), 40))
	}
	time.Sleep(100 * time.Millisecond)
	return p.code, p.output()
}

func (p *pitstopProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// crashInventory writes the lab's inventory with a slow first upgrade command that logs each run on
// its host, and returns the file and the log.
func crashInventory(t *testing.T, l *testLab) (string, string) {
	t.Helper()
	ranLog := filepath.Join(l.Dir, "run", "slow-upgrade-ran")
	slow := fmt.Sprintf(`echo "slow upgrade on {host}"; sleep 4; echo {host} >> %s`, shell.Quote(ranLog))
	return withFirstUpgrade(t, l, "crash.yaml", slow), ranLog
}

// withFirstUpgrade writes the lab's inventory as name, beside it, with command first among the
// upgrade commands, and returns its path.
func withFirstUpgrade(t *testing.T, l *testLab, name, command string) string {
	t.Helper()
	src, err := os.ReadFile(l.Report.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(src), "\n  commands:\n    - ", "\n  commands:\n    - "+yamlQuote(command)+"\n    - ", 1)
	if out == string(src) {
		t.Fatal("the lab inventory has no upgrade commands to extend")
	}
	p := filepath.Join(filepath.Dir(l.Report.Inventory), name)
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := inventory.Load(p); err != nil {
		t.Fatalf("the inventory %s: %v", name, err)
	}
	return p
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// killPoint is where a crash test kills the headless run (or sends it SIGHUP).
type killPoint struct {
	name string
	// line is the output line after which the run is killed.
	line string
	// then, when set, changes the world after the kill as the killed step would have had the kill
	// come a few milliseconds later: a quick step's effect, too quick to aim a kill after it.
	then func()
}

// TestKillAndResume: a headless `pitstop run` is killed with -9 at three points — right after the
// switch to the backup, in the middle of a slow upgrade command on an SSH host, and during the switch
// back — and each time `pitstop run -i FILE` again finds the interrupted run, reconciles it with the
// lab and goes on. The last run finishes the plan: users on production, both sides upgraded, replay
// running, the slow command run exactly once on each host (its own log), no failed read under load
// and every acknowledged write stored in production and on the standby.
func TestKillAndResume(t *testing.T) {
	testKillAndResume(t, func(p *pitstopProc) { p.kill9() }, "kill -9")
}

func testKillAndResume(t *testing.T, stop func(*pitstopProc), how string) {
	l := startLab(t, baseCrash, true)
	inv, ranLog := crashInventory(t, l)
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	load := startLoad(t, l)
	settle(time.Second)
	out := killAndResume(t, env, []string{"run", "-i", inv, "--auto-approve"}, []killPoint{
		{name: "right after the switch", line: `switched: balancer now sends traffic to backup`},
		{name: "mid-upgrade while a command runs on an SSH host", line: `\| slow upgrade on app-`},
		{name: "during the switch back", line: `step switch-to-production started`},
	}, stop, how)
	if !strings.Contains(out, "plan readonly finished") {
		t.Fatalf("the last resume did not finish the plan:\n%s", lastLines(out, 60))
	}
	assertUpgradedWithoutLoss(t, l, load)
	assertRanOnce(t, l, ranLog)
	if strings.Contains(out, "WAL replay is PAUSED") {
		t.Errorf("replay left paused:\n%s", lastLines(out, 20))
	}
}

// assertUpgradedWithoutLoss stops the load and checks where a finished plan leaves the lab: no read
// failed, every acknowledged write is in production and replayed on the standby, users on production,
// both sides on v2.
func assertUpgradedWithoutLoss(t *testing.T, l *testLab, load *lab.Load) {
	t.Helper()
	rep := load.Stop()
	logLoad(t, rep)
	assertNoFailedReads(t, rep)
	l.assertStored(t, "db-prod", rep.Acked, 0)
	l.assertStored(t, "db-backup", rep.Acked, 10*time.Second)
	if got := upstreamFile(t, l); got != l.Inv.Upstream(inventory.Production) {
		t.Errorf("the upstream file at the end:\n%s", got)
	}
	l.assertVersion(t, "app-p1", "v2")
	l.assertVersion(t, "app-b1", "v2")
}

// killAndResume runs `pitstop ARGS` with env and stops it (kill -9, SIGHUP: how) at each point in
// turn, then runs it once more and returns that last run's output, which must resume the run and
// exit 0.
func killAndResume(t *testing.T, env, args []string, points []killPoint, stop func(*pitstopProc), how string) string {
	t.Helper()
	journal := ""
	for i, k := range points {
		p := startPitstop(t, env, args...)
		if i > 0 {
			p.waitLine(`resuming the run recorded in `, time.Minute)
		}
		if journal == "" {
			journal = strings.TrimPrefix(p.waitLine(`^journal: `, time.Minute), "journal: ")
		}
		p.waitLine(k.line, 3*time.Minute)
		t.Logf("%s %s", how, k.name)
		stop(p)
		if k.then != nil {
			k.then()
		}
	}
	// The last point is after commands ran on the hosts: their directory stays for the resume.
	dir := runDir(t, journal)
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the run's directory of commands after %s: %v, want it kept for the resume", how, err)
	}
	p := startPitstop(t, env, args...)
	code, out := p.wait(5 * time.Minute)
	if code != 0 {
		t.Fatalf("the last resume: exit %d\n%s", code, lastLines(out, 60))
	}
	if !strings.Contains(out, "resuming the run recorded in ") {
		t.Errorf("the last run did not resume:\n%s", firstLines(out, 40))
	}
	// The run is over: its directory is removed on every host (all are this machine in the lab).
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the run's directory of commands after the run finished: %v, want it removed\n%s", err, lastLines(out, 10))
	}
	return out
}

// runDir is the directory the run recorded in journal keeps its detached commands in, on every lab
// host (they log in as this user): ~/.cache/pitstop/runs/<journal name>-<run ID>.
func runDir(t *testing.T, journal string) string {
	t.Helper()
	f, err := os.Open(journal)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h steps.JournalHeader
	if err := json.NewDecoder(f).Decode(&h); err != nil || h.Run == "" {
		t.Fatalf("the header of %s: %v, run %q", journal, err, h.Run)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(home, remote.RunsDir, strings.TrimSuffix(filepath.Base(journal), ".jsonl")+"-"+h.Run)
}

// assertRanOnce fails unless crashInventory's slow command ran exactly once on each app host, by
// the hosts' own log.
func assertRanOnce(t *testing.T, l *testLab, ranLog string) {
	t.Helper()
	b, err := os.ReadFile(ranLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range append(append([]string{}, l.Inv.Sides.Production.Apps...), l.Inv.Sides.Backup.Apps...) {
		if n := strings.Count(string(b), h+"\n"); n != 1 {
			t.Errorf("the slow command ran %d times on %s, want exactly once (log %q)", n, h, b)
		}
	}
}

// TestSIGHUPAndResume: the same three points with SIGHUP (the terminal or the SSH session to the jump
// host lost): each time the running step finishes, the run stops at the next gate by itself, says
// why and how to resume (exit 1), and `pitstop run -i FILE` again goes on from there.
func TestSIGHUPAndResume(t *testing.T) {
	testKillAndResume(t, func(p *pitstopProc) { p.sighup() }, "SIGHUP")
}

// sighup sends SIGHUP (the terminal or the SSH session to the jump host lost) and waits for the run to
// stop by itself: the running step finished, the run stopped before the next one, said why and how to
// resume it, exit 1.
func (p *pitstopProc) sighup() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		p.t.Fatal(err)
	}
	code, out := p.wait(3 * time.Minute)
	if code != 1 || !strings.Contains(out, "SIGHUP") || !strings.Contains(out, "resumes it where it stopped") || !strings.Contains(out, "nothing is half-done") {
		p.t.Errorf("after SIGHUP: exit %d\n%s", code, lastLines(out, 15))
	}
}
