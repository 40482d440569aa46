package probe

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// ServedBy waits until the newest consecutive requests through the balancer, all started after the
// call, at least VerifyRequests of them (default 5) spanning at least VerifySpan (default 250ms), were
// every one successful and served by an app host of side, with none between them still in flight.
// One lucky response proves nothing: right after a reload nginx's old workers still accept
// connections with the old configuration for a moment (60–80ms measured on loopback). It
// returns a one-line account of the proof, or after timeout an error saying what those requests saw.
// The Prober must be running. ServedBy makes *Prober an nginx.Verifier.
func (p *Prober) ServedBy(ctx context.Context, side inventory.Side, timeout time.Duration) (string, error) {
	if err := p.canProve(); err != nil {
		return "", err
	}
	if p.running() == nil {
		return "", fmt.Errorf("the probe of %s is not running, so nothing can show which side serves (start it before switching)", p.read.shown)
	}
	p.mu.Lock()
	from := p.seq
	p.mu.Unlock()
	n := p.opt.VerifyRequests
	deadline := time.Now().Add(timeout)
	for {
		recent := p.since(from)
		if run, ok := lastRun(recent, n, p.opt.VerifySpan); ok && p.allServedBy(run, side) {
			return fmt.Sprintf("the last %d probe requests through %s (%s; %d since the wait began) were all served by %s: %s",
				len(run), p.read.shown, run[len(run)-1].start.Sub(run[0].start).Round(time.Millisecond), len(recent), side, p.describe(run)), nil
		}
		if time.Now().After(deadline) {
			if len(recent) == 0 {
				return "", fmt.Errorf("no probe request through %s completed in %s", p.read.shown, timeout)
			}
			last := recent[max(len(recent)-n, 0):]
			return "", fmt.Errorf("after %s the last %d probe requests through %s were not all served by %s: %s",
				timeout, len(last), p.read.shown, side, p.describe(last))
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for probes served by %s: %w", side, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// canProve says why requests through the balancer cannot show which side serves, or nil.
func (p *Prober) canProve() error {
	if p.read.raw == "" {
		return fmt.Errorf("the inventory has no probe.url, so nothing can show which side serves: set it to a page users load through the balancer")
	}
	if p.read.invalid != "" {
		return fmt.Errorf("probe.url %s is unusable, so nothing can show which side serves: %s; correct it in the inventory", p.read.shown, p.read.invalid)
	}
	return nil
}

// since returns the completed requests numbered from seq on, in the order they started.
func (p *Prober) since(seq uint64) []record {
	var out []record
	p.mu.Lock()
	p.reads.each(func(r *record) {
		if r.seq >= seq {
			out = append(out, *r)
		}
	})
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// lastRun returns the newest requests that make a proof window: consecutive (none between them still
// in flight), at least n of them, their starts spanning at least span. ok is false until there are.
func lastRun(recs []record, n int, span time.Duration) (run []record, ok bool) {
	if len(recs) == 0 {
		return nil, false
	}
	newest := recs[len(recs)-1]
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].seq != newest.seq-uint64(len(recs)-1-i) {
			return nil, false // a gap: that request is still in flight
		}
		if len(recs)-i >= n && newest.start.Sub(recs[i].start) >= span {
			return recs[i:], true
		}
	}
	return nil, false
}

func (p *Prober) allServedBy(recs []record, side inventory.Side) bool {
	for _, r := range recs {
		if !r.ok || p.sides[r.upstream] != side {
			return false
		}
	}
	return true
}

// describe groups requests by outcome, e.g. "3× 127.0.0.23:18002 (backup), 2× HTTP 502 via
// 127.0.0.23:18002 (backup)" (an address alone means served by it), in order of first appearance.
func (p *Prober) describe(recs []record) string {
	var keys []string
	count := map[string]int{}
	for _, r := range recs {
		k := p.outcome(r)
		if count[k] == 0 {
			keys = append(keys, k)
		}
		count[k]++
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d× %s", count[k], k)
	}
	return strings.Join(parts, ", ")
}

func (p *Prober) outcome(r record) string {
	where := ""
	if r.upstream != "" {
		s := string(p.sides[r.upstream])
		if s == "" {
			s = "not an app host of the inventory"
		}
		where = fmt.Sprintf("%s (%s)", r.upstream, s)
	}
	switch {
	case r.ok && where == "":
		return "answered without naming its upstream (header " + p.upstreamHeader + " missing)"
	case r.ok:
		return where
	case where != "":
		return r.err + " via " + where
	}
	return r.err
}

// ServedNow proves at once that requests through the balancer reach side: it makes its own requests,
// one after another (each waits for the one before), until n consecutive ones were all successful and
// served by an app host of side, and returns a one-line account of them. It needs no running probe
// and takes as long as n requests do; a request on another side or a failure starts the count again,
// until timeout, when it returns an error saying what the last requests saw. Its requests are recorded
// like the probe's own: what they saw, users saw. ServedNow makes *Prober an nginx.Verifier.
func (p *Prober) ServedNow(ctx context.Context, side inventory.Side, n int, timeout time.Duration) (string, error) {
	if err := p.canProve(); err != nil {
		return "", err
	}
	n = max(n, 1)
	deadline := time.Now().Add(timeout)
	var run, last []record // run: the consecutive requests on side so far; last: the newest n
	for {
		seq := p.nextSeq()
		start := time.Now()
		r := p.get(ctx, seq, start, min(p.timeout, max(time.Until(deadline), time.Millisecond)))
		if ctx.Err() != nil {
			return "", fmt.Errorf("proving that %s serves: %w", side, ctx.Err())
		}
		p.addRead(r)
		last = append(last, r)
		if len(last) > n {
			last = last[1:]
		}
		onSide := p.allServedBy([]record{r}, side)
		if onSide {
			run = append(run, r)
		} else {
			run = run[:0]
		}
		if len(run) >= n {
			return fmt.Sprintf("%d requests through %s, one after another (%s), were all served by %s: %s",
				len(run), p.read.shown, time.Since(run[0].start).Round(time.Millisecond), side, p.describe(run)), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("for %s, requests through %s were not %d in a row served by %s; the last %d: %s",
				timeout, p.read.shown, n, side, len(last), p.describe(last))
		}
		if !onSide {
			// Not there yet (or failing): do not hammer the balancer.
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("proving that %s serves: %w", side, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}
