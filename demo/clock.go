package demo

import (
	"context"
	"time"
)

// Clock is simulated time running Speed times faster than the wall clock. It implements steps.Clock;
// the demo world's own timers run on the same clock, so engine timeouts and simulated work agree.
type Clock struct {
	speed float64
	// start is the wall time the clock was created at (without a monotonic reading); base carries the
	// monotonic reading elapsed time is measured against.
	start time.Time
	base  time.Time
}

// NewClock returns a clock that starts at the current wall time and runs speed times faster than it.
// A speed of zero or less means 1.
func NewClock(speed float64) *Clock {
	if speed <= 0 {
		speed = 1
	}
	now := time.Now()
	return &Clock{speed: speed, start: now.Round(0), base: now}
}

// Speed returns how many simulated seconds pass per real second.
func (c *Clock) Speed() float64 { return c.speed }

// Now returns the simulated time: the start time plus the real time elapsed since, times Speed.
func (c *Clock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.base)) * c.speed))
}

// After returns a channel that receives the simulated time once d of simulated time has passed.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.Now()
		return ch
	}
	time.AfterFunc(c.real(d), func() { ch <- c.Now() })
	return ch
}

// Sleep waits d of simulated time, or until ctx is done, whichever comes first.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(c.real(d))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// real converts a simulated duration to the wall-clock duration it takes.
func (c *Clock) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.speed)
}
