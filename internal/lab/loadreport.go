package lab

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// LoadSummary sums up a load run: what users would have seen.
type LoadSummary struct {
	Duration time.Duration
	// Requests counts reads and writes.
	Requests int
	Reads    int
	// FailedReads got no 2xx answer.
	FailedReads   int
	Writes        int
	AckedWrites   int
	RefusedWrites int
	FailedWrites  int
	// ReadSecondsDown counts the seconds of the run (from its start) in which at least one read
	// failed; WriteSecondsDown those in which at least one write was refused or failed.
	ReadSecondsDown  int
	WriteSecondsDown int
	// ReadDowntime and WriteDowntime add up, for each run of consecutive unsuccessful requests, the
	// time from the first one's start to the start of the next successful one.
	ReadDowntime  time.Duration
	WriteDowntime time.Duration
	// RefusedFor is how long writes were refused: each run of refused writes from the first one's
	// start to the start of the next write that was not refused.
	RefusedFor time.Duration
	// ReadP50 and ReadP99 are the latencies of successful reads.
	ReadP50, ReadP99 time.Duration
	Timeline         []LoadSecond
}

// LoadSecond is one second of a load run.
type LoadSecond struct {
	// At is the second since the run started.
	At            int
	Reads         int
	FailedReads   int
	Writes        int
	RefusedWrites int
	FailedWrites  int
	// Upstreams counts the answered requests of the second by the upstream that served them.
	Upstreams map[string]int
}

