package steps

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// sample takes readings every PollEvery until ctx ends. Only the newest unread reading is kept, so a
// slow consumer never makes the databases queue queries: there is one query round in flight at most.
func (e *Engine) sample(ctx context.Context) {
	for {
		var r Readings
		every := e.pollInterval()
		taken := e.world.Clock.Now()
		if err := safely("taking readings", func() error { r = TakeReadings(ctx, e.world, e.inv, every); return nil }); err != nil {
			r = Readings{Err: err.Error()}
		}
		r.interval, r.taken = every, taken
		select {
		case e.readings <- r:
		default:
			select {
			case <-e.readings:
			default:
			}
			select {
			case e.readings <- r:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.world.Clock.After(every):
		case <-e.wake:
		}
	}
}

// TakeReadings reads replication and the probe once. It is also what `pitstop watch` prints.
func TakeReadings(ctx context.Context, w World, inv *inventory.Inventory, poll time.Duration) Readings {
	var r Readings
	lags, err := w.DB.Replication(ctx)
	r.Lags = lags
	if err != nil {
		r.Err = err.Error()
	}
	r.Probe = w.Probe.Stats(inv.Thresholds.Window)
	r.recent = w.Probe.Stats(poll)
	r.Recent = RecentProbe{Requests: r.recent.Requests, Failed: r.recent.Failed, Writes: r.recent.Writes, WritesRefused: r.recent.WritesRefused}
	return r
}

// apply makes r the newest reading and emits it with what the engine knows of each host.
func (e *Engine) apply(r Readings) {
	if r.recent.Failed > 0 {
		if r.interval > 0 {
			e.downtime += r.interval
		} else {
			e.downtime += e.opt.PollEvery
		}
	}
	r.Live = e.live
	r.Downtime = e.downtime
	if pt := r.Probe.Totals.Sub(e.usersBase); pt.Reads+pt.Writes > 0 {
		// The probe counts every request since it started: the run's own are exact, with how long
		// writes were refused.
		e.totals = pt
	} else {
		// A probe without its own totals: add up the readings' windows.
		e.totals.Reads += r.recent.Requests
		e.totals.FailedReads += r.recent.Failed
		e.totals.Writes += r.recent.Writes
		e.totals.RefusedWrites += r.recent.WritesRefused
		e.totals.FailedWrites += r.recent.WritesFailed
	}
	r.Totals = e.totals
	r.Hosts = e.hostStates(r)
	e.last = r
	e.emit(Event{Kind: EvReadings, Readings: &r})
	e.noteLockLoss()
}

// hostStates derives each host's badges from the readings and the engine's own record.
func (e *Engine) hostStates(r Readings) map[string]HostState {
	out := map[string]HostState{}
	e.busyMu.Lock()
	defer e.busyMu.Unlock()
	checks := map[string]HostCheck{}
	for _, c := range r.Probe.Hosts {
		checks[c.Host] = c
	}
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		for _, h := range e.inv.Sides.Get(side).Apps {
			hs := HostState{Version: e.versions[h], Healthy: true}
			if c, ok := checks[h]; ok {
				hs.Healthy = c.OK
				if c.Version != "" {
					hs.Version = c.Version
				}
			}
			if e.busy[h] {
				hs.Badges = append(hs.Badges, BadgeUpgrading)
			}
			if !hs.Healthy {
				hs.Badges = append(hs.Badges, BadgeDown)
			}
			out[h] = hs
		}
	}
	for _, l := range r.Lags {
		if l.Kind != Physical {
			continue
		}
		hs := out[l.To]
		hs.Healthy = l.Streaming
		hs.Badges = append(hs.Badges, BadgeStandby)
		if l.Paused {
			hs.Badges = append(hs.Badges, BadgePaused)
		}
		if !l.Streaming {
			hs.Badges = append(hs.Badges, BadgeDown)
		}
		out[l.To] = hs
	}
	// A database that something streams from is a primary; it is healthy while it answers.
	for _, l := range r.Lags {
		if _, seen := out[l.From]; !seen && l.Kind == Physical {
			out[l.From] = HostState{Healthy: r.Err == ""}
		}
	}
	for h := range e.promoted {
		hs := out[h]
		hs.Healthy = true
		hs.Badges = append(hs.Badges, BadgePromoted)
		out[h] = hs
	}
	for h := range e.fenced {
		hs := out[h]
		hs.Badges = append(hs.Badges, BadgeReadOnly)
		out[h] = hs
	}
	return out
}

