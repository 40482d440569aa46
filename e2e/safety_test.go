package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Port bases of the safety-net tests (issue 9): 19000–19899, each lab base … base+80.
const (
	baseDownSide = 19000
	basePaused   = 19100
	baseMismatch = 19200
	baseHalfDone = 19300
	basePrev     = 19400
)

// appctl runs the lab's appctl (the first word of the inventory's upgrade command) with args.
func (l *testLab) appctl(t *testing.T, args ...string) {
	t.Helper()
	cmd := strings.Fields(l.Inv.Upgrade.Commands[0])[0] + " " + strings.Join(args, " ")
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

// sql runs statements on a database host of the lab, as the superuser.
func (l *testLab) sql(t *testing.T, host string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, l.dbConn(host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s on %s: %v", s, host, err)
		}
	}
}

// switchTo runs `pitstop switch` (live.SwitchWith) and returns its output and error.
func (l *testLab) switchTo(t *testing.T, side inventory.Side, opt live.SwitchOptions) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	err := live.SwitchWith(ctx, l.Inv, side, &out, opt)
	t.Logf("switch to %s: %v\n%s", side, err, out.String())
	return out.String(), err
}

// requireFail fails unless check's output has a FAIL line containing every want.
func requireFail(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "FAIL") {
			continue
		}
		all := true
		for _, w := range want {
			all = all && strings.Contains(line, w)
		}
		if all {
			return
		}
	}
	t.Errorf("check has no FAIL line with %q:\n%s", want, out)
}

// Observation 1: after a failed upgrade left production's app stopped, `switch --to production`
// sent users to the dead app. Now it checks production's app hosts first and refuses, naming the host
// and what it saw; users stay on the backup and no read fails.
func TestSwitchRefusesDownSide(t *testing.T) {
	l := startLab(t, baseDownSide, false)
	load := startLoad(t, l)
	settle(time.Second)
	if _, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{}); err != nil {
		t.Fatalf("switch to the healthy backup: %v", err)
	}
	l.appctl(t, "stop", "app-p1")
	before := upstreamFile(t, l)
	out, err := l.switchTo(t, inventory.Production, live.SwitchOptions{})
	if !errors.Is(err, steps.ErrRefused) {
		t.Fatalf("switch to a production whose app is stopped: %v, want a refusal", err)
	}
	for _, want := range []string{"app-p1", "production is down", "start the app"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if strings.Contains(out, "writing the production upstream") || upstreamFile(t, l) != before {
		t.Errorf("the refused switch touched the upstream file")
	}
	// --force without a terminal to confirm in is refused too.
	if _, err := l.switchTo(t, inventory.Production, live.SwitchOptions{Force: true}); !errors.Is(err, steps.ErrRefused) {
		t.Errorf("forced switch without a confirmation: %v, want a refusal", err)
	}
	settle(time.Second)
	rep := load.Stop()
	s := logLoad(t, rep)
	t.Logf("figures: %d failed reads of %d", s.FailedReads, s.Reads)
	if s.FailedReads > 0 {
		t.Errorf("%d reads failed: users were sent to the stopped app", s.FailedReads)
	}
	if got := l.servedBy(t); got != l.Back {
		t.Errorf("after the refusal a read was served by %s, want the backup %s", got, l.Back)
	}

	// Started again, the switch goes through; a forced switch is recorded with the operator.
	l.appctl(t, "start", "app-p1", "v1")
	var rec []string
	if _, err := l.switchTo(t, inventory.Production, live.SwitchOptions{Force: true, Operator: "alice",
		Confirm: func(string, string) bool { return true }, Record: func(s string) { rec = append(rec, s) }}); err != nil {
		t.Fatalf("switch to the restarted production: %v", err)
	}
	if len(rec) != 0 {
		t.Errorf("a forced switch to a healthy side recorded %q: force only matters when the side is down", rec)
	}
}

// Observation 2: with replay paused on the standby and new rows on the primary, check said "ok …
// streaming" and the sync gate passed. Now check fails with "replay PAUSED" and the fix, and a run
// stops at its preflight before anything changes.
func TestPausedStandbyBlocksSync(t *testing.T) {
	l := startLab(t, basePaused, false)
	l.sql(t, "db-backup", "SELECT pg_wal_replay_pause()")
	for i := 0; i < 30; i++ {
		l.sql(t, "db-prod", "INSERT INTO items (name) VALUES ('paused-"+time.Now().Format("150405.000000")+"')")
	}
	out, ok := check(t, l)
	if ok {
		t.Errorf("check passed with replay paused on db-backup")
	}
	requireFail(t, out, "replay PAUSED on db-backup", "pg_wal_replay_resume()")

	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly, auto: true})
	err := r.wait(time.Minute)
	var se *steps.StepError
	if !errors.As(err, &se) || se.StepID != "preflight" || !strings.Contains(err.Error(), "replay PAUSED") {
		t.Fatalf("run with replay paused: %v; want the preflight to fail saying replay PAUSED", err)
	}
	if got := upstreamFile(t, l); got != l.Inv.Upstream(inventory.Production) {
		t.Errorf("the run changed the upstream file")
	}
}

