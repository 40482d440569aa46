package demo

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// request is one simulated probe request through the balancer.
type request struct {
	t        time.Time
	lat      time.Duration
	upstream string
	version  string
	ok       bool
	write    bool
	refused  bool // a write the database refused because it is read-only
}

// probeState is the simulated probe: a time-ordered history of requests and the newest direct
// check of each app host.
type probeState struct {
	reqs      []request
	acc       float64 // requests owed but not sent yet (fractions of one)
	rr        int     // round-robin position
	nextWrite time.Time
	nextCheck time.Time
	checks    map[string]steps.HostCheck
	// tot counts every request so far; refusedSince starts the current run of refused writes
	// (zero when the newest write was not refused), lastRefused is its newest.
	tot                       steps.ProbeTotals
	refusedSince, lastRefused time.Time
}

// count adds r, the next request in time order, to the totals.
func (p *probeState) count(r request) {
	t := &p.tot
	if !r.write {
		t.Reads++
		if !r.ok {
			t.FailedReads++
		}
		return
	}
	t.Writes++
	switch {
	case r.refused:
		t.RefusedWrites++
		if p.refusedSince.IsZero() {
			p.refusedSince = r.t
		}
		p.lastRefused = r.t
		return
	case !r.ok:
		t.FailedWrites++
	}
	if !p.refusedSince.IsZero() {
		t.RefusedFor += r.t.Sub(p.refusedSince)
		p.refusedSince = time.Time{}
	}
}

// totals is tot with a run of refused writes still under way counted to its newest.
func (p *probeState) totals() steps.ProbeTotals {
	t := p.tot
	if !p.refusedSince.IsZero() {
		t.RefusedFor += p.lastRefused.Sub(p.refusedSince)
	}
	return t
}

// initProbe prepares the probe. Callers hold w.mu or own w exclusively.
func (w *World) initProbe(now time.Time) {
	w.prb = probeState{checks: map[string]steps.HostCheck{}, nextWrite: now.Add(w.inv.Probe.WriteEvery), nextCheck: now}
}

// since returns the requests made after t.
func (p *probeState) since(t time.Time) []request {
	i := len(p.reqs)
	for i > 0 && p.reqs[i-1].t.After(t) {
		i--
	}
	return p.reqs[i:]
}

// advanceProbe sends the requests, writes and direct checks due between from and now. Callers hold w.mu.
func (w *World) advanceProbe(from, now time.Time) {
	p := &w.prb
	rate := float64(w.inv.Probe.Rate)
	if rate <= 0 {
		rate = 20
	}
	span := now.Sub(from)
	p.acc += rate * span.Seconds()
	n := int(p.acc)
	p.acc -= float64(n)
	fresh := len(p.reqs)
	for i := 1; i <= n; i++ {
		p.reqs = append(p.reqs, w.serve(from.Add(span*time.Duration(i)/time.Duration(n))))
	}
	if every := w.inv.Probe.WriteEvery; w.inv.Probe.WriteURL != "" && every > 0 {
		if p.nextWrite.Before(from) {
			p.nextWrite = from
		}
		for !p.nextWrite.After(now) {
			p.reqs = append(p.reqs, w.serveWrite(p.nextWrite))
			p.nextWrite = p.nextWrite.Add(every)
		}
	}
	// Stats and since rely on the history being in time order.
	slices.SortStableFunc(p.reqs[fresh:], func(a, b request) int { return a.t.Compare(b.t) })
	for _, r := range p.reqs[fresh:] {
		p.count(r)
	}
	if !now.Before(p.nextCheck) {
		for _, name := range w.appOrder {
			p.checks[name] = w.checkApp(name)
		}
		p.nextCheck = now.Add(time.Second)
	}
	cut := 0
	for cut < len(p.reqs) && now.Sub(p.reqs[cut].t) > history {
		cut++
	}
	if cut > 0 && cut >= len(p.reqs)/4 {
		p.reqs = append(p.reqs[:0:0], p.reqs[cut:]...)
	}
}

// nextApp picks the live side's next app host, round robin, or nil when the side has none.
// Callers hold w.mu.
func (w *World) nextApp() *appState {
	apps := w.inv.Sides.Get(w.bal.live).Apps
	if len(apps) == 0 {
		return nil
	}
	w.prb.rr++
	return w.apps[apps[w.prb.rr%len(apps)]]
}

// sideDBDown reports whether the live side's database is down (being rebuilt). Callers hold w.mu.
func (w *World) sideDBDown() bool {
	n := w.dbs[w.inv.Sides.Get(w.bal.live).Database]
	return n != nil && n.role == roleRebuilding
}

