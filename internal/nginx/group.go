package nginx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

var _ steps.Balancer = (*Group)(nil)

// Group is every balancer of an inventory (balancer.hosts), switched together, all or nothing: each
// is switched in turn (write, test, reload, new workers); if one fails, the ones already switched
// are restored, and once all are switched probes must show the new side serving, or all are
// restored. With one balancer a Group is that Balancer.
type Group struct {
	members []*Balancer
	verify  Verifier
	inv     *inventory.Inventory
	mu      sync.Mutex
}

// NewGroup returns the balancers of inv, each running its commands through run; verify proves
// each switch by probing through the balancers.
func NewGroup(inv *inventory.Inventory, run steps.Runner, verify Verifier) *Group {
	g := &Group{verify: verify, inv: inv}
	hosts := inv.Balancer.Hosts
	if len(hosts) == 0 {
		hosts = []string{inv.Balancer.Host}
	}
	for _, h := range hosts {
		b := NewFor(inv, h, run, verify)
		b.grouped = len(hosts) > 1
		g.members = append(g.members, b)
	}
	return g
}

// Members returns the balancers, in the inventory's order.
func (g *Group) Members() []*Balancer { return g.members }

// Live reads every balancer's upstream file; they must all send traffic to the same side.
func (g *Group) Live(ctx context.Context) (inventory.Side, error) {
	var first inventory.Side
	var parts []string
	agree := true
	for i, b := range g.members {
		side, err := b.Live(ctx)
		if err != nil {
			return "", err
		}
		if i == 0 {
			first = side
		}
		agree = agree && side == first
		parts = append(parts, b.host()+": "+string(side))
	}
	if !agree {
		return "", fmt.Errorf("the balancers disagree (%s); switch them all to one side with pitstop switch -i %s --to production", strings.Join(parts, ", "), g.inv.Source)
	}
	return first, nil
}

// Preview is the first balancer's upstream file now and after a switch to side.
func (g *Group) Preview(ctx context.Context, to inventory.Side) (before, after string, err error) {
	return g.members[0].Preview(ctx, to)
}

// Switch makes side `to` live on every balancer, or on none. Each line of progress is prefixed with
// the balancer's host when there are several.
func (g *Group) Switch(ctx context.Context, to inventory.Side, out func(line string)) (steps.Change, error) {
	if len(g.members) == 1 {
		return g.members[0].Switch(ctx, to, out)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	say := func(format string, a ...any) {
		if out != nil {
			out(fmt.Sprintf(format, a...))
		}
	}
	var changes []steps.Change
	var done []*Balancer
	var olds []workers // nginx's processes before its reload, on each balancer in done
	for _, b := range g.members {
		var old workers
		ch, err := b.switchTo(ctx, to, func(line string) { say("%s: %s", b.host(), line) }, &old)
		changes = append(changes, ch)
		if err != nil {
			state := g.restore(ctx, done, changes, fmt.Sprintf("%s failed", b.host()), say)
			se := &SwitchError{To: to, Stage: "switching " + b.host(), Err: err, Restored: true}
			var inner *SwitchError
			if errors.As(err, &inner) {
				se.Err, se.Restored = inner.Err, inner.Restored
				state = append([]string{b.host() + ": " + inner.State}, state...)
			}
			se.State = strings.Join(state, "; ")
			return group(changes), se
		}
		done, olds = append(done, b), append(olds, old)
	}
	if g.verify == nil {
		say("traffic NOT verified: no probe verifier was given")
		g.commit(ctx, done, changes, say)
		return group(changes), nil
	}
	say("every balancer is switched; proving that %s serves", to)
	drains := make([]*drainRun, len(done))
	for i, b := range done {
		drains[i] = b.startDrain(ctx, olds[i])
	}
	ev, err := proveDrained(ctx, g.verify, to, done, drains, say)
	if err != nil {
		state := g.restore(ctx, done, changes, "probes were not served by "+string(to), say)
		return group(changes), &SwitchError{To: to, Stage: "verifying traffic", Err: fmt.Errorf("%w: %w", ErrNotServed, err),
			Restored: true, State: strings.Join(state, "; ")}
	}
	say("verified: %s", ev)
	g.commit(ctx, done, changes, say)
	say("%s is live on %s", to, g.hosts())
	return group(changes), nil
}

// commit keeps, on every balancer switched, the content its file had before as the previous file,
// now that the switch took effect everywhere. A failure is a warning: users are where they should be.
func (g *Group) commit(ctx context.Context, done []*Balancer, changes []steps.Change, say func(string, ...any)) {
	for i, b := range done {
		s := &switcher{b: b, ch: &changes[i], same: changes[i].Before == changes[i].After,
			say: func(format string, a ...any) { say("%s: "+format, append([]any{b.host()}, a...)...) }}
		s.commit(ctx)
	}
}

func (g *Group) hosts() string {
	var h []string
	for _, b := range g.members {
		h = append(h, b.host())
	}
	return strings.Join(h, ", ")
}

// restore puts the previous upstream back on every balancer in done (each was switched and
// reloaded), then proves traffic on the previous side. It returns the state of each.
func (g *Group) restore(ctx context.Context, done []*Balancer, changes []steps.Change, why string, say func(string, ...any)) []string {
	var state []string
	var from inventory.Side
	for i, b := range done {
		ch := changes[i]
		say("%s: restoring its previous upstream (%s)", b.host(), why)
		s := &switcher{b: b, ch: &ch, to: inventory.Side(ch.To), same: ch.Before == ch.After,
			say: func(format string, a ...any) { say("%s: "+format, append([]any{b.host()}, a...)...) }}
		if f, err := sideOf(b.inv, ch.Before); err == nil {
			s.from, from = f, f
		}
		_, err := s.undo(ctx, "restoring after "+why, errors.New(why), reloadTookEffect)
		var se *SwitchError
		if errors.As(err, &se) {
			state = append(state, b.host()+": "+se.State)
		}
	}
	if len(done) == 0 {
		return state
	}
	if g.verify != nil && from != "" {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.members[0].VerifyTimeout+time.Second)
		defer cancel()
		if ev, err := g.verify.ServedBy(uctx, from, g.members[0].VerifyTimeout); err != nil {
			state = append(state, fmt.Sprintf("probes do NOT show %s serving: %v", from, err))
		} else {
			state = append(state, "verified: "+ev)
		}
	}
	return state
}

// group makes one Change of every balancer's: the first one's, with the rest in Others.
func group(changes []steps.Change) steps.Change {
	if len(changes) == 0 {
		return steps.Change{}
	}
	ch := changes[0]
	ch.Others = append([]steps.Change(nil), changes[1:]...)
	return ch
}

// Check checks every balancer (see Balancer.Check) and returns one line per balancer.
func (g *Group) Check(ctx context.Context) ([]string, error) {
	var lines []string
	for _, b := range g.members {
		w, err := b.Check(ctx)
		if err != nil {
			return lines, err
		}
		lines = append(lines, b.host()+": "+w)
	}
	return lines, nil
}
