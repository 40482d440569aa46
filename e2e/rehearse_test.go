package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/internal/cli"
	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/steps"
)

// standInRehearse lets the test binary run `pitstop rehearse …` as a process of its own, so a test
// can interrupt it or kill it with SIGKILL.
func standInRehearse() {
	if len(os.Args) > 1 && os.Args[1] == "rehearse" {
		os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
	}
}

// rehearsal is one `pitstop rehearse` process on a lab.
type rehearsal struct {
	cmd     *exec.Cmd
	out     syncBuffer
	journal string
}

// syncBuffer is a bytes.Buffer the process's output goroutine and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRehearse starts `pitstop rehearse -i INVENTORY --auto-approve ARGS` as a process.
func startRehearse(t *testing.T, inv string, args ...string) *rehearsal {
	t.Helper()
	r := &rehearsal{journal: filepath.Join(t.TempDir(), "journal.jsonl")}
	r.cmd = exec.Command(os.Args[0], append([]string{"rehearse", "-i", inv, "--auto-approve", "--journal", r.journal}, args...)...)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("pitstop rehearse output:\n%s", r.out.String())
		}
	})
	return r
}

// wait waits for the process and returns its exit code.
func (r *rehearsal) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		r.cmd.Process.Kill()
		<-done
		t.Fatalf("pitstop rehearse did not end within %s", d)
		return -1
	}
}

// rehearse runs `pitstop rehearse` to the end and returns its exit code and output.
func rehearse(t *testing.T, inv string, args ...string) (int, string) {
	t.Helper()
	r := startRehearse(t, inv, args...)
	code := r.wait(t, 3*time.Minute)
	return code, r.out.String()
}

// measured returns the migration the journal recorded.
func (r *rehearsal) measured(t *testing.T) *steps.MigrationReport {
	t.Helper()
	f, err := os.Open(r.journal)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev steps.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		if ev.Kind == steps.EvMeasured && ev.Measure != nil && ev.Measure.Migration != nil {
			return ev.Measure.Migration
		}
	}
	return nil
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// assertNoRehearsalLeft fails when the copy or the rehearsal app still runs, a server still runs
// from the copy's data directory, or the directory is still there.
func (l *testLab) assertNoRehearsalLeft(t *testing.T) {
	t.Helper()
	r := l.Inv.Rehearsal
	for _, addr := range []string{r.ListenAddr(), l.Inv.Hosts[r.App].Serve} {
		if listening(addr) {
			t.Errorf("%s still accepts connections after the rehearsal", addr)
		}
	}
	if pids := processesWith(r.PGData()); len(pids) > 0 {
		t.Errorf("processes still run from %s: %v", r.PGData(), pids)
	}
	if _, err := os.Stat(r.DataDir); !os.IsNotExist(err) {
		t.Errorf("%s is still there (stat: %v)", r.DataDir, err)
	}
}

// production is what users' side looks like: the upstream file, both apps' versions and whether
// production's schema has the migration's column.
type production struct {
	upstream string
	note     bool
}

func (l *testLab) production(t *testing.T) production {
	t.Helper()
	l.assertVersion(t, "app-p1", "v1")
	l.assertVersion(t, "app-b1", "v1")
	return production{upstream: upstreamFile(t, l), note: l.hasColumn(t, "db-prod", "items", "note")}
}

