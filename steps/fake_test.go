package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// The fake world below is the smallest world the engine can run against: every port records what it
// was asked and answers from fields a test sets.

func testInventory() *inventory.Inventory {
	inv := &inventory.Inventory{
		Name:     "test-shop",
		Source:   "test.yaml",
		Probe:    inventory.Probe{URL: "http://lb.test/"},
		Balancer: inventory.Balancer{Host: "lb", Upstream: "shop", File: "/etc/nginx/conf.d/shop.conf"},
		Hosts: map[string]*inventory.Host{
			"lb":     {SSH: "local"},
			"app-p1": {SSH: "local", Serve: "10.0.0.1:80"},
			"app-p2": {SSH: "local", Serve: "10.0.0.2:80"},
			"app-b1": {SSH: "local", Serve: "10.0.1.1:80"},
			"db-p":   {SSH: "local", Postgres: "host=db-p"},
			"db-b":   {SSH: "local", Postgres: "host=db-b"},
		},
		Sides: inventory.Sides{
			Production: inventory.SideSpec{Apps: []string{"app-p1", "app-p2"}, Database: "db-p"},
			Backup:     inventory.SideSpec{Apps: []string{"app-b1"}, Database: "db-b"},
		},
		Upgrade: inventory.Upgrade{
			Version:  "2.0",
			Commands: []string{"stop shop", "install shop", "start shop"},
			Migrate:  inventory.Migrate{Commands: []string{"shop-migrate up"}},
		},
		ReverseSync: inventory.ReverseSync{Rebuild: []string{"rebuild-standby"}},
		Thresholds:  inventory.Thresholds{Readings: 2, Window: time.Second, Timeout: 300 * time.Millisecond},
	}
	inv.Defaults()
	return inv
}

type fakeWorld struct {
	mu     sync.Mutex
	inv    *inventory.Inventory
	live   inventory.Side
	lag    int64
	stream bool
	paused bool
	// promoted and reverse follow the reverse-sync plan: the physical link goes away when the backup
	// is promoted and comes back when it is rebuilt; the logical link exists while reverse syncing.
	promoted bool
	reverse  bool
	version  map[string]string
	down     map[string]bool
	ran      []string // "host: command"
	// failRun makes the command containing the key fail once per entry, with the error given.
	failRun    map[string][]error
	failSwitch error
	liveFile   string        // when set, the balancer's upstream file as Preview reads it
	panicOn    string        // a command containing it panics, as a buggy adapter would
	promoteErr error         // the first promotion succeeds but returns this error
	block      chan struct{} // when set, commands containing "install" wait on it
	dbCalls    []string
	// installing counts the install commands running now; maxInstalling the most at once.
	installing, maxInstalling int
}

func newFakeWorld(inv *inventory.Inventory) *fakeWorld {
	return &fakeWorld{inv: inv, live: inventory.Production, stream: true, version: map[string]string{}, down: map[string]bool{}, failRun: map[string][]error{}}
}

func (f *fakeWorld) ports() World {
	return World{Hosts: f, Balancer: fakeBalancer{f}, DB: fakeDB{f}, Probe: fakeProbe{f}, Clock: WallClock{}, Live: true} // stands for real hosts
}

func (f *fakeWorld) Run(ctx context.Context, host, cmd string, out OutputFunc) error {
	f.mu.Lock()
	f.ran = append(f.ran, host+": "+cmd)
	block := f.block
	var fail error
	for key, errs := range f.failRun {
		if strings.Contains(cmd, key) && len(errs) > 0 {
			fail, f.failRun[key] = errs[0], errs[1:]
		}
	}
	panicOn := f.panicOn
	f.mu.Unlock()
	if panicOn != "" && strings.Contains(cmd, panicOn) {
		panic("adapter bug on " + host)
	}
	out(Stdout, "running "+cmd)
	if strings.Contains(cmd, "install") {
		f.mu.Lock()
		f.installing++
		f.maxInstalling = max(f.maxInstalling, f.installing)
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.installing--
			f.mu.Unlock()
		}()
		if block == nil {
			time.Sleep(5 * time.Millisecond) // long enough for parallel installs to overlap
		}
	}
	if block != nil && strings.Contains(cmd, "install") {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	if cmd == "rebuild-standby" {
		f.mu.Lock()
		f.promoted = false
		f.mu.Unlock()
	}
	if strings.Contains(cmd, "start shop") {
		f.mu.Lock()
		f.version[host] = f.inv.Upgrade.Version
		f.mu.Unlock()
	}
	return nil
}