// Observation 3: killed between writing the upstream file and the reload, the file said production
// while nginx served the backup, and a new run started over. Now run, check and switch compare the
// file with what the probes are served by and refuse.
func TestFileTrafficMismatch(t *testing.T) {
	l := startLab(t, baseMismatch, false)
	if _, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
	// The state a kill between write and reload leaves: the file names production, nginx serves the backup.
	if err := os.WriteFile(l.Inv.Balancer.File, []byte(l.Inv.Upstream(inventory.Production)), 0o644); err != nil {
		t.Fatal(err)
	}
	load := startLoad(t, l)
	out, ok := check(t, l)
	if ok {
		t.Errorf("check passed while the file names production and users are on the backup")
	}
	requireFail(t, out, "names production but users are served by backup")

	if _, err := l.switchTo(t, inventory.Production, live.SwitchOptions{}); !errors.Is(err, steps.ErrRefused) ||
		!strings.Contains(err.Error(), "--to backup") {
		t.Errorf("switch to production on a mismatch: %v; want a refusal saying to make the file agree first", err)
	}
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly, auto: true})
	err := r.wait(time.Minute)
	if err == nil || !strings.Contains(err.Error(), "names production but users are served by backup") {
		t.Fatalf("run on a file/traffic mismatch: %v; want the preflight to refuse", err)
	}
	if cmds := r.output("upgrade-production", "$ "); len(cmds) > 0 {
		t.Errorf("the run went on to upgrade production: %v", cmds)
	}
	r.world.Close() // releases the lock: the test goes on as the next operator would
	// Making the file agree with the traffic moves no user and is allowed.
	if _, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{}); err != nil {
		t.Errorf("switch to the side users are on: %v", err)
	}
	rep := load.Stop()
	s := logLoad(t, rep)
	t.Logf("figures: %d failed reads of %d", s.FailedReads, s.Reads)
	if s.FailedReads > 0 {
		t.Errorf("%d reads failed", s.FailedReads)
	}
}

// Observation 4: check exited 0 with users on the backup, app-p1 stopped and replay paused. Now each
// half-done state is one FAIL line with its fix.
func TestCheckFailsOnHalfDoneStates(t *testing.T) {
	l := startLab(t, baseHalfDone, false)
	steps := []struct {
		name  string
		setup func()
		want  []string
	}{
		{"users on the backup", func() {
			if _, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{}); err != nil {
				t.Fatal(err)
			}
		}, []string{"users are on the backup", "--to production"}},
		{"an app host down", func() { l.appctl(t, "stop", "app-p1") }, []string{"app-p1", "down", "start it"}},
		{"replay paused", func() { l.sql(t, "db-backup", "SELECT pg_wal_replay_pause()") }, []string{"replay PAUSED on db-backup", "pg_wal_replay_resume()"}},
		{"a fence set", func() {
			l.sql(t, "db-prod", "ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()")
			time.Sleep(300 * time.Millisecond)
		}, []string{"db-prod is fenced read-only", "ALTER SYSTEM RESET default_transaction_read_only"}},
		{"a leftover publication", func() {
			l.sql(t, "db-prod", "SET default_transaction_read_only = off", "CREATE PUBLICATION pitstop_reverse FOR ALL TABLES")
		}, []string{"db-prod still has the reverse sync's publication", "DROP PUBLICATION"}},
		{"a promoted backup", func() { l.sql(t, "db-backup", "SELECT pg_promote()") }, []string{"db-backup is a primary", "rebuild it"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.setup()
			out, ok := check(t, l)
			if ok {
				t.Errorf("check passed with %s", st.name)
			}
			requireFail(t, out, st.want...)
		})
	}
}

// Observation 8: after a switch was retried or undone, FILE.pitstop-prev held the candidate, and the
// upstream that was live before was gone.
func TestPrevFileAfterRetryAndUndo(t *testing.T) {
	l := startLab(t, basePrev, false)
	prod, back := l.Inv.Upstream(inventory.Production), l.Inv.Upstream(inventory.Backup)
	prevFile := func() string {
		b, _ := os.ReadFile(l.Inv.Balancer.File + ".pitstop-prev")
		return string(b)
	}
	if _, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
	if prevFile() != prod {
		t.Fatalf(".pitstop-prev after the switch to backup is not the production upstream:\n%s", prevFile())
	}
	// A retry of the switch that already took effect.
	if _, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := prevFile(); got != prod {
		t.Errorf(".pitstop-prev after retrying the switch to backup:\n%s\nwant the production upstream that was live before it:\n%s", got, prod)
	}
	// An undone switch: the candidate is rejected by nginx -t and restored.
	l.Inv.Hosts["app-p1"].Serve = "127.0.0.11:99999"
	if _, err := l.switchTo(t, inventory.Production, live.SwitchOptions{Force: true, Confirm: func(string, string) bool { return true }}); err == nil {
		t.Fatal("the switch to an invalid production upstream succeeded")
	}
	if got := upstreamFile(t, l); got != back {
		t.Errorf("upstream file after the undone switch:\n%s", got)
	}
	if got := prevFile(); got != prod {
		t.Errorf(".pitstop-prev after the undone switch:\n%s\nwant the production upstream that was live before the switch to backup:\n%s", got, prod)
	}
}
