package report

import (
	"fmt"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// Chart is one drawn chart: a file-safe name, its title, and the SVG document.
type Chart struct {
	Name  string
	Title string
	SVG   string
}

// Charts draws the session's charts, in the order the report shows them. Charts with no data (no
// readings) are left out.
func (s *Session) Charts() []Chart {
	a := axis{s.Start, s.End}
	var out []Chart
	if len(s.Phases) > 0 {
		out = append(out, Chart{"timeline", "Timeline: phases and gates", timelineChart("Phases and gates", a, s)})
	}
	if len(s.Samples) == 0 {
		return out
	}
	var bands []band
	for _, r := range s.Refused {
		bands = append(bands, band{r.Start, r.End, "writes refused", "#d1242f"})
	}
	for _, f := range s.Fenced {
		bands = append(bands, band{f.Start, f.End, f.Name, "#9a6700"})
	}
	succ := series{name: "success %"}
	p50, p99 := series{name: "p50"}, series{name: "p99"}
	for _, m := range s.Samples {
		gap := m.Requests == 0
		succ.pts = append(succ.pts, point{m.Time, m.Success, gap})
		p50.pts = append(p50.pts, point{m.Time, float64(m.P50) / float64(time.Millisecond), gap})
		p99.pts = append(p99.pts, point{m.Time, float64(m.P99) / float64(time.Millisecond), gap})
	}
	minSucc := 100.0
	for _, p := range succ.pts {
		if !p.gap {
			minSucc = min(minSucc, p.v)
		}
	}
	lo := 90.0
	if minSucc < 90 {
		lo = 0
	}
	out = append(out,
		Chart{"users-success", "Users: probe success rate", lineChart("Probe success rate (%, over the probe's window)", a, []series{succ}, lo, 100, func(v float64) string { return fmt.Sprintf("%.1f%%", v) }, bands)},
		Chart{"users-latency", "Users: latency", lineChart("Probe latency (ms)", a, []series{p50, p99}, 0, 0, func(v float64) string { return fmt.Sprintf("%.0f ms", v) }, bands)},
		Chart{"served-by", "Users: live side and who served them", stripChart("Live side and the side that served users", a, s.sideStrips(), map[string]string{
			"production": "#1f6feb", "backup": "#8250df", "unknown": "#8c959f"})},
	)
	var lags []series
	for _, k := range s.Links {
		sr := series{name: k}
		for _, m := range s.Samples {
			v, ok := m.Lags[k]
			sr.pts = append(sr.pts, point{m.Time, float64(v), !ok || v < 0})
		}
		lags = append(lags, sr)
	}
	if len(lags) > 0 {
		out = append(out, Chart{"replication-lag", "Replication lag of every link", lineChart("Replication lag, replay bytes behind (gaps: not streaming)", a, lags, 0, 0, func(v float64) string { return steps.Bytes(int64(v)) }, bands)})
	}
	return out
}

// sideStrips turns the samples into two rows: the side the balancer sends users to, and the side
// (or address) that served the newest successful probe.
func (s *Session) sideStrips() []strip {
	live, served := strip{label: "live"}, strip{label: "served by"}
	add := func(st *strip, t time.Time, v string) {
		if v == "" {
			v = "unknown"
		}
		if n := len(st.segs); n > 0 && st.segs[n-1].value == v {
			st.segs[n-1].to = t
			return
		}
		if n := len(st.segs); n > 0 {
			st.segs[n-1].to = t
		}
		st.segs = append(st.segs, segment{t, t, v})
	}
	for _, m := range s.Samples {
		add(&live, m.Time, string(m.Live))
		add(&served, m.Time, m.Served)
	}
	return []strip{live, served}
}
