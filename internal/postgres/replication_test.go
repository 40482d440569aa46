package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// writer inserts rows of about 1 kB into table load on s until stopped, like an application taking
// writes.
type writer struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	rows int
	err  error
}

func startWriter(t *testing.T, s *pgServer, table string) *writer {
	t.Helper()
	conn := connect(t, s)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (id bigserial PRIMARY KEY, payload text)"); err != nil {
		t.Fatalf("create %s: %v", table, err)
	}
	w := &writer{stop: make(chan struct{})}
	w.wg.Go(func() {
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			_, err := conn.Exec(ctx, "INSERT INTO "+table+" (payload) SELECT repeat(md5(random()::text), 32) FROM generate_series(1, 20)")
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			w.rows += 20
			w.mu.Unlock()
		}
	})
	t.Cleanup(func() { _, _ = w.halt() })
	return w
}

// halt stops the writer and returns how many rows it wrote and its error, if any.
func (w *writer) halt() (int, error) {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rows, w.err
}

// link returns the reading of from→to, failing the test when there is none.
func link(t *testing.T, lags []steps.Lag, from, to string) steps.Lag {
	t.Helper()
	for _, l := range lags {
		if l.From == from && l.To == to {
			return l
		}
	}
	t.Fatalf("no reading of %s→%s in %+v", from, to, lags)
	return steps.Lag{}
}

func read(t *testing.T, c *Cluster) []steps.Lag {
	t.Helper()
	lags, err := c.Replication(context.Background())
	if err != nil {
		t.Fatalf("Replication: %v", err)
	}
	return lags
}

func checkSane(t *testing.T, l steps.Lag) {
	t.Helper()
	if l.Sent < 0 || l.Write < 0 || l.Flush < 0 || l.Replay < 0 || l.Delay < 0 {
		t.Fatalf("negative reading: %+v", l)
	}
	if !(l.Sent <= l.Write && l.Write <= l.Flush && l.Flush <= l.Replay) {
		t.Fatalf("stages out of order (each must be at least as far behind as the one before): %+v", l)
	}
}

