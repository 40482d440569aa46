package steps

import "time"

// fencedLag reports whether conds wait for the replication from a database this run fenced to
// reach zero: a gate inside the window in which users cannot write (the drains of the reverse-sync
// plan, the check before stopping the reverse sync).
func (e *Engine) fencedLag(conds []Condition) bool {
	for _, c := range conds {
		if c.Kind == CondLag && c.MaxBytes == 0 && e.fenced[c.From] {
			return true
		}
	}
	return false
}

// fastReadings makes the sampler take readings every FastPollEvery, at once, until the returned
// function is called.
func (e *Engine) fastReadings() (stop func()) {
	e.fast.Store(true)
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return func() { e.fast.Store(false) }
}

// pollInterval is how long the sampler waits between two readings now.
func (e *Engine) pollInterval() time.Duration {
	if e.fast.Load() {
		return e.opt.FastPollEvery
	}
	return e.opt.PollEvery
}
