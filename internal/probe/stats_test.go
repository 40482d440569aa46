package probe

import (
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// labInventory is a two-side inventory with no server behind it.
func labInventory() *inventory.Inventory {
	inv := &inventory.Inventory{
		Source: "test",
		Probe:  inventory.Probe{URL: "http://127.0.0.1:1/", WriteURL: "http://127.0.0.1:1/w", WriteEvery: time.Second},
		Hosts: map[string]*inventory.Host{
			"p1": {Serve: "10.0.0.1:80"},
			"b1": {Serve: "10.0.1.1:80"},
			"db": {},
		},
		Sides: inventory.Sides{
			Production: inventory.SideSpec{Apps: []string{"p1"}, Database: "db"},
			Backup:     inventory.SideSpec{Apps: []string{"b1"}},
		},
	}
	inv.Defaults()
	return inv
}

func TestStats(t *testing.T) {
	p := New(labInventory(), Options{Rate: 100})
	now := time.Now()
	// 100 requests in the last 10s with latencies 1ms … 100ms; every 10th failed; the newest
	// successful one came from backup. Plus older requests outside the window.
	for i := 1; i <= 100; i++ {
		r := record{seq: uint64(i), start: now.Add(-10*time.Second + time.Duration(i)*90*time.Millisecond),
			latency: time.Duration(i) * time.Millisecond, ok: i%10 != 0, upstream: "10.0.0.1:80", version: "1.0"}
		if !r.ok {
			r.status, r.err = 502, "HTTP 502"
		}
		if i == 99 {
			r.upstream, r.version = "10.0.1.1:80", "2.0"
		}
		p.addRead(r)
	}
	for i := 0; i < 20; i++ {
		p.addRead(record{start: now.Add(-time.Minute), latency: time.Hour, ok: true, upstream: "old:1"})
	}
	for i, o := range []writeOutcome{writeOK, writeRefused, writeRefused, writeFailed, writeOK} {
		p.writes.add(writeRecord{start: now.Add(-time.Duration(i) * time.Second), outcome: o})
	}
	p.writes.add(writeRecord{start: now.Add(-time.Minute), outcome: writeFailed})

	st := p.statsAt(now, 10*time.Second)
	checks := []struct {
		name      string
		got, want any
	}{
		{"window", st.Window, 10 * time.Second},
		{"requests", st.Requests, 100},
		{"failed", st.Failed, 10},
		{"success", st.Success(), 90.0},
		{"p50", st.P50, 50 * time.Millisecond},
		{"p99", st.P99, 99 * time.Millisecond},
		{"upstreams production", st.Upstreams["10.0.0.1:80"], 89},
		{"upstreams backup", st.Upstreams["10.0.1.1:80"], 1},
		{"upstream kinds", len(st.Upstreams), 2},
		{"last upstream", st.LastUpstream, "10.0.1.1:80"},
		{"version", st.Version, "2.0"},
		{"writes", st.Writes, 5},
		{"refused", st.WritesRefused, 2},
		{"failed writes", st.WritesFailed, 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if all := p.statsAt(now, 0); all.Requests != 120 || all.P99 != time.Hour {
		t.Errorf("whole history: %d requests, p99 %v; want 120, 1h", all.Requests, all.P99)
	}
	if empty := p.statsAt(now.Add(time.Hour), time.Second); empty.Requests != 0 || empty.P50 != 0 || empty.Success() != 100 {
		t.Errorf("empty window: %+v", empty)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		in       []time.Duration
		pct      float64
		want     time.Duration
		scenario string
	}{
		{nil, 50, 0, "empty"},
		{ms(7), 50, 7 * time.Millisecond, "one"},
		{ms(7), 99, 7 * time.Millisecond, "one, p99"},
		{ms(1, 2), 50, time.Millisecond, "two"},
		{ms(1, 2, 3, 4), 99, 4 * time.Millisecond, "p99 of four is the max"},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5 * time.Millisecond, "ten"},
	}
	for _, tt := range tests {
		if got := percentile(tt.in, tt.pct); got != tt.want {
			t.Errorf("%s: percentile(%v, %v) = %v, want %v", tt.scenario, tt.in, tt.pct, got, tt.want)
		}
	}
}

func TestLastUpstream(t *testing.T) {
	tests := map[string]string{
		"":                                   "",
		"10.0.0.1:80":                        "10.0.0.1:80",
		"10.0.0.1:80, 10.0.0.2:80":           "10.0.0.2:80",
		"10.0.0.1:80, 10.0.0.2:80 : [::1]:8": "[::1]:8",
		"unix:/run/app.sock":                 "unix:/run/app.sock",
		" 10.0.0.1:80 ":                      "10.0.0.1:80",
	}
	for in, want := range tests {
		if got := lastUpstream(in); got != want {
			t.Errorf("lastUpstream(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLastRun(t *testing.T) {
	t0 := time.Now()
	recs := func(seqs ...int) []record {
		out := make([]record, len(seqs))
		for i, s := range seqs {
			out[i] = record{seq: uint64(s), start: t0.Add(time.Duration(s) * 50 * time.Millisecond)}
		}
		return out
	}
	tests := []struct {
		name  string
		in    []record
		n     int
		span  time.Duration
		first uint64 // first seq of the run; 0 = no run
	}{
		{"too few", recs(1, 2, 3, 4), 5, 0, 0},
		{"five", recs(1, 2, 3, 4, 5, 6), 5, 0, 2},
		{"span needs more", recs(1, 2, 3, 4, 5, 6, 7, 8, 9), 5, 250 * time.Millisecond, 4},
		{"gap in the run: one still in flight", recs(1, 2, 3, 5, 6, 7, 8), 5, 0, 0},
		{"gap before the run is fine", recs(1, 3, 4, 5, 6, 7), 5, 0, 3},
		{"span never reached", recs(1, 2, 3, 4, 5), 5, time.Second, 0},
	}
	for _, tt := range tests {
		run, ok := lastRun(tt.in, tt.n, tt.span)
		switch {
		case tt.first == 0 && ok:
			t.Errorf("%s: got run from %d, want none", tt.name, run[0].seq)
		case tt.first != 0 && (!ok || run[0].seq != tt.first || run[len(run)-1].seq != tt.in[len(tt.in)-1].seq):
			t.Errorf("%s: got %v (ok %v), want run from %d to the newest", tt.name, run, ok, tt.first)
		}
	}
}

func TestDescribe(t *testing.T) {
	p := New(labInventory(), Options{})
	got := p.describe([]record{
		{ok: true, upstream: "10.0.1.1:80"},
		{err: "HTTP 502", upstream: "10.0.1.1:80"},
		{ok: true, upstream: "10.0.1.1:80"},
		{err: "connection refused"},
		{ok: true, upstream: "10.9.9.9:80"},
		{ok: true},
	})
	want := "2× 10.0.1.1:80 (backup), 1× HTTP 502 via 10.0.1.1:80 (backup), 1× connection refused, " +
		"1× 10.9.9.9:80 (not an app host of the inventory), 1× answered without naming its upstream (header X-Upstream missing)"
	if got != want {
		t.Errorf("describe:\n got %s\nwant %s", got, want)
	}
}