func (l *testLab) hasColumn(t *testing.T, host, table, column string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, l.dbConn(host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	err = c.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = $1 AND column_name = $2`, table, column).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// lockLine finds "lock: items ACCESS EXCLUSIVE held 2.0 s" in the output and returns the duration.
var lockLine = regexp.MustCompile(`lock: items ACCESS EXCLUSIVE held ([0-9.]+) s \(blocks reads and writes\)`)

// TestRehearse: on the lab with a migration that rewrites items and holds its ACCESS EXCLUSIVE lock
// for 2 s, `pitstop rehearse` copies the standby, migrates the copy, runs v2 against it, reports the
// lock with its table and duration, predicts the readonly window, and cleans up: the balancer, both
// apps' versions and production's schema are as before, and no extra server runs.
func TestRehearse(t *testing.T) {
	l := startLabWith(t, lab.Options{PortBase: baseRehearse, MigrateHold: 2 * time.Second})
	before := l.production(t)
	if before.note {
		t.Fatal("production already has items.note before the rehearsal")
	}
	r := startRehearse(t, l.Report.Inventory)
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("pitstop rehearse exited %d, want 0", code)
	}
	out := r.out.String()
	m := lockLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no ACCESS EXCLUSIVE lock on items in the output")
	}
	if held, _ := strconv.ParseFloat(m[1], 64); held < 1.8 || held > 2.5 {
		t.Errorf("reported the lock on items held %s s, want about 2 s", m[1])
	}
	for _, want := range []string{
		"rewritten: items",
		"readonly: writes refused for about",
		"GET /health → 200, version v2",
		"POST http://" + l.Inv.Hosts["app-r1"].Serve + "/items → 201",
		"step cleanup done",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	mig := r.measured(t)
	if mig == nil || len(mig.Locks) == 0 || mig.Locks[0].Table != "items" || mig.Locks[0].Mode != "AccessExclusiveLock" || mig.WALBytes == 0 {
		t.Errorf("journal's migration measurement: %+v", mig)
	}
	after := l.production(t)
	if after != before {
		t.Errorf("production changed: before %+v, after %+v", before, after)
	}
	if l.hasColumn(t, "db-backup", "items", "note") {
		t.Errorf("the backup's standby has items.note: the migration reached production's data")
	}
	l.assertNoRehearsalLeft(t)
	l.assertStreaming(t, 10*time.Second)
	// The rehearsal is over: its detached commands' directory went with it.
	if _, err := os.Stat(runDir(t, r.journal)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the rehearsal's directory of commands after it finished: %v, want it removed", err)
	}
}

// TestRehearseMigrationFails: a migration that fails on the copy fails the rehearsal with its output,
// changes nothing in production, and the copy is cleaned up.
func TestRehearseMigrationFails(t *testing.T) {
	l := startLabWith(t, lab.Options{PortBase: baseRehearse})
	before := l.production(t)
	inv := editInventory(t, l, quoted(l.Inv.Upgrade.Migrate.Commands[0]), quoted(`sh -c 'echo "ERROR: column \"nope\" does not exist" >&2; exit 3'`))
	r := startRehearse(t, inv)
	code, out := r.wait(t, 3*time.Minute), r.out.String()
	if code != 1 {
		t.Fatalf("pitstop rehearse exited %d, want 1", code)
	}
	for _, want := range []string{`ERROR: column "nope" does not exist`, `step "migrate-copy"`, "command exited with status 3", "clean-up done"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if after := l.production(t); after != before {
		t.Errorf("production changed: before %+v, after %+v", before, after)
	}
	l.assertNoRehearsalLeft(t)
	// A failed rehearsal is over too (nothing resumes one): its directory of commands is gone.
	if _, err := os.Stat(runDir(t, r.journal)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed rehearsal's directory of commands: %v, want it removed", err)
	}
}

// TestRehearseCleanupAfterAbortAndKill: a rehearsal interrupted (SIGINT) during the migration cleans
// up before it exits; one killed with SIGKILL leaves the copy and the app running, and both `pitstop
// rehearse --cleanup` and the next rehearsal find and remove them.
func TestRehearseCleanupAfterAbortAndKill(t *testing.T) {
	l := startLabWith(t, lab.Options{PortBase: baseRehearse, MigrateHold: 20 * time.Second})
	before := l.production(t)
	r := l.Inv.Rehearsal
	app := l.Inv.Hosts[r.App].Serve

	// Interrupted: like ctrl-c on a headless run.
	p := startRehearse(t, l.Report.Inventory)
	waitMigrating(t, p)
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, time.Minute); code != 130 {
		t.Errorf("interrupted rehearse exited %d, want 130 (SIGINT)", code)
	}
	if !strings.Contains(p.out.String(), "clean-up done") {
		t.Errorf("the interrupted rehearsal did not say it cleaned up")
	}
	l.assertNoRehearsalLeft(t)

	// Killed: nothing of Pitstop runs to clean up.
	for _, next := range []string{"--cleanup", "rehearse"} {
		p := startRehearse(t, l.Report.Inventory)
		waitMigrating(t, p)
		p.cmd.Process.Kill()
		p.wait(t, time.Minute)
		if !listening(r.ListenAddr()) || !listening(app) {
			t.Fatalf("after kill -9 the copy (%t) and the app (%t) should still run", listening(r.ListenAddr()), listening(app))
		}
		if next == "--cleanup" {
			code, out := rehearse(t, l.Report.Inventory, "--cleanup")
			if code != 0 || !strings.Contains(out, "rehearse: clean") {
				t.Errorf("rehearse --cleanup exited %d:\n%s", code, out)
			}
		} else {
			// The next rehearsal, made quick: it finds the leftovers, removes them and runs.
			inv := editInventory(t, l, " --hold 20s", "")
			code, out := rehearse(t, inv)
			if code != 0 || !strings.Contains(out, "earlier rehearsal's leftovers") {
				t.Errorf("the next rehearse exited %d, want 0 after removing the leftovers:\n%s", code, out)
			}
		}
		l.assertNoRehearsalLeft(t)
	}
	if after := l.production(t); after != before {
		t.Errorf("production changed: before %+v, after %+v", before, after)
	}
}

// waitMigrating waits until the rehearsal's migration runs (the lab's migration then holds its lock
// for the MigrateHold the lab was started with).
func waitMigrating(t *testing.T, p *rehearsal) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(p.out.String(), "migration applied") {
			return
		}
	}
	t.Fatalf("the rehearsal did not reach the migration within a minute:\n%s", p.out.String())
}

