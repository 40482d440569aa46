package e2e

import (
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// TestReadonlyUnderLoad runs the readonly plan headless (AutoApprove) on the real lab while users read
// and write through nginx: no read fails, writes are refused (503 read_only) only while the backup's
// read-only standby serves, every acknowledged write is in production and on the standby, both sides
// end on v2, and the standby streams with nothing left to replay.
func TestReadonlyUnderLoad(t *testing.T) {
	l := startLab(t, baseReadonly, false)
	load := startLoad(t, l)
	settle(time.Second)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly, auto: true})
	if err := r.wait(2 * time.Minute); err != nil {
		t.Fatalf("readonly plan: %v", err)
	}
	settle(time.Second)
	rep := load.Stop()
	s := logLoad(t, rep)
	sum := r.summary()
	if sum.Status != steps.StatusDone || sum.Live != inventory.Production {
		t.Errorf("summary: %+v, want done with production live", sum)
	}

	// The read-only window: from the switch to the backup (its step starts) to the switch back (its
	// step has proved production serves).
	from := r.when(steps.EvStepStarted, "switch-to-backup", steps.StatusRunning)
	to := r.when(steps.EvStepFinished, "switch-to-production", steps.StatusDone)
	t.Logf("read-only window %s, %d writes refused", to.Sub(from).Round(time.Millisecond), s.RefusedWrites)
	assertNoFailedReads(t, rep)
	assertWritesRefusedOnlyWithin(t, rep, from, to, l.Back)
	if n := len(servedBy(rep.Between(from, to), lab.OpRead, l.Back)); n == 0 {
		t.Errorf("no read was served by the backup (%s) during the window: the switch did not reach users", l.Back)
	}
	last := rep.Between(rep.End.Add(-500*time.Millisecond), rep.End)
	for _, q := range last {
		if q.Upstream != l.Prod || q.Version != "v2" {
			t.Errorf("after the plan, %s %s was served by %s %s; want production %s on v2", q.Op, q.Start.Format("15:04:05.000"), q.Upstream, q.Version, l.Prod)
			break
		}
	}

	l.assertStored(t, "db-prod", rep.Acked, 0)
	l.assertStored(t, "db-backup", rep.Acked, 10*time.Second)
	l.assertVersion(t, "app-p1", "v2")
	l.assertVersion(t, "app-b1", "v2")
	l.assertStreaming(t, 10*time.Second)
}

// TestReverseSyncUnderLoad runs the reverse-sync plan headless under the same load: the backup takes
// writes while production is upgraded, and every write it acknowledged is in production after the
// switch back; no acknowledged write is lost anywhere; the backup's database is rebuilt as a standby
// that streams again; both sides end on v2.
func TestReverseSyncUnderLoad(t *testing.T) {
	l := startLab(t, baseReverse, false)
	load := startLoad(t, l)
	settle(time.Second)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReverseSync, auto: true})
	if err := r.wait(2 * time.Minute); err != nil {
		t.Fatalf("reverse-sync plan: %v", err)
	}
	settle(time.Second)
	rep := load.Stop()
	s := logLoad(t, rep)
	if sum := r.summary(); sum.Status != steps.StatusDone || sum.Live != inventory.Production {
		t.Errorf("summary: %+v, want done with production live", sum)
	}
	assertNoFailedReads(t, rep)

	// Writes the backup acknowledged while it was the primary users wrote to.
	from := r.when(steps.EvStepStarted, "switch-to-backup", steps.StatusRunning)
	to := r.when(steps.EvStepFinished, "switch-to-production", steps.StatusDone)
	var onBackup []string
	for _, q := range servedBy(rep.Requests, lab.OpWrite, l.Back) {
		onBackup = append(onBackup, q.Name)
	}
	t.Logf("backup window %s: the backup acknowledged %d writes; %d refused, %d failed in all",
		to.Sub(from).Round(time.Millisecond), len(onBackup), s.RefusedWrites, s.FailedWrites)
	if len(onBackup) == 0 {
		t.Fatal("the backup acknowledged no write: the reverse sync was not exercised")
	}
	// Refusals come from the fences: production's before the switch, the backup's before the switch back.
	fenceProd := r.when(steps.EvStepStarted, "fence-production", steps.StatusRunning)
	for _, q := range rep.Requests {
		if q.Op == lab.OpWrite && q.Outcome == lab.Refused && q.Start.Before(fenceProd.Add(-margin)) {
			t.Errorf("write refused at %s, before production was fenced at %s", q.Start.Format("15:04:05.000"), fenceProd.Format("15:04:05.000"))
		}
	}
	if s.FailedWrites > 0 {
		t.Errorf("%d writes failed (not refused): users saw errors", s.FailedWrites)
	}

	l.assertStored(t, "db-prod", onBackup, 0)
	l.assertStored(t, "db-prod", rep.Acked, 0)
	l.assertStored(t, "db-backup", rep.Acked, 10*time.Second)
	l.assertVersion(t, "app-p1", "v2")
	l.assertVersion(t, "app-b1", "v2")
	l.assertStreaming(t, 10*time.Second)
}
