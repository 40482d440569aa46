package demo

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestClockNowRunsAtSpeed(t *testing.T) {
	c := NewClock(100)
	outerStart := time.Now()
	t0 := c.Now()
	time.Sleep(20 * time.Millisecond)
	sim := c.Now().Sub(t0)
	real := time.Since(outerStart)
	if sim < 2*time.Second {
		t.Errorf("after 20ms of real time the clock advanced %s; want at least 2s at speed 100", sim)
	}
	if max := time.Duration(100 * float64(real)); sim > max {
		t.Errorf("the clock advanced %s in %s of real time; want at most %s at speed 100", sim, real, max)
	}
}

func TestClockDefaultsSpeed(t *testing.T) {
	for _, s := range []float64{0, -3} {
		if got := NewClock(s).Speed(); got != 1 {
			t.Errorf("NewClock(%v).Speed() = %v, want 1", s, got)
		}
	}
}

func TestClockAfterFiresInSimulatedTime(t *testing.T) {
	c := NewClock(200)
	t0 := c.Now()
	select {
	case at := <-c.After(5 * time.Second):
		if d := at.Sub(t0); d < 5*time.Second {
			t.Errorf("After(5s) fired %s after the start", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("After(5s) at speed 200 did not fire within 5s of real time")
	}
	select {
	case <-c.After(0):
	default:
		t.Error("After(0) did not fire at once")
	}
}

func TestClockSleepHonoursCancel(t *testing.T) {
	c := NewClock(1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	err := c.Sleep(ctx, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v, want context.Canceled", err)
	}
	if err := c.Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
}
