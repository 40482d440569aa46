package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
)

// Port bases of the reverse-sync crash tests' labs (base … base+80; nothing else uses 21200–21380).
const (
	baseCrashReverse  = 21200
	baseSIGHUPReverse = 21300
)

// TestReverseSyncKillAndResume: a headless run of the reverse-sync plan under load is killed with -9
// at seven points, and `pitstop run -i FILE` again resumes it each time. Four are in the middle of
// something slow: right after the switch to the promoted backup (users write there), in the middle of
// a slow upgrade command on production over SSH, after the backup's fence while production drains its
// last writes, and while the backup is being rebuilt. Three steps make one quick database call, too
// quick to aim a kill inside it from the output: the run is killed at the line the step prints as the
// call starts, which in the lab lands before the call took effect (the journal has the step started,
// not finished). So that the resumed run also meets the step's effect already in the world, the test
// then does what the call would have done for two of them:
//   - promote-backup: the test promotes db-backup itself, as a kill just after pg_promote() would have
//     left it; the resumed step finds it a primary ("already a primary", counted as done);
//   - advance-sequences: nothing is done for it; the resumed step advances production's sequences
//     (advancing them again is a no-op: internal/postgres's TestPromoteAndReverseSync);
//   - reverse-stop: the test drops the subscription itself (which drops the backup's slot too), as a
//     kill between DROP SUBSCRIPTION and dropping the publication would have left it; the
//     reconciliation shows the reverse sync stopping, not a discrepancy, and the resumed step drops
//     the publication without waiting for a lag reading of a sync that is gone.
func TestReverseSyncKillAndResume(t *testing.T) {
	l := startLab(t, baseCrashReverse, true)
	testReverseSyncStopAndResume(t, l, []killPoint{
		{name: "during promote-backup (then promoted by the test)", line: `db-backup \| promoting to primary`, then: func() {
			l.sql(t, "db-backup", `DO $$ BEGIN IF pg_is_in_recovery() THEN PERFORM pg_promote(true, 60); END IF; END $$`)
		}},
		{name: "right after the switch to the promoted backup", line: `switched: balancer now sends traffic to backup`},
		{name: "mid-upgrade of production while a command runs over SSH", line: `app-p1 \| slow upgrade on app-p1`},
		{name: "after the backup's fence, while production drains", line: `step reverse-drain started`},
		{name: "during advance-sequences", line: `db-prod \| advancing sequences past`},
		{name: "during reverse-stop (then its subscription dropped by the test)", line: `db-prod \| dropping the reverse sync`, then: func() {
			l.sql(t, "db-prod", "DROP SUBSCRIPTION IF EXISTS pitstop_reverse") // Pitstop's name for it
		}},
		{name: "while the backup is rebuilt", line: `db-backup \| rebuild-standby: cloning`},
	}, func(p *pitstopProc) { p.kill9() }, "kill -9")
}

// TestReverseSyncSIGHUPAndResume: the reverse-sync plan under load gets SIGHUP (the terminal or the
// SSH session to the jump host lost) right after the switch to the promoted backup, in the middle of
// production's upgrade over SSH, right after the backup's fence (the run stops at reverse-drain's wait)
// and while the backup is rebuilt; each time the running step finishes and the run stops before the
// next one (exit 1), and `pitstop run -i FILE` again goes on from there, to the same end as
// TestReverseSyncKillAndResume.
func TestReverseSyncSIGHUPAndResume(t *testing.T) {
	testReverseSyncStopAndResume(t, startLab(t, baseSIGHUPReverse, true), []killPoint{
		{name: "right after the switch to the promoted backup", line: `switched: balancer now sends traffic to backup`},
		{name: "mid-upgrade of production while a command runs over SSH", line: `app-p1 \| slow upgrade on app-p1`},
		{name: "right after the backup's fence", line: `step fence-backup done`},
		{name: "while the backup is rebuilt", line: `db-backup \| rebuild-standby: cloning`},
	}, func(p *pitstopProc) { p.sighup() }, "SIGHUP")
}

// testReverseSyncStopAndResume runs the reverse-sync plan headless under load on the lab l, stops it at
// each point (stop: how), and resumes it until it finishes. The end: users on production, both sides on
// v2, the backup a streaming standby again, no failed read, every acknowledged write (those
// the backup took too) in production and on the rebuilt standby, and the interrupted commands (the
// slow upgrade, the rebuild) run exactly once on each host.
func testReverseSyncStopAndResume(t *testing.T, l *testLab, points []killPoint, stop func(*pitstopProc), how string) {
	inv, ranLog := crashInventory(t, l)
	rebuiltLog := logRebuild(t, inv)
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	load := startLoad(t, l)
	settle(time.Second)
	out := killAndResume(t, env, []string{"run", "-i", inv, "--plan", "reverse-sync", "--auto-approve"}, points, stop, how)
	if !strings.Contains(out, "plan reverse-sync finished") {
		t.Fatalf("the last resume did not finish the plan:\n%s", lastLines(out, 60))
	}
	settle(time.Second)
	// Writes the backup acknowledged while users wrote there reached production by the reverse sync.
	assertUpgradedWithoutLoss(t, l, load)
	l.assertStreaming(t, 10*time.Second)
	assertRanOnce(t, l, ranLog)
	if b, err := os.ReadFile(rebuiltLog); err != nil || string(b) != "rebuild\n" {
		t.Errorf("the rebuild ran %d times, want exactly once (log %q, %v)", strings.Count(string(b), "rebuild\n"), b, err)
	}
}

// logRebuild makes the inventory file's rebuild command note each time it starts in a log beside the
// file, and returns the log.
func logRebuild(t *testing.T, file string) string {
	t.Helper()
	inv, err := inventory.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(filepath.Dir(file), "rebuild-ran")
	orig := inv.ReverseSync.Rebuild[0]
	was, _ := json.Marshal(orig)
	now, _ := json.Marshal("echo rebuild >> " + shell.Quote(log) + "; " + orig)
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(src), "- "+string(was), "- "+string(now), 1)
	if out == string(src) {
		t.Fatalf("no rebuild command %s in %s", was, file)
	}
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return log
}