func (f *fakeWorld) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ran...)
}

type fakeBalancer struct{ f *fakeWorld }

func (b fakeBalancer) Live(context.Context) (inventory.Side, error) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	return b.f.live, nil
}

func (b fakeBalancer) Switch(_ context.Context, to inventory.Side, out func(string)) (Change, error) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	if b.f.failSwitch != nil {
		out("nginx -t failed")
		return Change{}, b.f.failSwitch
	}
	out("reloaded")
	from := b.f.live
	b.f.live = to
	return Change{File: b.f.inv.Balancer.File, Before: b.f.inv.Upstream(from), After: b.f.inv.Upstream(to)}, nil
}

func (b fakeBalancer) Preview(_ context.Context, to inventory.Side) (string, string, error) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	if b.f.liveFile == "" {
		return "", "", errors.New("ssh: connect to lb: connection refused")
	}
	after, err := b.f.inv.RewriteUpstream(b.f.liveFile, to)
	return b.f.liveFile, after, err
}

type fakeDB struct{ f *fakeWorld }

func (d fakeDB) Replication(context.Context) ([]Lag, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	var out []Lag
	if !d.f.promoted {
		out = append(out, Lag{From: "db-p", To: "db-b", Kind: Physical, Streaming: d.f.stream, Replay: d.f.lag, Paused: d.f.paused})
	}
	if d.f.reverse {
		out = append(out, Lag{From: "db-b", To: "db-p", Kind: Logical, Streaming: true, Replay: d.f.lag})
	}
	return out, nil
}

func (d fakeDB) call(s string) error {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	d.f.dbCalls = append(d.f.dbCalls, s)
	switch s {
	case "pause db-b":
		d.f.paused = true
	case "resume db-b":
		d.f.paused = false
	case "promote db-b":
		if d.f.promoted {
			return fmt.Errorf("promote db-b: it is %w but a primary", ErrNotStandby)
		}
		d.f.promoted = true
		if err := d.f.promoteErr; err != nil {
			d.f.promoteErr = nil
			return err // it did promote, then failed to say so
		}
	case "reverse-start db-b>db-p":
		if d.f.reverse {
			return errors.New(`reverse-start db-b>db-p: ERROR: subscription "pitstop_reverse" already exists`)
		}
		d.f.reverse = true
	case "reverse-stop db-b>db-p":
		d.f.reverse = false
	}
	return nil
}
func (d fakeDB) PauseReplay(_ context.Context, h string) error  { return d.call("pause " + h) }
func (d fakeDB) ResumeReplay(_ context.Context, h string) error { return d.call("resume " + h) }
func (d fakeDB) Fence(_ context.Context, h string) error        { return d.call("fence " + h) }
func (d fakeDB) Unfence(_ context.Context, h string) error      { return d.call("unfence " + h) }
func (d fakeDB) Promote(_ context.Context, h string) error      { return d.call("promote " + h) }
func (d fakeDB) StartCapture(_ context.Context, h string) error { return d.call("capture " + h) }
func (d fakeDB) StartReverseSync(_ context.Context, a, b string) error {
	return d.call("reverse-start " + a + ">" + b)
}
func (d fakeDB) AdvanceSequences(_ context.Context, a, b string) error {
	return d.call("advance " + a + ">" + b)
}
func (d fakeDB) StopReverseSync(_ context.Context, a, b string) error {
	return d.call("reverse-stop " + a + ">" + b)
}

type fakeProbe struct{ f *fakeWorld }

func (p fakeProbe) Stats(w time.Duration) ProbeStats {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	addr := p.f.inv.Hosts[p.f.inv.Sides.Get(p.f.live).Apps[0]].Serve
	return ProbeStats{Window: w, Requests: 20, Upstreams: map[string]int{addr: 20}, LastUpstream: addr}
}