// Summary computes the summary of the run.
func (r *LoadReport) Summary() LoadSummary {
	s := LoadSummary{Duration: r.End.Sub(r.Start), Requests: len(r.Requests)}
	var lat []time.Duration
	for _, q := range r.Requests {
		sec := int(q.Start.Sub(r.Start) / time.Second)
		for len(s.Timeline) <= sec {
			s.Timeline = append(s.Timeline, LoadSecond{At: len(s.Timeline), Upstreams: map[string]int{}})
		}
		b := &s.Timeline[sec]
		if q.Upstream != "" {
			b.Upstreams[q.Upstream]++
		}
		switch q.Op {
		case OpRead:
			s.Reads++
			b.Reads++
			if q.Outcome == OK {
				lat = append(lat, q.Latency)
			} else {
				s.FailedReads++
				b.FailedReads++
			}
		case OpWrite:
			s.Writes++
			b.Writes++
			switch q.Outcome {
			case OK:
				s.AckedWrites++
			case Refused:
				s.RefusedWrites++
				b.RefusedWrites++
			default:
				s.FailedWrites++
				b.FailedWrites++
			}
		}
	}
	for _, b := range s.Timeline {
		if b.FailedReads > 0 {
			s.ReadSecondsDown++
		}
		if b.RefusedWrites+b.FailedWrites > 0 {
			s.WriteSecondsDown++
		}
	}
	s.ReadDowntime = downtime(r.Requests, OpRead)
	s.WriteDowntime = downtime(r.Requests, OpWrite)
	s.RefusedFor = refusedFor(r.Requests)
	if len(lat) > 0 {
		slices.Sort(lat)
		s.ReadP50 = lat[len(lat)/2]
		s.ReadP99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return s
}

// refusedFor adds up, over the writes in start order, each run of refused ones: from the first one's
// start to the next write that was not refused (or to the last refused one's end).
func refusedFor(reqs []Request) time.Duration {
	var total time.Duration
	var since time.Time
	var last Request
	for _, q := range reqs {
		if q.Op != OpWrite {
			continue
		}
		switch {
		case q.Outcome == Refused && since.IsZero():
			since = q.Start
		case q.Outcome != Refused && !since.IsZero():
			total += q.Start.Sub(since)
			since = time.Time{}
		}
		if q.Outcome == Refused {
			last = q
		}
	}
	if !since.IsZero() {
		total += last.End().Sub(since)
	}
	return total
}

// UsersSaw says what users saw in Pitstop's words: failed reads, refused writes and for how long,
// failed writes, each apart — never one "downtime" that hides refusals.
func (s LoadSummary) UsersSaw() string {
	out := fmt.Sprintf("users saw %d failed reads", s.FailedReads)
	if s.RefusedWrites > 0 {
		out += fmt.Sprintf("; writes refused for %.1f s (%d writes)", s.RefusedFor.Seconds(), s.RefusedWrites)
	} else {
		out += "; 0 writes refused"
	}
	return out + fmt.Sprintf("; %d failed writes", s.FailedWrites)
}

// downtime adds up, over the requests of op in start order, each run of unsuccessful ones: from the
// first one's start to the next successful one's start (or to the last one's end, if none follows).
func downtime(reqs []Request, op Op) time.Duration {
	var total time.Duration
	var since time.Time
	var last Request
	for _, q := range reqs {
		if q.Op != op {
			continue
		}
		switch {
		case q.Outcome != OK && since.IsZero():
			since = q.Start
		case q.Outcome == OK && !since.IsZero():
			total += q.Start.Sub(since)
			since = time.Time{}
		}
		last = q
	}
	if !since.IsZero() {
		total += last.End().Sub(since)
	}
	return total
}

// Between returns the requests that started at or after from and before to.
func (r *LoadReport) Between(from, to time.Time) []Request {
	i := sort.Search(len(r.Requests), func(i int) bool { return !r.Requests[i].Start.Before(from) })
	j := sort.Search(len(r.Requests), func(i int) bool { return !r.Requests[i].Start.Before(to) })
	if j < i {
		return nil
	}
	return r.Requests[i:j]
}

// ServedFrom finds the first moment after from from which every read that started before until was
// answered successfully by one of upstreams (the X-Upstream values of the side switched to). It is
// how long a switch took as users saw it: ServedFrom(decision, next) minus the decision. It fails
// when no read after from was served so, or the last read before until was not.
func (r *LoadReport) ServedFrom(from, until time.Time, upstreams ...string) (time.Time, error) {
	reads := 0
	var at time.Time
	var bad *Request
	for _, q := range r.Between(from, until) {
		if q.Op != OpRead {
			continue
		}
		reads++
		if q.Outcome == OK && slices.Contains(upstreams, q.Upstream) {
			if at.IsZero() {
				at = q.Start
			}
			continue
		}
		at, bad = time.Time{}, &q
	}
	if at.IsZero() {
		if bad == nil {
			return time.Time{}, fmt.Errorf("no read started between %s and %s", from.Format("15:04:05.000"), until.Format("15:04:05.000"))
		}
		return time.Time{}, fmt.Errorf("the last of %d reads between %s and %s was not served by %s: %s %s (%s)",
			reads, from.Format("15:04:05.000"), until.Format("15:04:05.000"), strings.Join(upstreams, ", "), bad.Outcome, bad.Upstream, bad.Err)
	}
	return at, nil
}

// String sums the run up in one line.
func (s LoadSummary) String() string {
	return fmt.Sprintf("%d requests in %.1fs: %d reads (%d failed, %d s with a failure, p50 %s p99 %s), %d writes (%d acknowledged, %d refused for %s, %d failed, %d s unavailable, %s in all)",
		s.Requests, s.Duration.Seconds(), s.Reads, s.FailedReads, s.ReadSecondsDown, s.ReadP50.Round(100*time.Microsecond),
		s.ReadP99.Round(100*time.Microsecond), s.Writes, s.AckedWrites, s.RefusedWrites, s.RefusedFor.Round(time.Millisecond), s.FailedWrites, s.WriteSecondsDown,
		s.WriteDowntime.Round(time.Millisecond))
}

// WriteTimeline writes one line per second: reads and writes, their failures, and who served them.
func (s LoadSummary) WriteTimeline(w io.Writer) {
	for _, b := range s.Timeline {
		ups := make([]string, 0, len(b.Upstreams))
		for u, n := range b.Upstreams {
			ups = append(ups, fmt.Sprintf("%s×%d", u, n))
		}
		sort.Strings(ups)
		fmt.Fprintf(w, "  %4ds  reads %4d (%3d failed)  writes %3d (%3d refused, %3d failed)  %s\n",
			b.At, b.Reads, b.FailedReads, b.Writes, b.RefusedWrites, b.FailedWrites, strings.Join(ups, " "))
	}
}