// preflight checks everything the plan relies on and changes nothing.
func (e *Engine) preflight(ctx context.Context, st *Step, out chan<- Event) error {
	var problems []string
	var mu sync.Mutex
	fail := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }
	say := func(h, s string) { out <- Event{Kind: EvOutput, StepID: st.ID, Host: h, Stream: Stdout, Text: s} }
	var wg sync.WaitGroup
	sem := make(chan struct{}, e.opt.Parallel)
	for _, h := range st.Hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := safely("reaching "+h, func() error { return e.world.Hosts.Run(ctx, h, "true", func(Stream, string) {}) }); err != nil {
				fail(fmt.Sprintf("%s unreachable: %v", h, err))
				return
			}
			say(h, "reachable")
		}()
	}
	wg.Wait()
	live, err := e.world.Balancer.Live(ctx)
	switch {
	case err != nil:
		fail("cannot read the balancer's live upstream: " + err.Error())
	case live != inventory.Production:
		fail(fmt.Sprintf("the balancer already sends traffic to %s; this plan starts from production (switch back first, or roll back)", live))
	default:
		if served := e.servedNow(ctx); served != "" && served != live {
			fail(MismatchFix(e.inv, live, served))
		} else {
			say(e.inv.Balancer.Host, "live upstream: production ("+e.inv.Balancer.File+"), and users are served by it")
		}
	}
	prod, back := e.inv.Sides.Production.Database, e.inv.Sides.Backup.Database
	lags, err := e.replicationSettled(ctx, prod, back)
	if err != nil {
		fail("cannot read replication: " + err.Error())
	}
	found := false
	for _, l := range lags {
		if l.From == prod && l.To == back {
			found = true
			switch {
			case !l.Streaming:
				fail(fmt.Sprintf("standby %s is not streaming from %s: %s; start it and check primary_conninfo", back, prod, l.Err))
			case l.Paused:
				fail(PausedText(back))
			default:
				say(back, fmt.Sprintf("streaming from %s, %s behind", prod, Bytes(l.Replay)))
			}
		}
	}
	if !found && err == nil {
		fail(fmt.Sprintf("no replication link %s→%s: is %s a standby of %s?", prod, back, back, prod))
	}
	if e.plan.Name == PlanReverseSync {
		if c, ok := e.world.DB.(ReverseSyncChecker); ok {
			if err := c.CheckReverseSync(ctx, back, prod); err != nil {
				fail("reverse sync not possible: " + err.Error())
			} else {
				say(back, "reverse sync possible (wal_level = logical, every table has a key)")
			}
		}
	}
	p := e.world.Probe.Stats(e.inv.Thresholds.Window)
	say("users", fmt.Sprintf("probe: %.1f%% success over %d requests, p50 %s", p.Success(), p.Requests, p.P50.Round(100*time.Microsecond)))
	if len(problems) > 0 {
		return fmt.Errorf("preflight found %d problem(s): %s", len(problems), strings.Join(problems, "; "))
	}
	return nil
}

// replicationSettled reads replication until the link from→to streams, for a few seconds at most: the
// first reading of a database may still be under way when the preflight starts.
func (e *Engine) replicationSettled(ctx context.Context, from, to string) ([]Lag, error) {
	deadline := e.world.Clock.Now().Add(5 * time.Second)
	for {
		lags, err := e.world.DB.Replication(ctx)
		streaming := false
		for _, l := range lags {
			streaming = streaming || (l.From == from && l.To == to && l.Streaming)
		}
		if streaming || e.world.Clock.Now().After(deadline) {
			return lags, err
		}
		select {
		case <-ctx.Done():
			return lags, ctx.Err()
		case <-e.world.Clock.After(250 * time.Millisecond):
		}
	}
}

// ReverseSyncChecker is implemented by databases that can tell, before the run, whether the reverse
// sync will work (wal_level, primary keys).
type ReverseSyncChecker interface {
	CheckReverseSync(ctx context.Context, from, to string) error
}

// servedNow is the side the newest probe through the balancer was served by, waiting up to three
// seconds for a first answer when the probe has just started; "" when none came.
func (e *Engine) servedNow(ctx context.Context) inventory.Side {
	deadline := e.world.Clock.Now().Add(3 * time.Second)
	for {
		if s := ServedSide(e.inv, e.world.Probe.Stats(2*time.Second)); s != "" || !e.world.Clock.Now().Before(deadline) {
			return s
		}
		select {
		case <-ctx.Done():
			return ""
		case <-e.world.Clock.After(100 * time.Millisecond):
		}
	}
}
