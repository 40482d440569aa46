package steps

import (
	"fmt"
	"sort"
	"strings"
)

// Sub returns the counts made since base.
func (t ProbeTotals) Sub(base ProbeTotals) ProbeTotals {
	return ProbeTotals{
		Reads: t.Reads - base.Reads, FailedReads: t.FailedReads - base.FailedReads,
		Writes: t.Writes - base.Writes, RefusedWrites: t.RefusedWrites - base.RefusedWrites,
		FailedWrites: t.FailedWrites - base.FailedWrites, RefusedFor: max(t.RefusedFor-base.RefusedFor, 0),
	}
}

// UsersSaw says what users saw in one line, failed reads, refused writes (and for how long) and
// failed writes apart: "users saw 0 failed reads; writes refused for 1.8 s (35 writes); 0 failed
// writes". Without probe writes it says so rather than claim no write was refused.
func (t ProbeTotals) UsersSaw() string {
	s := fmt.Sprintf("users saw %d failed read%s", t.FailedReads, plural(t.FailedReads))
	if t.Writes == 0 && t.RefusedWrites+t.FailedWrites == 0 {
		return s + "; writes not probed (no probe.write_url)"
	}
	switch {
	case t.RefusedWrites > 0 && t.RefusedFor > 0:
		s += fmt.Sprintf("; writes refused for %.1f s (%d write%s)", t.RefusedFor.Seconds(), t.RefusedWrites, plural(t.RefusedWrites))
	case t.RefusedWrites > 0:
		s += fmt.Sprintf("; %d write%s refused", t.RefusedWrites, plural(t.RefusedWrites))
	default:
		s += "; 0 writes refused"
	}
	return s + fmt.Sprintf("; %d failed write%s", t.FailedWrites, plural(t.FailedWrites))
}

// paramsText says the run parameters for the plan-started line: " with version=5.2.0, channel=beta".
func paramsText(params map[string]string) string {
	if len(params) == 0 {
		return ""
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + params[k]
	}
	return " with " + strings.Join(keys, ", ")
}
