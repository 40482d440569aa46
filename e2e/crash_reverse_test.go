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

// Port base of the reverse-sync crash test's lab (base … base+80; nothing else uses 21200–21280).
const baseCrashReverse = 21200

// TestReverseSyncKillAndResume: a headless run of the reverse-sync plan under load is killed with -9
// at four points — right after the switch to the promoted backup (users write there), in the middle of
// a slow upgrade command on production over SSH, after the backup's fence while production drains its
// last writes, and while the backup is being rebuilt — and `pitstop run -i FILE` again resumes it each
// time. The last run finishes the plan: users on production, both sides on v2, the backup a streaming
// standby again, no failed read, every acknowledged write (those the backup took too) in production
// and on the rebuilt standby, and the interrupted commands run exactly once on each host.
func TestReverseSyncKillAndResume(t *testing.T) {
	l := startLab(t, baseCrashReverse, true)
	inv, ranLog := crashInventory(t, l)
	rebuiltLog := logRebuild(t, inv)
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	load := startLoad(t, l)
	settle(time.Second)
	out := killAndResume(t, env, []string{"run", "-i", inv, "--plan", "reverse-sync", "--auto-approve"}, []killPoint{
		{"right after the switch to the promoted backup", `switched: balancer now sends traffic to backup`},
		{"mid-upgrade of production while a command runs over SSH", `app-p1 \| slow upgrade on app-p1`},
		{"after the backup's fence, while production drains", `step reverse-drain started`},
		{"while the backup is rebuilt", `db-backup \| rebuild-standby: cloning`},
	}, func(p *pitstopProc) { p.kill9() }, "kill -9")
	if !strings.Contains(out, "plan reverse-sync finished") {
		t.Fatalf("the last resume did not finish the plan:\n%s", lastLines(out, 60))
	}
	settle(time.Second)
	rep := load.Stop()
	logLoad(t, rep)
	assertNoFailedReads(t, rep)
	// Writes the backup acknowledged while users wrote there reached production by the reverse sync.
	l.assertStored(t, "db-prod", rep.Acked, 0)
	l.assertStored(t, "db-backup", rep.Acked, 10*time.Second)
	if got := upstreamFile(t, l); got != l.Inv.Upstream(inventory.Production) {
		t.Errorf("the upstream file at the end:\n%s", got)
	}
	l.assertVersion(t, "app-p1", "v2")
	l.assertVersion(t, "app-b1", "v2")
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