func (p fakeProbe) Check(_ context.Context, host string) (HostCheck, error) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	if p.f.down[host] {
		return HostCheck{Host: host, Err: "connection refused"}, nil
	}
	v := p.f.version[host]
	if v == "" {
		v = "1.0"
	}
	return HostCheck{Host: host, OK: true, Status: 200, Version: v}, nil
}

// run drives an engine in the background and lets a test wait for events and decide.
type run struct {
	t      *testing.T
	eng    *Engine
	events chan Event
	done   chan error
	cancel context.CancelFunc
	seen   []Event
}

func startRun(t *testing.T, f *fakeWorld, plan string, auto bool) *run {
	return startRunWith(t, f, plan, Options{AutoApprove: auto})
}

// startRunWith starts plan with opt (the test's operator, poll and event sink filled in).
func startRunWith(t *testing.T, f *fakeWorld, plan string, opt Options) *run {
	t.Helper()
	p, err := Build(f.inv, plan)
	if err != nil {
		t.Fatal(err)
	}
	r := &run{t: t, events: make(chan Event, 100000), done: make(chan error, 1)}
	opt.Operator, opt.PollEvery = "tester", 5*time.Millisecond
	opt.Emit = func(ev Event) { r.events <- ev }
	r.eng = New(f.inv, p, f.ports(), opt)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	t.Cleanup(cancel)
	go func() { r.done <- r.eng.Run(ctx) }()
	return r
}

// waitFor reads events until one matches, failing the test after a few seconds.
func (r *run) waitFor(what string, match func(Event) bool) Event {
	r.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-r.events:
			r.seen = append(r.seen, ev)
			if match(ev) {
				return ev
			}
		case <-timeout:
			r.t.Fatalf("timed out waiting for %s; last events: %s", what, r.tail())
		}
	}
}

func (r *run) tail() string {
	var b strings.Builder
	n := 0
	for i := len(r.seen) - 1; i >= 0 && n < 12; i-- {
		if r.seen[i].Kind == EvReadings {
			continue
		}
		n++
		fmt.Fprintf(&b, "\n  %s %s %s %s", r.seen[i].Kind, r.seen[i].StepID, r.seen[i].Status, r.seen[i].Err)
	}
	return b.String()
}

// gate waits until step id waits at a gate of the given kind that is ready.
func (r *run) gate(id string, kind GateKind) *GateState {
	r.t.Helper()
	ev := r.waitFor("gate "+id+" "+string(kind), func(ev Event) bool {
		return ev.Kind == EvGateWaiting && ev.StepID == id && ev.Gate.Kind == kind && ev.Gate.Ready
	})
	return ev.Gate
}

func (r *run) decide(id string, k DecisionKind) {
	r.eng.Decide(Decision{Kind: k, By: "tester", StepID: id})
}

func (r *run) finished() (Event, error) {
	r.t.Helper()
	ev := r.waitFor("plan-finished", func(ev Event) bool { return ev.Kind == EvPlanFinished })
	select {
	case err := <-r.done:
		return ev, err
	case <-time.After(5 * time.Second):
		r.t.Fatal("Run did not return after plan-finished")
	}
	return ev, nil
}

// confirmUntil confirms every gate until step id waits at its gate.
func (r *run) confirmUntil(id string) *GateState {
	r.t.Helper()
	for {
		ev := r.waitFor("gate before "+id, func(ev Event) bool {
			return ev.Kind == EvGateWaiting && ev.Gate.Kind == GateConfirm && ev.Gate.Ready && ev.Gate.Allows(Confirm)
		})
		if ev.StepID == id {
			return ev.Gate
		}
		r.decide(ev.StepID, Confirm)
	}
}

func (f *fakeWorld) side() inventory.Side {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

func (f *fakeWorld) versionOf(h string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.version[h]
}

// dbState answers "paused" or "called X" under the lock.
func (f *fakeWorld) dbState(what string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if what == "paused" {
		return f.paused
	}
	for _, c := range f.dbCalls {
		if "called "+c == what {
			return true
		}
	}
	return false
}
