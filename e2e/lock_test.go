package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/internal/nginx"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Port bases of the lock tests (issue 9).
const (
	baseProdDBDown = 19500
	baseLockLoss   = 19600
	baseStaleLock  = 19700
)

// Observation 7a: with production's PostgreSQL down, `switch --to backup` refused ("take the pitstop
// lock: cannot connect"). The lock is a file on the balancer host now: the switch works.
func TestSwitchToBackupWithProductionDBDown(t *testing.T) {
	l := startLab(t, baseProdDBDown, false)
	load := startLoad(t, l)
	settle(time.Second)
	data := filepath.Join(l.Dir, "pg", "db-prod")
	if out, err := runAs("postgres", "/usr/lib/postgresql/15/bin/pg_ctl", "stop", "-D", data, "-m", "fast", "-w"); err != nil {
		t.Fatalf("stop production's database: %v\n%s", err, out)
	}
	stopped := time.Now()
	var notes []string
	out, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{Note: func(s string) { notes = append(notes, s) }})
	if err != nil {
		t.Fatalf("switch to backup with production's database down: %v", err)
	}
	switched := time.Now()
	if !strings.Contains(out, "backup is live") {
		t.Errorf("switch output:\n%s", out)
	}
	if len(notes) == 0 || !strings.Contains(notes[0], "database layer of the pitstop lock is not taken") {
		t.Errorf("the switch did not say the database lock was not taken: %q", notes)
	}
	if _, err := os.Stat(l.Inv.Balancer.File + ".pitstop-lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock file is left behind after the switch: %v", err)
	}
	settle(time.Second)
	rep := load.Stop()
	s := logLoad(t, rep)
	after := 0
	for _, q := range rep.Requests {
		if q.Op == "read" && q.Start.After(switched) && q.Outcome != "ok" {
			after++
		}
	}
	t.Logf("figures: %d failed reads of %d in all (production's database stopped %s before the switch finished); %d failed after the switch",
		s.FailedReads, s.Reads, switched.Sub(stopped).Round(time.Millisecond), after)
	if after > 0 {
		t.Errorf("%d reads failed after the switch to the backup", after)
	}
}

// lockBackend finds the session holding Pitstop's advisory lock on production's database.
func (l *testLab) lockBackend(t *testing.T) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, l.dbConn("db-prod"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var pid int32
	const key int64 = 0x70697473746f70
	if err := c.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2`,
		key>>32, key&0xffffffff).Scan(&pid); err != nil {
		t.Fatalf("find the pitstop lock's session: %v", err)
	}
	return pid
}

// Observation 7b: a lock lost because its connection died went unnoticed, and the lock error advised
// pg_terminate_backend. Now the loss is noticed within seconds and the run makes no further change:
// the next gate does not open and says why. A concurrent switch is refused by the lock file, naming
// the run's owner.
func TestLockLossStopsTheRunAtTheNextGate(t *testing.T) {
	l := startLab(t, baseLockLoss, false)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly, stopConfirming: func(ev steps.Event) bool {
		return ev.Kind == steps.EvGateWaiting && ev.StepID == "switch-to-backup"
	}})
	r.waitFor("the switch gate", time.Minute, gateOf(steps.GateConfirm, "switch-to-backup"))

	// Another pitstop, meanwhile, cannot take the lock: it names the owner and gives no kill advice.
	_, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{})
	if !errors.Is(err, nginx.ErrLockHeld) || !strings.Contains(err.Error(), "e2e on ") || strings.Contains(err.Error(), "pg_terminate_backend") {
		t.Errorf("a concurrent switch: %v; want the lock held, naming the owner, without kill advice", err)
	}

	pid := l.lockBackend(t)
	l.sql(t, "db-prod", fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid))
	killed := time.Now()
	notice := r.waitFor("the lock-lost notice", 10*time.Second, func(ev steps.Event) bool {
		return ev.Kind == steps.EvNotice && strings.Contains(ev.Text, "PITSTOP LOCK LOST")
	})
	t.Logf("lock loss noticed %s after the session was ended: %s", notice.Time.Sub(killed).Round(time.Millisecond), notice.Text)
	if d := notice.Time.Sub(killed); d > 5*time.Second {
		t.Errorf("the loss was noticed after %s, want within seconds", d)
	}
	g := r.waitFor("the gate showing the lost lock", 5*time.Second, func(ev steps.Event) bool {
		if ev.Kind != steps.EvGateWaiting || ev.StepID != "switch-to-backup" {
			return false
		}
		for _, c := range ev.Gate.Conditions {
			if c.Kind == steps.CondLock && !c.OK {
				return true
			}
		}
		return false
	}).Gate
	if g.Ready {
		t.Errorf("the switch gate is ready with the lock lost")
	}
	r.decide("switch-to-backup", steps.Confirm)
	r.waitFor("confirmation refused", 5*time.Second, func(ev steps.Event) bool {
		return ev.Kind == steps.EvNotice && strings.Contains(ev.Text, "cannot confirm yet") && strings.Contains(ev.Text, "LOST")
	})
	settle(time.Second)
	if got := upstreamFile(t, l); got != l.Inv.Upstream(inventory.Production) {
		t.Errorf("the run switched after losing its lock")
	}
}

// A stale lock (its owner's process is gone) fails check, is refused naming its owner, and is taken
// over only after a confirmation that names the owner.
func TestStaleLockIsTakenOverOnlyAfterConfirmation(t *testing.T) {
	l := startLab(t, baseStaleLock, false)
	host, _ := os.Hostname()
	stale := fmt.Sprintf("operator=bob\nmachine=%s\npid=999999\nsince=2026-01-01T00:00:00Z\ntoken=old\n", host)
	if err := os.WriteFile(l.Inv.Balancer.File+".pitstop-lock", []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	out, ok := check(t, l)
	if ok {
		t.Error("check passed with a stale lock")
	}
	requireFail(t, out, "pitstop lock", "bob on "+host, "stale")

	_, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{})
	var held *nginx.LockHeldError
	if !errors.As(err, &held) || held.Owner.Operator != "bob" || held.Stale == "" {
		t.Fatalf("switch with a stale lock and nobody to confirm: %v", err)
	}
	var asked string
	if _, err := l.switchTo(t, inventory.Backup, live.SwitchOptions{Operator: "carol", ConfirmTakeover: func(q string) bool { asked = q; return true }}); err != nil {
		t.Fatalf("switch after confirming the takeover: %v", err)
	}
	if !strings.Contains(asked, "bob on "+host+" (pid 999999)") {
		t.Errorf("the takeover question does not name the owner: %q", asked)
	}
}
