package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// This file holds the engine's refusals: what it checks in the world right before it changes
// anything, so that no switch, rollback or rebuild acts on a belief the world no longer bears out.
// See docs/safety.md for what each refusal means and how to get past it.

// ErrRefused is wrapped by every refusal: the world does not allow the change now.
var ErrRefused = errors.New("refused")

// RefusedError says why a change was refused and what to do instead.
type RefusedError struct {
	// What is the change that was refused, e.g. "switch to production".
	What string
	// Why says what the world shows, naming hosts and what was seen.
	Why string
	// Fix says what to do to get past it.
	Fix string
}

func (e *RefusedError) Error() string {
	s := e.What + " refused: " + e.Why
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// ResumeReplayFix is the exact fix for a paused standby.
func ResumeReplayFix(host string) string {
	return fmt.Sprintf("in psql on %s run SELECT pg_wal_replay_resume();", host)
}

// PausedText is how a paused standby reads everywhere: readings, gates, check, watch, preflight.
func PausedText(host string) string {
	return fmt.Sprintf("replay PAUSED on %s: it does not apply what it receives, so readers there see old data; %s", host, ResumeReplayFix(host))
}

// SideDown checks each app host of side directly (the inventory's verify path, bypassing the
// balancer) and describes every one that is not healthy, e.g. "app-p1: connection refused". It is
// what every switch asks before it writes the upstream.
func SideDown(ctx context.Context, p Probe, inv *inventory.Inventory, side inventory.Side) []string {
	checks := CheckSide(ctx, p, inv, side)
	var bad []string
	for _, c := range checks {
		if !c.OK {
			why := c.Err
			if why == "" && c.Status != 0 {
				why = fmt.Sprintf("HTTP %d", c.Status)
			}
			if why == "" {
				why = "not healthy"
			}
			bad = append(bad, c.Host+": "+why)
		}
	}
	return bad
}

// CheckSide checks every app host of side directly and in parallel, within 3 seconds, in inventory
// order. A check that fails to run is reported as a failed HostCheck.
func CheckSide(ctx context.Context, p Probe, inv *inventory.Inventory, side inventory.Side) []HostCheck {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	apps := inv.Sides.Get(side).Apps
	res := make([]HostCheck, len(apps))
	done := make(chan struct{}, len(apps))
	for i, h := range apps {
		go func() {
			defer func() { done <- struct{}{} }()
			var c HostCheck
			err := safely("checking "+h, func() (err error) { c, err = p.Check(ctx, h); return err })
			if err != nil {
				c = HostCheck{Host: h, Err: err.Error()}
			}
			c.Host = h
			res[i] = c
		}()
	}
	for range apps {
		<-done
	}
	return res
}

// VersionSplit describes app hosts of one side that report a different version from their peers,
// or "" when they agree (hosts that are down or report no version are left out).
func VersionSplit(checks []HostCheck) string {
	by := map[string][]string{}
	for _, c := range checks {
		if c.OK && c.Version != "" {
			by[c.Version] = append(by[c.Version], c.Host)
		}
	}
	if len(by) < 2 {
		return ""
	}
	var parts []string
	for v, hosts := range by {
		parts = append(parts, fmt.Sprintf("%s on %s", strings.Join(hosts, ", "), v))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// ServedSide says which side the newest successful probe through the balancer was served by, from
// the upstream header: "" when no probe answered in the window, or the address is no app's.
func ServedSide(inv *inventory.Inventory, st ProbeStats) inventory.Side {
	if st.LastUpstream == "" {
		return ""
	}
	return inv.SideOfAddr(st.LastUpstream)
}

// MismatchFix says what to do when the upstream file names one side and users are served by the other.
func MismatchFix(inv *inventory.Inventory, file, served inventory.Side) string {
	return fmt.Sprintf("the upstream file %s on %s names %s but users are served by %s (a reload was lost or is still pending); "+
		"make the file agree with the traffic first: pitstop switch -i %s --to %s, then decide where users go",
		inv.Balancer.File, inv.Balancer.Host, file, served, inv.Source, served)
}

// lastCommand is the newest command a run started on a host, for the advice on a host left down.
type lastCommand struct {
	step, cmd string
	failed    bool
}

// noteCommand records cmd as the newest command run on host by step (under busyMu).
func (e *Engine) noteCommand(host, step, cmd string, failed bool) {
	if e.lastCmd == nil {
		e.lastCmd = map[string]lastCommand{}
	}
	e.lastCmd[host] = lastCommand{step: step, cmd: cmd, failed: failed}
}

// downWhy explains a down app host by the last command this run ran there, if any.
func (e *Engine) downWhy(host string) string {
	e.busyMu.Lock()
	defer e.busyMu.Unlock()
	lc, ok := e.lastCmd[host]
	if !ok {
		return ""
	}
	how := "succeeded"
	if lc.failed {
		how = "failed"
	}
	return fmt.Sprintf(" (the last command this run ran there was `%s` in step %q, and it %s)", lc.cmd, lc.step, how)
}

// describeDown is SideDown with each host's down reason extended by what this run did to it.
func (e *Engine) describeDown(bad []string) string {
	out := make([]string, len(bad))
	for i, b := range bad {
		h, _, _ := strings.Cut(b, ":")
		out[i] = b + e.downWhy(h)
	}
	return strings.Join(out, "; ")
}

// guard checks the world right before st runs and returns a *RefusedError when running it now would
// hurt users or lose data. It runs on the engine's goroutine.
func (e *Engine) guard(ctx context.Context, st *Step) error {
	if err := e.lockLost(); err != nil && changes(st) {
		return &RefusedError{What: st.Title, Why: err.Error(), Fix: "nothing more is changed by this run: find out who took the lock (pitstop check names the owner), then start a new run"}
	}
	switch st.Action {
	case ActSwitch:
		return e.switchGuard(ctx, st.Side, false)
	case ActRun:
		back := e.inv.Sides.Backup.Database
		if e.backupAhead && e.promoted[back] && containsHost(st.Hosts, back) {
			return &RefusedError{What: st.Title, Why: fmt.Sprintf("%s was promoted and holds users' writes that %s does not have (the reverse sync has not drained them)", back, e.inv.Sides.Production.Database),
				Fix: fmt.Sprintf("run the reverse sync until %s has every write of %s (reverse-catchup, fence-backup, reverse-drain), then retry; to throw those writes away see docs/safety.md#backup-ahead", e.inv.Sides.Production.Database, back)}
		}
	}
	return nil
}

// switchGuard refuses a switch to side `to` whose app hosts are down (unless forced), and a switch
// that takes users away from a promoted backup holding writes production lacks.
func (e *Engine) switchGuard(ctx context.Context, to inventory.Side, force bool) error {
	what := "switch to " + string(to)
	if e.backupAhead && to != inventory.Backup && e.live == inventory.Backup {
		back, prod := e.inv.Sides.Backup.Database, e.inv.Sides.Production.Database
		return &RefusedError{What: what, Why: fmt.Sprintf("%s holds users' writes that %s does not have (the reverse sync has not drained them: reverse-drain was not done)", back, prod),
			Fix: fmt.Sprintf("let the reverse sync catch up, fence %s and wait until %s has every write (reverse-drain), then switch; see docs/safety.md#backup-ahead", back, prod)}
	}
	if force {
		return nil
	}
	if bad := SideDown(ctx, e.world.Probe, e.inv, to); len(bad) > 0 {
		return &RefusedError{What: what, Why: fmt.Sprintf("%s is down: %s", to, e.describeDown(bad)),
			Fix: fmt.Sprintf("start the app there and check it answers %s, then retry", e.inv.Upgrade.Verify.Path)}
	}
	return nil
}

func containsHost(hosts []string, h string) bool {
	for _, x := range hosts {
		if x == h {
			return true
		}
	}
	return false
}

// CondLock holds while this run holds Pitstop's lock (World.Lock); the engine adds it to the gate of
// every step that changes something, so a lost lock stops the run at the next gate, on screen.
const CondLock CondKind = "lock"

// withLock adds CondLock to the conditions of a step that changes something, when the world has a lock.
func (e *Engine) withLock(st *Step, conds []Condition) []Condition {
	if e.world.Lock == nil || !changes(st) {
		return conds
	}
	return append(slices.Clone(conds), Condition{Kind: CondLock})
}

// changes reports whether st changes anything in the world.
func changes(st *Step) bool {
	switch st.Action {
	case ActPreflight, ActWaitSync, ActVerifyTraffic, ActVerifyDirect:
		return false
	}
	return true
}

// checkLock evaluates CondLock.
func (e *Engine) checkLock(cs ConditionState) ConditionState {
	cs.Label = "this run holds the pitstop lock"
	cs.Value, cs.OK = "held", true
	if err := e.lockLost(); err != nil {
		cs.Value, cs.OK = "LOST: "+err.Error()+"; no further change is made: start a new run once you know who holds it", false
	}
	return cs
}

// noteLockLoss says once, as soon as a reading shows it, that the lock was lost.
func (e *Engine) noteLockLoss() {
	if e.lockNoted {
		return
	}
	if err := e.lockLost(); err != nil {
		e.lockNoted = true
		e.emit(Event{Kind: EvNotice, Text: "PITSTOP LOCK LOST: " + err.Error() + "; this run makes no further change (the next gate will not open)"})
	}
}

// lockLost reports whether the world's lock (when it has one) was lost.
func (e *Engine) lockLost() error {
	if e.world.Lock == nil {
		return nil
	}
	return e.world.Lock.Lost()
}

// LockWatch is the run's hold on Pitstop's lock, as the engine sees it.
type LockWatch interface {
	// Lost returns nil while the lock is held, and why it is not once it was lost.
	Lost() error
}

// backToProduction is the `next:` advice for users left on the backup: the switch command when
// production's apps answer, and otherwise first what is down and why.
func (e *Engine) backToProduction(ctx context.Context) string {
	sw := fmt.Sprintf("pitstop switch -i %s --to production", e.inv.Source)
	if bad := SideDown(ctx, e.world.Probe, e.inv, inventory.Production); len(bad) > 0 {
		return fmt.Sprintf("users are on the backup and must stay there for now: production is down (%s): start it and check it answers %s directly, then send users back, verified by probes: %s",
			e.describeDown(bad), e.inv.Upgrade.Verify.Path, sw)
	}
	return "users are on the backup: to send them back to production, verified by probes as a rollback is: " + sw
}

// TypeToConfirm ends a question answered by typing a phrase (the rest of the text): the cockpit opens
// a field for it instead of taking one key.
const TypeToConfirm = "To do it anyway, type: "

// discardConfirmed reports whether a rollback may go on as far as the promoted backup's writes are
// concerned: always, unless users would leave a promoted backup that holds writes production lacks.
// Then only a decision carrying the phrase asked for (naming the amount) goes on, and it is recorded;
// any other asks (EvRollbackAsk) for that phrase.
func (e *Engine) discardConfirmed(st *Step, d Decision) bool {
	back, prod := e.inv.Sides.Backup.Database, e.inv.Sides.Production.Database
	if !e.backupAhead || e.live != inventory.Backup || !e.promoted[back] {
		return true
	}
	if e.discardAsk != "" && d.Discard == e.discardAsk {
		e.emit(Event{Kind: EvNotice, StepID: st.ID, Text: fmt.Sprintf("%s typed %q: users leave %s, and its writes that %s lacks are discarded for them (they stay on %s until it is rebuilt)", d.By, d.Discard, back, prod, back)})
		e.discardAsk = ""
		return true
	}
	amount := "every write users made there since the switch"
	if l, ok := e.lag(back, prod); ok && l.Kind == Logical && (l.Err == "" || l.Replay > 0) {
		amount = fmt.Sprintf("%d bytes of WAL not yet applied on %s", l.Replay, prod)
	}
	e.discardAsk = "discard " + amount
	e.emit(Event{Kind: EvRollbackAsk, StepID: st.ID, Text: fmt.Sprintf("%s was promoted and holds users' writes that %s does not have (%s). A rollback sends users to %s without them. "+TypeToConfirm+"%s",
		back, prod, amount, prod, e.discardAsk)})
	return false
}
