package demo

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestProbeStats(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	p := w.Ports().Probe
	time.Sleep(w.clock.real(11 * time.Second))
	s := p.Stats(10 * time.Second)
	if s.Window != 10*time.Second {
		t.Errorf("Window = %s", s.Window)
	}
	// 20 requests per second of simulated time.
	if s.Requests < 180 || s.Requests > 220 {
		t.Errorf("%d requests over 10 s at rate 20; want ~200", s.Requests)
	}
	if s.Writes < 9 || s.Writes > 11 {
		t.Errorf("%d writes over 10 s with write_every 1s; want ~10", s.Writes)
	}
	if s.Failed != 0 || s.Success() != 100 {
		t.Errorf("%d failed (%.1f%%); want none", s.Failed, s.Success())
	}
	if s.P50 < 3*time.Millisecond || s.P99 > 15*time.Millisecond || s.P50 >= s.P99 {
		t.Errorf("p50 %s, p99 %s; want 3 ms ≤ p50 < p99 ≤ 15 ms", s.P50, s.P99)
	}
	if s.Version != "2.3.1" || !strings.HasPrefix(s.LastUpstream, "10.9.0.") {
		t.Errorf("last response from %q on %q; want production on 2.3.1", s.LastUpstream, s.Version)
	}
	for addr, n := range s.Upstreams {
		if n < 50 {
			t.Errorf("upstream %s served %d of %d requests; want round robin over 3", addr, n, s.Requests)
		}
	}
	var hosts []string
	for _, c := range s.Hosts {
		hosts = append(hosts, c.Host)
		if !c.OK || c.Version != "2.3.1" {
			t.Errorf("direct check %+v; want OK on 2.3.1", c)
		}
	}
	if got := strings.Join(hosts, ","); got != "web-1,web-2,web-3,web-b1" {
		t.Errorf("direct checks of %s; want every app host, production first", got)
	}
	if short := p.Stats(time.Second); short.Requests > 25 {
		t.Errorf("%d requests in a 1 s window", short.Requests)
	}
}

func TestProbeCheck(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	p := w.Ports().Probe
	if _, err := p.Check(context.Background(), "db-main"); err == nil || !strings.Contains(err.Error(), "not an app host") {
		t.Errorf("Check(db-main) = %v; want an error: not an app host", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Check(ctx, "web-1"); err == nil {
		t.Error("Check with a cancelled context succeeded")
	}
	c, err := p.Check(context.Background(), "web-b1")
	if err != nil || !c.OK || c.Status != 200 || c.Latency <= 0 {
		t.Errorf("Check(web-b1) = %+v, %v", c, err)
	}
}

func TestLatencyHigherAfterSwitch(t *testing.T) {
	w := NewWorld(testInventory(), Options{Seed: 3})
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	mean := func(at time.Time) time.Duration {
		var sum time.Duration
		for range 2000 {
			sum += w.latency(at)
		}
		return sum / 2000
	}
	steady := mean(now)
	w.bal.switchedAt = now
	warm := mean(now.Add(200 * time.Millisecond))
	later := mean(now.Add(20 * time.Second))
	if warm < steady+3*time.Millisecond || later > steady+time.Millisecond {
		t.Errorf("mean latency: steady %s, just after a switch %s, 20 s later %s; want a bump that fades", steady, warm, later)
	}
}
