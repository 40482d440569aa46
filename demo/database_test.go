package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

func TestLagTrailsRealistically(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	var replays []int64
	for range 10 {
		time.Sleep(w.clock.real(500 * time.Millisecond))
		l := lag(t, w, "db-main", "db-standby")
		if !l.Streaming || l.Paused || l.HasDelay || l.Err != "" {
			t.Fatalf("idle standby link = %+v; want streaming, no delay", l)
		}
		if !(0 <= l.Sent && l.Sent <= l.Write && l.Write <= l.Flush && l.Flush <= l.Replay) {
			t.Errorf("link %+v: each stage must be at least as far behind as the one before", l)
		}
		if l.Replay > 64<<10 {
			t.Errorf("idle standby is %d bytes behind; want tens of KB", l.Replay)
		}
		replays = append(replays, l.Replay)
	}
	distinct := map[int64]bool{}
	for _, r := range replays {
		distinct[r] = true
	}
	if len(distinct) < 3 {
		t.Errorf("replay lag over 10 readings: %v; want it to move", replays)
	}
}

func TestPauseGrowsLagResumeCatchesUp(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	db, ctx := w.Ports().DB, context.Background()
	if err := db.PauseReplay(ctx, "db-standby"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the paused standby falls 1 MB behind", func() bool {
		l := lag(t, w, "db-main", "db-standby")
		return l.Paused && l.Replay > 1<<20
	})
	l := lag(t, w, "db-main", "db-standby")
	if !l.HasDelay || l.Delay <= 0 || l.Flush > 64<<10 {
		t.Errorf("paused link = %+v; want a delay, and WAL still received", l)
	}
	if r := lag(t, w, "db-main", "ro-1"); r.Paused || r.Replay > 64<<10 {
		t.Errorf("replica ro-1 = %+v; pausing db-standby must not touch it", r)
	}
	if err := db.ResumeReplay(ctx, "db-standby"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the standby catches up", func() bool {
		l := lag(t, w, "db-main", "db-standby")
		return !l.Paused && l.Replay < 64<<10 && !l.HasDelay
	})
}

func TestFenceRefusesWrites(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	ports, ctx := w.Ports(), context.Background()
	window := func() steps.ProbeStats {
		time.Sleep(w.clock.real(3100 * time.Millisecond))
		return ports.Probe.Stats(3 * time.Second)
	}
	if s := window(); s.Writes < 2 || s.WritesRefused != 0 {
		t.Fatalf("writes on production: %d, %d refused; want some, none refused", s.Writes, s.WritesRefused)
	}
	if err := ports.DB.Fence(ctx, "db-main"); err != nil {
		t.Fatal(err)
	}
	if s := window(); s.Writes < 2 || s.WritesRefused != s.Writes || s.Failed != 0 {
		t.Errorf("writes on fenced production: %d, %d refused, %d reads failed; want all writes refused, reads fine",
			s.Writes, s.WritesRefused, s.Failed)
	}
	eventually(t, "the standby drains a fenced primary to zero", func() bool { return lag(t, w, "db-main", "db-standby").Replay == 0 })
	if err := ports.DB.Unfence(ctx, "db-main"); err != nil {
		t.Fatal(err)
	}
	if s := window(); s.WritesRefused != 0 {
		t.Errorf("writes after unfencing: %d of %d refused", s.WritesRefused, s.Writes)
	}
	if _, err := ports.Balancer.Switch(ctx, inventory.Backup, nil); err != nil {
		t.Fatal(err)
	}
	if s := window(); s.Writes < 2 || s.WritesRefused != s.Writes {
		t.Errorf("writes on backup (a standby): %d, %d refused; want all refused", s.Writes, s.WritesRefused)
	}
}

