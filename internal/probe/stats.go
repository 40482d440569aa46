package probe

import (
	"math"
	"sort"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// Stats summarises the requests through the balancer that started within the last window (all kept
// history when window ≤ 0). Latency percentiles cover every request, failed ones included: a request
// that timed out cost its user the whole wait. Upstreams counts successful responses only, by the
// upstream that served them. Hosts holds the newest direct check of each app host.
func (p *Prober) Stats(window time.Duration) steps.ProbeStats {
	return p.statsAt(time.Now(), window)
}

func (p *Prober) statsAt(now time.Time, window time.Duration) steps.ProbeStats {
	st := steps.ProbeStats{Window: window}
	var since time.Time
	if window > 0 {
		since = now.Add(-window)
	}
	var lat []time.Duration
	var newest time.Time

	p.mu.Lock()
	p.reads.each(func(r *record) {
		if r.start.Before(since) {
			return
		}
		st.Requests++
		lat = append(lat, r.latency)
		if !r.ok {
			st.Failed++
			return
		}
		if r.upstream != "" {
			if st.Upstreams == nil {
				st.Upstreams = map[string]int{}
			}
			st.Upstreams[r.upstream]++
		}
		if !r.start.Before(newest) {
			newest = r.start
			st.LastUpstream, st.Version = r.upstream, r.version
		}
	})
	p.writes.each(func(w *writeRecord) {
		if w.start.Before(since) {
			return
		}
		st.Writes++
		switch w.outcome {
		case writeRefused:
			st.WritesRefused++
		case writeFailed:
			st.WritesFailed++
		}
	})
	for _, c := range p.checks {
		st.Hosts = append(st.Hosts, c)
	}
	st.Totals = p.currentTotals()
	p.mu.Unlock()
	sort.Slice(st.Hosts, func(i, j int) bool { return st.Hosts[i].Host < st.Hosts[j].Host })

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	st.P50 = percentile(lat, 50)
	st.P99 = percentile(lat, 99)
	return st
}

// percentile returns the nearest-rank pct-th percentile of sorted, or 0 when it is empty.
func percentile(sorted []time.Duration, pct float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(pct / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