// serve simulates one read request at time t. Callers hold w.mu.
func (w *World) serve(t time.Time) request {
	a := w.nextApp()
	if a == nil {
		return request{t: t, lat: w.between(300*time.Microsecond, time.Millisecond)}
	}
	if a.down || w.sideDBDown() {
		// nginx answers 502 at once when the upstream refuses the connection.
		return request{t: t, lat: w.between(500*time.Microsecond, 2*time.Millisecond), upstream: a.serve}
	}
	return request{t: t, lat: w.latency(t), upstream: a.serve, version: a.version, ok: true}
}

// serveWrite simulates one probe write at time t. Callers hold w.mu.
func (w *World) serveWrite(t time.Time) request {
	r := w.serve(t)
	r.write = true
	if !r.ok {
		return r
	}
	if n := w.dbs[w.inv.Sides.Get(w.bal.live).Database]; n != nil && (n.role == roleStandby || n.fenced) {
		r.ok, r.refused = false, true
	}
	return r
}

// latency draws a successful request's latency: 3–15 ms, higher for a few seconds after a switch
// while the new upstream's connections and caches warm up. Callers hold w.mu.
func (w *World) latency(t time.Time) time.Duration {
	ms := 3 + min(w.rng.ExpFloat64()*2.5, 12)
	if !w.bal.switchedAt.IsZero() {
		if since := t.Sub(w.bal.switchedAt).Seconds(); since >= 0 {
			ms += 9 * math.Exp(-since/1.5)
		}
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// checkApp is a direct request to one app host's verify path. Callers hold w.mu.
func (w *World) checkApp(name string) steps.HostCheck {
	a := w.apps[name]
	c := steps.HostCheck{Host: name}
	switch {
	case a.down:
		c.Err, c.Latency = "connection refused", w.between(200*time.Microsecond, time.Millisecond)
	case w.dbDownFor(a):
		c.Status, c.Err, c.Latency = 503, "database unavailable", w.between(time.Millisecond, 3*time.Millisecond)
	default:
		c.OK, c.Status, c.Version = true, 200, a.version
		c.Latency = time.Duration((2 + min(w.rng.ExpFloat64()*1.5, 8)) * float64(time.Millisecond))
	}
	return c
}

// dbDownFor reports whether the database of a's side is down. Callers hold w.mu.
func (w *World) dbDownFor(a *appState) bool {
	n := w.dbs[w.inv.Sides.Get(a.side).Database]
	return n != nil && n.role == roleRebuilding
}

// probe implements steps.Probe on the world.
type probe struct{ w *World }

// Stats summarises the simulated probe requests of the last window of simulated time. P50 and P99
// are over successful reads.
func (p probe) Stats(window time.Duration) steps.ProbeStats {
	w := p.w
	w.lock()
	defer w.mu.Unlock()
	now := w.clock.Now()
	s := steps.ProbeStats{Window: window}
	var lats []time.Duration
	for _, r := range w.prb.since(now.Add(-window)) {
		if r.write {
			s.Writes++
			switch {
			case r.refused:
				s.WritesRefused++
			case !r.ok:
				s.WritesFailed++
			}
			continue
		}
		s.Requests++
		if !r.ok {
			s.Failed++
			continue
		}
		if s.Upstreams == nil {
			s.Upstreams = map[string]int{}
		}
		s.Upstreams[r.upstream]++
		s.LastUpstream, s.Version = r.upstream, r.version
		lats = append(lats, r.lat)
	}
	if len(lats) > 0 {
		slices.Sort(lats)
		s.P50 = lats[(len(lats)-1)/2]
		s.P99 = lats[max(int(math.Ceil(0.99*float64(len(lats))))-1, 0)]
	}
	for _, name := range w.appOrder {
		if c, ok := w.prb.checks[name]; ok {
			s.Hosts = append(s.Hosts, c)
		}
	}
	s.Totals = w.prb.totals()
	return s
}

// Check fetches the verify path on one app host directly, bypassing the balancer. A host that is
// down answers OK false with Err "connection refused"; the error is for a host that is no app host.
func (p probe) Check(ctx context.Context, host string) (steps.HostCheck, error) {
	w := p.w
	if _, ok := w.apps[host]; !ok {
		return steps.HostCheck{}, fmt.Errorf("check %s: not an app host of inventory %s (app hosts: %s)",
			host, w.inv.Name, strings.Join(w.appOrder, ", "))
	}
	if err := w.clock.Sleep(ctx, w.randDuration(2*time.Millisecond, 8*time.Millisecond)); err != nil {
		return steps.HostCheck{}, fmt.Errorf("check %s: %w", host, err)
	}
	w.lock()
	defer w.mu.Unlock()
	c := w.checkApp(host)
	w.prb.checks[host] = c
	return c, nil
}