func TestPromoteAndReverseSync(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	ports, ctx := w.Ports(), context.Background()
	db := ports.DB
	for _, step := range []func() error{
		func() error { return db.Fence(ctx, "db-main") },
		func() error { return db.Promote(ctx, "db-standby") },
		func() error { return db.StartCapture(ctx, "db-standby") },
		func() error { _, err := ports.Balancer.Switch(ctx, inventory.Backup, nil); return err },
		func() error { return db.Unfence(ctx, "db-main") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := findLag(t, w, "db-main", "db-standby"); ok {
		t.Error("physical link to the promoted db-standby is still listed")
	}
	if _, ok := findLag(t, w, "db-standby", "db-main"); ok {
		t.Error("logical link listed before the reverse sync started")
	}
	if r := lag(t, w, "db-main", "ro-1"); !r.Streaming {
		t.Errorf("replica ro-1 stopped following production: %+v", r)
	}
	time.Sleep(w.clock.real(3 * time.Second)) // backup takes writes: the capture records them
	if s := ports.Probe.Stats(2 * time.Second); s.Writes == 0 || s.WritesRefused != 0 {
		t.Errorf("writes on the promoted backup: %d, %d refused; want accepted", s.Writes, s.WritesRefused)
	}
	if err := db.AdvanceSequences(ctx, "db-standby", "db-main"); err == nil {
		t.Error("AdvanceSequences without a reverse sync succeeded")
	}
	if err := db.StartReverseSync(ctx, "db-standby", "db-main"); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock() // read the state as it is, without moving the simulation on
	backlog, fromCapture := w.dbs["db-standby"].lsn-w.link("db-standby", "db-main").applied, w.link("db-standby", "db-main").applied == w.dbs["db-standby"].capLSN
	w.mu.Unlock()
	if !fromCapture || backlog < 64<<10 {
		t.Errorf("new reverse sync starts %d bytes behind (at the capture: %v); want it to apply everything captured since", backlog, fromCapture)
	}
	if l := lag(t, w, "db-standby", "db-main"); l.Kind != steps.Logical || !l.Streaming || l.Err != "" {
		t.Errorf("new reverse sync = %+v; want a streaming logical link", l)
	}
	eventually(t, "the reverse sync catches up", func() bool { return lag(t, w, "db-standby", "db-main").Replay < 64<<10 })
	for range 5 {
		time.Sleep(w.clock.real(500 * time.Millisecond))
		if l := lag(t, w, "db-standby", "db-main"); l.Replay == 0 || l.Replay > 64<<10 {
			t.Errorf("reverse sync with backup taking writes is %d bytes behind; want tens of KB", l.Replay)
		}
	}
	if err := db.StartReverseSync(ctx, "db-standby", "db-main"); err != nil {
		t.Errorf("starting the same reverse sync again: %v", err)
	}
	if err := db.AdvanceSequences(ctx, "db-standby", "db-main"); err != nil {
		t.Errorf("AdvanceSequences: %v", err)
	}
	if err := db.StopReverseSync(ctx, "db-standby", "db-main"); err != nil {
		t.Fatal(err)
	}
	if _, ok := findLag(t, w, "db-standby", "db-main"); ok {
		t.Error("logical link still listed after StopReverseSync")
	}
	if err := db.AdvanceSequences(ctx, "db-standby", "db-main"); err == nil {
		t.Error("AdvanceSequences after StopReverseSync succeeded")
	}
}

func TestInvalidDatabaseOps(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	db, ctx := w.Ports().DB, context.Background()
	for _, tc := range []struct {
		name string
		op   func() error
		want string
	}{
		{"pause a primary", func() error { return db.PauseReplay(ctx, "db-main") }, "recovery is not in progress"},
		{"resume a primary", func() error { return db.ResumeReplay(ctx, "db-main") }, "recovery is not in progress"},
		{"promote a primary", func() error { return db.Promote(ctx, "db-main") }, "a primary already"},
		{"fence a standby", func() error { return db.Fence(ctx, "db-standby") }, "standby"},
		{"unfence a standby", func() error { return db.Unfence(ctx, "ro-1") }, "standby"},
		{"capture on a standby", func() error { return db.StartCapture(ctx, "db-standby") }, "read-only transaction"},
		{"reverse sync without capture", func() error { return db.StartReverseSync(ctx, "db-main", "db-standby") }, "does not exist"},
		{"reverse sync to itself", func() error { return db.StartReverseSync(ctx, "db-main", "db-main") }, "same host"},
		{"advance without sync", func() error { return db.AdvanceSequences(ctx, "db-main", "db-standby") }, "no reverse sync"},
		{"stop a sync that never started", func() error { return db.StopReverseSync(ctx, "db-standby", "db-main") }, "nothing to stop"},
		{"unknown host", func() error { return db.PauseReplay(ctx, "db-nope") }, `"db-nope" is not a database`},
		{"an app host", func() error { return db.Fence(ctx, "web-1") }, `"web-1" is not a database`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Nothing above changed anything.
	if l := lag(t, w, "db-main", "db-standby"); !l.Streaming || l.Paused {
		t.Errorf("backup link after invalid operations = %+v", l)
	}
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Replication(ctxDone); err == nil {
		t.Error("Replication with a cancelled context succeeded")
	}
	if err := db.Promote(ctxDone, "db-standby"); err == nil {
		t.Error("Promote with a cancelled context succeeded")
	}
	if l := lag(t, w, "db-main", "db-standby"); !l.Streaming {
		t.Errorf("a cancelled Promote promoted anyway: %+v", l)
	}
}

func TestFormatLSN(t *testing.T) {
	if got := formatLSN(3<<32 + 0x1A2B3C40); got != "3/1A2B3C40" {
		t.Errorf("formatLSN = %q", got)
	}
}
