// Package demo is a simulated world for Pitstop: app hosts that take time to upgrade, an nginx
// balancer, PostgreSQL primaries and standbys with moving replication lag, and a probe sending user
// traffic through the balancer, all in-process. It implements the ports of package steps for any
// valid inventory, so operators can rehearse a whole upgrade with zero setup, and it can inject
// faults (see Fault) to rehearse what happens when something goes wrong.
package demo

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// DefaultStartVersion is the version app hosts run before the upgrade, unless Options say otherwise
// or the inventory upgrades to a version that is not newer.
const DefaultStartVersion = "2.3.1"

const (
	// tickSim is how much simulated time one simulation step covers at low speeds.
	tickSim = 50 * time.Millisecond
	// minRealTick bounds how often the simulation steps in real time, so high speeds do not spin.
	minRealTick = 4 * time.Millisecond
	// history is how much simulated time the probe and WAL history keep.
	history = 5 * time.Minute
)

// Options tune a demo world.
type Options struct {
	// Speed is how many simulated seconds pass per real second (default 1).
	Speed float64
	// Fault is the failure to inject (default none).
	Fault Fault
	// Seed makes the simulated noise reproducible; the same seed gives the same noise.
	Seed int64
	// StartVersion is what app hosts run before the upgrade (default DefaultStartVersion, or the
	// version just below the inventory's upgrade version when that is not newer).
	StartVersion string
}

// World is the simulated topology of one inventory. Create it with NewWorld, run it with Start, hand
// Ports to the engine, and Close it when done. Every method is safe for concurrent use.
type World struct {
	inv   *inventory.Inventory
	opt   Options
	clock *Clock

	mu       sync.Mutex
	rng      *rand.Rand
	apps     map[string]*appState
	appOrder []string // production's apps, then backup's
	dbs      map[string]*dbNode
	bal      balancerState
	reverse  []*logicalLink
	prb      probeState
	load     float64 // write load in bytes per second of simulated time
	last     time.Time
	fired    map[Fault]bool // one-shot faults that already happened
	schema   schemaPlan
	running  bool // the simulation moves only between Start and Close

	switchMu sync.Mutex // one balancer switch at a time

	life sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// appState is one app host.
type appState struct {
	name    string
	side    inventory.Side
	serve   string
	down    bool
	version string
	// next is the index of the upgrade command this host is expected to run next.
	next int
}

// NewWorld builds the simulated world of inv. inv must be valid (loaded and defaulted); it is read,
// never changed. An unknown opt.Fault injects nothing: parse names with ParseFault.
func NewWorld(inv *inventory.Inventory, opt Options) *World {
	if opt.Speed <= 0 {
		opt.Speed = 1
	}
	if opt.StartVersion == "" {
		opt.StartVersion = deriveStartVersion(inv.Upgrade.Version)
	}
	w := &World{
		inv:   inv,
		opt:   opt,
		clock: NewClock(opt.Speed),
		rng:   rand.New(rand.NewPCG(uint64(opt.Seed), 0x9e3779b97f4a7c15)),
		apps:  map[string]*appState{},
		dbs:   map[string]*dbNode{},
		fired: map[Fault]bool{},
		load:  250 << 10,
	}
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		for _, name := range inv.Sides.Get(side).Apps {
			if _, dup := w.apps[name]; dup {
				continue
			}
			a := &appState{name: name, side: side, version: opt.StartVersion}
			if h := inv.Host(name); h != nil {
				a.serve = h.Serve
			}
			if a.serve == "" {
				a.serve = name + ":8080"
			}
			w.apps[name] = a
			w.appOrder = append(w.appOrder, name)
		}
	}
	w.schema = newSchemaPlan()
	w.last = w.clock.Now()
	w.initDatabases(w.last)
	w.initBalancer()
	w.initProbe(w.last)
	return w
}

// Ports returns the steps ports backed by this world (Live is false: nothing real is touched).
func (w *World) Ports() steps.World {
	return steps.World{
		Hosts:    runner{w},
		Balancer: balancer{w},
		DB:       database{w},
		Probe:    probe{w},
		Clock:    w.clock,
		Live:     false,
	}
}

// Clock returns the world's simulated clock.
func (w *World) Clock() *Clock { return w.clock }