func TestReplicationWhileWriting(t *testing.T) {
	p := sharedPair(t)
	c := New(inventoryFor(p), Options{})
	defer c.Close()
	prod, backup := p.primary.name, p.standby.name
	ctx := context.Background()
	w := startWriter(t, p.primary, "load_readings")

	for range 10 {
		lags := read(t, c)
		if len(lags) != 1 {
			t.Fatalf("want one link, got %+v", lags)
		}
		l := link(t, lags, prod, backup)
		if l.Kind != steps.Physical || !l.Streaming || l.Err != "" || l.Paused {
			t.Fatalf("want a streaming physical link without error, got %+v", l)
		}
		checkSane(t, l)
		time.Sleep(50 * time.Millisecond)
	}

	if err := c.PauseReplay(ctx, backup); err != nil {
		t.Fatalf("PauseReplay: %v", err)
	}
	t.Cleanup(func() { _ = c.ResumeReplay(context.Background(), backup) })
	var first steps.Lag
	eventually(t, 5*time.Second, "reading shows the replay paused", func() (bool, string) {
		first = link(t, read(t, c), prod, backup)
		return first.Paused, fmt.Sprintf("%+v", first)
	})
	// Replay stands still while WAL keeps arriving: the replay backlog grows.
	var l steps.Lag
	eventually(t, 20*time.Second, "replay backlog grows by 2 MB while paused", func() (bool, string) {
		l = link(t, read(t, c), prod, backup)
		checkSane(t, l)
		return l.Replay >= first.Replay+2<<20, fmt.Sprintf("%+v", l)
	})
	if _, err := w.halt(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	// With the writes stopped, everything is sent, written and flushed, but not replayed.
	eventually(t, 10*time.Second, "WAL is sent and flushed while replay stays paused", func() (bool, string) {
		l = link(t, read(t, c), prod, backup)
		checkSane(t, l)
		return l.Sent <= 64<<10 && l.Flush <= 64<<10, fmt.Sprintf("%+v", l)
	})
	if !l.Streaming || !l.Paused || l.Err != "" || l.Replay < 2<<20 {
		t.Fatalf("want streaming, paused, no error, at least 2 MB to replay: %+v", l)
	}
	if !l.HasDelay || l.Delay <= 0 {
		t.Fatalf("want a replay delay in time while there is a backlog: %+v", l)
	}
	// pg_stat_replication's time lags: reported while there is a backlog (the primary's last measures).
	if !l.HasTimeLags || l.WriteLag <= 0 || l.FlushLag < l.WriteLag || l.ReplayLag <= 0 {
		t.Fatalf("want the primary's write, flush and replay time lags while there is a backlog: %+v", l)
	}

	if err := c.ResumeReplay(ctx, backup); err != nil {
		t.Fatalf("ResumeReplay: %v", err)
	}
	eventually(t, 30*time.Second, "standby catches up after resume", func() (bool, string) {
		l = link(t, read(t, c), prod, backup)
		return !l.Paused && l.Streaming && l.Replay <= 64<<10, fmt.Sprintf("%+v", l)
	})
	if l.Replay == 0 && (l.HasDelay || l.HasTimeLags) {
		t.Fatalf("a delay in time without a backlog means nothing and must not be reported: %+v", l)
	}
}

func TestPauseResumeNeedStandby(t *testing.T) {
	p := sharedPair(t)
	c := New(inventoryFor(p), Options{})
	defer c.Close()
	for name, f := range map[string]func(context.Context, string) error{"PauseReplay": c.PauseReplay, "ResumeReplay": c.ResumeReplay, "Promote": c.Promote} {
		err := f(context.Background(), p.primary.name)
		if !errors.Is(err, ErrNotStandby) || !strings.Contains(err.Error(), p.primary.name) {
			t.Errorf("%s on the primary: want ErrNotStandby naming %s, got %v", name, p.primary.name, err)
		}
	}
}

func TestStandbyDown(t *testing.T) {
	p := sharedPair(t)
	r, err := startStandby(p.primary, "replica-1", portReplica)
	defer r.destroy()
	if err != nil {
		t.Fatalf("start a replica: %v", err)
	}
	c := New(inventoryFor(p, r), Options{})
	defer c.Close()
	// With two standbys, each is told apart by its application_name.
	eventually(t, 10*time.Second, "both standbys stream", func() (bool, string) {
		lags := read(t, c)
		a, b := link(t, lags, p.primary.name, p.standby.name), link(t, lags, p.primary.name, r.name)
		return a.Streaming && b.Streaming && a.Err == "" && b.Err == "", fmt.Sprintf("%+v", lags)
	})

	if err := r.stop(); err != nil {
		t.Fatalf("stop the replica: %v", err)
	}
	var l steps.Lag
	eventually(t, 10*time.Second, "the stopped replica shows as not streaming", func() (bool, string) {
		l = link(t, read(t, c), p.primary.name, r.name)
		return !l.Streaming, fmt.Sprintf("%+v", l)
	})
	if !strings.Contains(l.Err, r.name) {
		t.Fatalf("the reading's error must name the replica %s: %+v", r.name, l)
	}
	if other := link(t, read(t, c), p.primary.name, p.standby.name); !other.Streaming || other.Err != "" {
		t.Fatalf("the other standby is unaffected: %+v", other)
	}
}

// TestOneReadingInFlight holds a server's reading lock as a slow reading would, and checks that
// Replication answers at once with the previous reading instead of queueing a second query.
func TestOneReadingInFlight(t *testing.T) {
	p := sharedPair(t)
	c := New(inventoryFor(p), Options{})
	defer c.Close()
	read(t, c)
	n, err := c.node(p.standby.name)
	if err != nil {
		t.Fatal(err)
	}
	n.lastMu.Lock()
	prev := n.last
	n.lastMu.Unlock()

	n.reading.Lock()
	lags := read(t, c)
	n.lastMu.Lock()
	same := n.last == prev
	n.lastMu.Unlock()
	n.reading.Unlock()
	if !same {
		t.Fatal("a second reading ran while one was in flight")
	}
	if l := link(t, lags, p.primary.name, p.standby.name); !l.Streaming || l.Err != "" {
		t.Fatalf("the previous reading should stand in: %+v", l)
	}
	read(t, c)
	n.lastMu.Lock()
	defer n.lastMu.Unlock()
	if n.last == prev {
		t.Fatal("once the lock is free, a new reading runs")
	}
}

func TestFirstReadingStillRunning(t *testing.T) {
	p := sharedPair(t)
	c := New(inventoryFor(p), Options{})
	defer c.Close()
	n, _ := c.node(p.standby.name)
	n.reading.Lock()
	defer n.reading.Unlock()
	l := link(t, read(t, c), p.primary.name, p.standby.name)
	if !strings.Contains(l.Err, "still running") {
		t.Fatalf("want an error saying the first reading is still running: %+v", l)
	}
}

func TestParseLSN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want lsn
		bad  bool
	}{
		{"0/0", 0, false},
		{"0/16B3748", 0x16B3748, false},
		{"1/0", 1 << 32, false},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1, false},
		{"16B3748", 0, true},
		{"x/1", 0, true},
	} {
		in := tc.in
		got, err := parseLSN(&in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseLSN(%q) = %v, want an error", tc.in, *got)
			}
			continue
		}
		if err != nil || *got != tc.want {
			t.Errorf("parseLSN(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if got, err := parseLSN(nil); got != nil || err != nil {
		t.Errorf("parseLSN(nil) = %v, %v", got, err)
	}
}