// TestRehearseBadInput: a data directory that holds files of something else, and a port another
// program listens on, are refused before anything starts, with exit 2.
func TestRehearseBadInput(t *testing.T) {
	l := startLabWith(t, lab.Options{PortBase: baseRehearse})
	r := l.Inv.Rehearsal

	// The port: something else listens there.
	ln, err := net.Listen("tcp", r.ListenAddr())
	if err != nil {
		t.Fatal(err)
	}
	code, out := rehearse(t, l.Report.Inventory)
	ln.Close()
	if code != 2 || !strings.Contains(out, fmt.Sprintf("rehearsal.port %d is in use", r.Port)) {
		t.Errorf("port in use: exit %d, want 2 naming the port:\n%s", code, out)
	}
	if strings.Contains(out, "step copy") {
		t.Errorf("the copy started although the port is taken")
	}

	// The directory: someone else's files.
	if err := os.MkdirAll(r.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(r.DataDir, "precious")
	if err := os.WriteFile(foreign, []byte("not Pitstop's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = rehearse(t, l.Report.Inventory)
	if code != 2 || !strings.Contains(out, "exists and is not empty") {
		t.Errorf("foreign data directory: exit %d, want 2:\n%s", code, out)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("the foreign file is gone: %v", err)
	}
	os.RemoveAll(r.DataDir)

	// The rehearsal host is production's database: refused by the inventory check.
	inv := editInventory(t, l, `host: "db-rehearse"`, `host: "db-prod"`)
	code, out = rehearse(t, inv)
	if code != 2 || !strings.Contains(out, `rehearsal.host "db-prod" is also named at sides.production.database`) {
		t.Errorf("rehearsal host = production's database: exit %d, want 2:\n%s", code, out)
	}
}

// quoted is s as the lab's inventory writes it (a JSON string is a YAML double-quoted scalar).
func quoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// processesWith lists the pids whose command line contains s.
func processesWith(s string) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if pid != os.Getpid() && strings.Contains(cmdline(pid), s) {
			out = append(out, pid)
		}
	}
	return out
}

// editInventory writes a copy of the lab's inventory with old replaced by new (old must occur) and
// returns its path. It lives in the lab directory, so relative paths in it still resolve.
func editInventory(t *testing.T, l *testLab, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(l.Report.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("the lab's inventory has no %q", old)
	}
	file := filepath.Join(l.Dir, fmt.Sprintf("inventory-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(file, bytes.ReplaceAll(b, []byte(old), []byte(new)), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