// Start runs the simulation (write load, replication, probe traffic) in a goroutine until ctx is
// done or Close is called. Calling it again does nothing.
func (w *World) Start(ctx context.Context) {
	w.life.Lock()
	defer w.life.Unlock()
	if w.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	w.stop = cancel
	w.done = make(chan struct{})
	w.mu.Lock()
	w.last = w.clock.Now()
	w.running = true
	w.mu.Unlock()
	go w.loop(ctx, w.done)
}

// Close stops the simulation and waits for its goroutine to end. The ports keep answering, but
// nothing moves any more.
func (w *World) Close() {
	w.life.Lock()
	defer w.life.Unlock()
	if w.stop == nil {
		return
	}
	w.stop()
	<-w.done
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
}

func (w *World) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	every := max(w.clock.real(tickSim), minRealTick)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.tick(w.clock.Now())
		}
	}
}

// tick advances the simulation to now.
func (w *World) tick(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(now)
}

// lock takes w.mu and first brings a running simulation up to the current time, so that everything
// until now is simulated with the state as it was before the caller reads or changes it.
func (w *World) lock() {
	w.mu.Lock()
	if w.running {
		w.advance(w.clock.Now())
	}
}

// advance moves the simulation forward to now. Callers hold w.mu.
func (w *World) advance(now time.Time) {
	from := w.last
	if !now.After(from) {
		return
	}
	// A stalled process must not turn into a burst of minutes of traffic at once.
	if now.Sub(from) > 30*time.Second {
		from = now.Add(-30 * time.Second)
	}
	w.last = now
	dt := now.Sub(from).Seconds()
	w.advanceLoad(dt)
	w.advanceDatabases(now, dt)
	w.advanceProbe(from, now)
}

// advanceLoad moves the write load in a mean-reverting random walk between 100 and 400 KB/s.
func (w *World) advanceLoad(dt float64) {
	const lo, hi, mean = 100 << 10, 400 << 10, 250 << 10
	w.load += (mean-w.load)*0.2*dt + w.rng.NormFloat64()*60e3*math.Sqrt(dt)
	w.load = min(max(w.load, lo), hi)
}

// uniform returns a random float in [lo, hi). Callers hold w.mu.
func (w *World) uniform(lo, hi float64) float64 { return lo + w.rng.Float64()*(hi-lo) }

// between returns a random duration in [lo, hi). Callers hold w.mu.
func (w *World) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)+1))
}

// randDuration is between, taking the lock itself.
func (w *World) randDuration(lo, hi time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.between(lo, hi)
}

// once reports whether one-shot fault f is injected and has not fired yet, and marks it fired.
// Callers hold w.mu.
func (w *World) once(f Fault) bool {
	if w.opt.Fault != f || w.fired[f] {
		return false
	}
	w.fired[f] = true
	return true
}

// firstProdApp is the app host the host faults hit.
func (w *World) firstProdApp() string {
	if apps := w.inv.Sides.Production.Apps; len(apps) > 0 {
		return apps[0]
	}
	return ""
}

// deriveStartVersion picks the version app hosts run before upgrading to target.
func deriveStartVersion(target string) string {
	t, ok := parseVersion(target)
	d, _ := parseVersion(DefaultStartVersion)
	if !ok || versionLess(d, t) {
		return DefaultStartVersion
	}
	// Count down from target: 1.0.0 → 0.9.9, 2.3.1 → 2.3.0.
	for i := len(t) - 1; i >= 0; i-- {
		if t[i] > 0 {
			t[i]--
			for j := i + 1; j < len(t); j++ {
				t[j] = 9
			}
			parts := make([]string, len(t))
			for k, n := range t {
				parts[k] = strconv.Itoa(n)
			}
			return strings.Join(parts, ".")
		}
	}
	return DefaultStartVersion
}

// parseVersion parses a dotted numeric version, with an optional leading "v".
func parseVersion(s string) ([]int, bool) {
	s = strings.TrimPrefix(s, "v")
	if s == "" {
		return nil, false
	}
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// versionLess reports whether a sorts before b, comparing numerically part by part.
func versionLess(a, b []int) bool {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return x < y
		}
	}
	return false
}
