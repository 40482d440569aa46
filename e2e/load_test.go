package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/lab"
)

// margin is how far outside a step's events a request may start and still be counted as inside:
// a request's start and the engine's event are taken on different goroutines.
const margin = 100 * time.Millisecond

// logLoad logs the summary of a load run and, when the test failed, its timeline.
func logLoad(t *testing.T, rep *lab.LoadReport) lab.LoadSummary {
	t.Helper()
	s := rep.Summary()
	t.Logf("load: %s", s)
	t.Cleanup(func() {
		if t.Failed() {
			var b strings.Builder
			s.WriteTimeline(&b)
			t.Logf("load timeline (seconds since the load started):\n%s", b.String())
		}
	})
	return s
}

// describe lists up to n requests in one line each.
func describe(reqs []lab.Request, n int) string {
	var b strings.Builder
	for i, q := range reqs {
		if i == n {
			b.WriteString("\n  …")
			break
		}
		b.WriteString("\n  " + q.Start.Format("15:04:05.000") + " " + string(q.Op) + " " + string(q.Outcome) + " " +
			q.Upstream + " " + q.Version + " " + q.Err)
	}
	return b.String()
}

// Read rates the load must keep up: the issue asks for at least 200 reads/s; the generator aims at
// that and drops slots only when answers are slow, so a lower rate means users waited. Every full
// second must see at least minReadsPerSecond (a stall of a second or more fails), and the whole run
// at least minReadsAverage per second.
const (
	minReadsPerSecond = 100
	minReadsAverage   = 180
)

// assertNoFailedReads fails for every read that got no 2xx answer, and when reads stalled: a second
// with fewer than minReadsPerSecond reads, or fewer than minReadsAverage a second in all.
func assertNoFailedReads(t *testing.T, rep *lab.LoadReport) {
	t.Helper()
	s := rep.Summary()
	reads, slow := 0, []string{}
	for i, b := range s.Timeline {
		reads += b.Reads
		if i < len(s.Timeline)-1 && b.Reads < minReadsPerSecond { // the last second is partial
			slow = append(slow, fmt.Sprintf("second %d: %d reads", b.At, b.Reads))
		}
	}
	if len(slow) > 0 {
		t.Errorf("reads stalled (under %d a second): %s", minReadsPerSecond, strings.Join(slow, "; "))
	}
	if avg := float64(reads) / s.Duration.Seconds(); avg < minReadsAverage {
		t.Errorf("%.0f reads a second on average over %s, want at least %d", avg, s.Duration.Round(time.Millisecond), minReadsAverage)
	} else {
		t.Logf("%.0f reads a second on average over %s", avg, s.Duration.Round(time.Millisecond))
	}
	var bad []lab.Request
	for _, q := range rep.Requests {
		if q.Op == lab.OpRead && q.Outcome != lab.OK {
			bad = append(bad, q)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d reads failed:%s", len(bad), describe(bad, 10))
	}
}

// assertWritesRefusedOnlyWithin fails for every write that failed, and for every write refused outside
// [from, to] (widened by margin) or not by the backup's upstream with a 503.
func assertWritesRefusedOnlyWithin(t *testing.T, rep *lab.LoadReport, from, to time.Time, backup string) {
	t.Helper()
	var failed, outside []lab.Request
	refused := 0
	for _, q := range rep.Requests {
		if q.Op != lab.OpWrite {
			continue
		}
		switch q.Outcome {
		case lab.Failed:
			failed = append(failed, q)
		case lab.Refused:
			refused++
			if q.Start.Before(from.Add(-margin)) || q.Start.After(to.Add(margin)) || q.Status != 503 || q.Upstream != backup {
				outside = append(outside, q)
			}
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d writes failed (neither acknowledged nor refused with 503 read_only):%s", len(failed), describe(failed, 10))
	}
	if len(outside) > 0 {
		t.Errorf("%d writes were refused outside the read-only window %s–%s or not by the backup %s:%s", len(outside),
			from.Format("15:04:05.000"), to.Format("15:04:05.000"), backup, describe(outside, 10))
	}
	if refused == 0 {
		t.Errorf("no write was refused: the load did not run during the read-only window %s–%s", from.Format("15:04:05.000"), to.Format("15:04:05.000"))
	}
}

// servedBy returns the reads served successfully by upstream.
func servedBy(reqs []lab.Request, op lab.Op, upstream string) []lab.Request {
	var out []lab.Request
	for _, q := range reqs {
		if q.Op == op && q.Outcome == lab.OK && q.Upstream == upstream {
			out = append(out, q)
		}
	}
	return out
}
