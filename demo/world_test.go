package demo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// testSpeed runs the simulation fast enough that a 6 s upgrade takes ~60 ms.
const testSpeed = 100

// testInventory is a topology unlike the embedded demo's: three production apps, one backup app, a
// production-side replica, and a placeholder in the install command.
func testInventory() *inventory.Inventory {
	inv := &inventory.Inventory{
		Name:     "shop",
		Probe:    inventory.Probe{URL: "http://edge/", WriteURL: "http://edge/api/orders", Rate: 20},
		Balancer: inventory.Balancer{Host: "edge", Upstream: "shop_up", File: "/etc/nginx/conf.d/shop-up.conf"},
		Hosts: map[string]*inventory.Host{
			"edge":       {SSH: "ops@edge"},
			"web-1":      {SSH: "deploy@10.9.0.1", Serve: "10.9.0.1:8080"},
			"web-2":      {SSH: "deploy@10.9.0.2", Serve: "10.9.0.2:8080"},
			"web-3":      {SSH: "deploy@10.9.0.3", Serve: "10.9.0.3:8080"},
			"web-b1":     {SSH: "deploy@10.9.1.1", Serve: "10.9.1.1:8080"},
			"db-main":    {SSH: "deploy@10.9.0.10", Postgres: "postgres://x@10.9.0.10/shop"},
			"db-standby": {SSH: "deploy@10.9.1.10", Postgres: "postgres://x@10.9.1.10/shop"},
			"ro-1":       {SSH: "deploy@10.9.0.20", Postgres: "postgres://x@10.9.0.20/shop"},
		},
		Sides: inventory.Sides{
			Production: inventory.SideSpec{Apps: []string{"web-1", "web-2", "web-3"}, Database: "db-main", Replicas: []string{"ro-1"}},
			Backup:     inventory.SideSpec{Apps: []string{"web-b1"}, Database: "db-standby"},
		},
		Upgrade: inventory.Upgrade{
			Version:  "2.4.0",
			Commands: []string{"systemctl stop shop", "apt-get install -y shop={version}", "systemctl start shop"},
			Migrate:  inventory.Migrate{Commands: []string{"shop-migrate up"}},
		},
		ReverseSync: inventory.ReverseSync{Rebuild: []string{
			"systemctl stop postgresql",
			"pg_basebackup -h 10.9.0.10 -D /var/lib/postgresql/15/main -R -X stream",
			"systemctl start postgresql",
		}},
	}
	inv.Defaults()
	return inv
}

// upgradeCmds are testInventory's upgrade commands as the plan runs them.
var upgradeCmds = []string{"systemctl stop shop", "apt-get install -y shop=2.4.0", "systemctl start shop"}

// startWorld starts a world on inv and closes it when the test ends.
func startWorld(t *testing.T, inv *inventory.Inventory, opt Options) *World {
	t.Helper()
	if opt.Speed == 0 {
		opt.Speed = testSpeed
	}
	w := NewWorld(inv, opt)
	w.Start(context.Background())
	t.Cleanup(w.Close)
	return w
}

// eventually waits until cond holds, failing the test after 10 s of real time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// lag reads the link from→to, failing the test when there is none.
func lag(t *testing.T, w *World, from, to string) steps.Lag {
	t.Helper()
	l, ok := findLag(t, w, from, to)
	if !ok {
		t.Fatalf("no replication link %s→%s", from, to)
	}
	return l
}

func findLag(t *testing.T, w *World, from, to string) (steps.Lag, bool) {
	t.Helper()
	lags, err := w.Ports().DB.Replication(context.Background())
	if err != nil {
		t.Fatalf("Replication: %v", err)
	}
	for _, l := range lags {
		if l.From == from && l.To == to {
			return l, true
		}
	}
	return steps.Lag{}, false
}

// run runs commands on host one after another and returns the output lines.
func run(t *testing.T, w *World, host string, cmds ...string) []string {
	t.Helper()
	out := &lines{}
	for _, c := range cmds {
		if err := w.Ports().Hosts.Run(context.Background(), host, c, out.add); err != nil {
			t.Fatalf("run %q on %s: %v\noutput:\n%s", c, host, err, out)
		}
	}
	return out.all()
}

// lines collects command output from any goroutine.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (o *lines) add(s steps.Stream, line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.l = append(o.l, string(s)+": "+line)
}

func (o *lines) line(line string) { o.add(steps.Stdout, line) }

func (o *lines) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.l...)
}

func (o *lines) String() string { return strings.Join(o.all(), "\n") }

func contains(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// schemaOf reads the schema version of a database host.
func schemaOf(w *World, host string) int {
	w.lock()
	defer w.mu.Unlock()
	return w.dbs[host].schema
}

func TestDeriveStartVersion(t *testing.T) {
	for _, tc := range []struct{ target, want string }{
		{"2.4.0", "2.3.1"},
		{"10.0", "2.3.1"},
		{"v3", "2.3.1"},
		{"2.3.1", "2.3.0"},
		{"1.0.0", "0.9.9"},
		{"1.2", "1.1"},
		{"release-7", "2.3.1"},
		{"", "2.3.1"},
	} {
		if got := deriveStartVersion(tc.target); got != tc.want {
			t.Errorf("deriveStartVersion(%q) = %q, want %q", tc.target, got, tc.want)
		}
	}
}

func TestNewWorldStartsConsistent(t *testing.T) {
	inv := testInventory()
	w := startWorld(t, inv, Options{StartVersion: "2.2.0"})
	ports := w.Ports()
	if ports.Live {
		t.Error("Ports().Live is true for the demo world")
	}
	live, err := ports.Balancer.Live(context.Background())
	if err != nil || live != inventory.Production {
		t.Fatalf("Live = %q, %v; want production", live, err)
	}
	for _, h := range []string{"db-standby", "ro-1"} {
		if l := lag(t, w, "db-main", h); !l.Streaming || l.Kind != steps.Physical || l.Err != "" {
			t.Errorf("link db-main→%s = %+v; want a streaming physical link", h, l)
		}
	}
	for _, h := range []string{"web-1", "web-b1"} {
		c, err := ports.Probe.Check(context.Background(), h)
		if err != nil || !c.OK || c.Version != "2.2.0" || c.Status != 200 {
			t.Errorf("Check(%s) = %+v, %v; want OK on 2.2.0", h, c, err)
		}
	}
}

func TestCloseStopsSimulation(t *testing.T) {
	w := NewWorld(testInventory(), Options{Speed: testSpeed})
	w.Start(context.Background())
	w.Start(context.Background()) // a second Start does nothing
	time.Sleep(20 * time.Millisecond)
	w.Close()
	w.Close()
	before := w.Ports().Probe.Stats(time.Hour).Requests
	if before == 0 {
		t.Fatal("no probe requests while the world ran")
	}
	time.Sleep(20 * time.Millisecond)
	if after := w.Ports().Probe.Stats(time.Hour).Requests; after != before {
		t.Errorf("probe requests went from %d to %d after Close", before, after)
	}
}

// TestBuiltinPlans runs each built-in plan on the embedded demo inventory, auto-approved, and checks
// the world ends where the plan says: traffic on production, every app upgraded, backup streaming.
func TestBuiltinPlans(t *testing.T) {
	for _, name := range steps.PlanNames() {
		t.Run(name, func(t *testing.T) {
			inv, err := Inventory()
			if err != nil {
				t.Fatalf("demo inventory: %v", err)
			}
			plan, err := steps.Build(inv, name)
			if err != nil {
				t.Fatalf("build %s: %v", name, err)
			}
			w := startWorld(t, inv, Options{Speed: 200, Seed: 7})
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			var mu sync.Mutex
			var last []string
			eng := steps.New(inv, plan, w.Ports(), steps.Options{AutoApprove: true, Emit: func(e steps.Event) {
				mu.Lock()
				defer mu.Unlock()
				if e.Kind == steps.EvStepFinished || e.Kind == steps.EvNotice || e.Kind == steps.EvOutput {
					last = append(last, e.StepID+" "+e.Host+" "+e.Text+" "+string(e.Status)+" "+e.Err)
				}
			}})
			start := w.Clock().Now()
			if err := eng.Run(ctx); err != nil {
				mu.Lock()
				t.Fatalf("plan %s failed: %v\nlast events:\n%s", name, err, strings.Join(tail(last, 30), "\n"))
			}
			t.Logf("plan %s took %s of simulated time", name, w.Clock().Now().Sub(start).Round(time.Second))
			if live, _ := w.Ports().Balancer.Live(ctx); live != inventory.Production {
				t.Errorf("live side after the plan = %s, want production", live)
			}
			for _, h := range append(inv.Sides.Production.Apps, inv.Sides.Backup.Apps...) {
				c, err := w.Ports().Probe.Check(ctx, h)
				if err != nil || !c.OK || c.Version != inv.Upgrade.Version {
					t.Errorf("Check(%s) = %+v, %v; want OK on %s", h, c, err, inv.Upgrade.Version)
				}
			}
			if l := lag(t, w, inv.Sides.Production.Database, inv.Sides.Backup.Database); !l.Streaming || l.Paused {
				t.Errorf("backup link after the plan = %+v; want streaming, not paused", l)
			}
			want := w.schema.target()
			eventually(t, "the backup database has the new schema", func() bool { return schemaOf(w, inv.Sides.Backup.Database) == want })
		})
	}
}

func tail(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestRunUnknownHost(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	err := w.Ports().Hosts.Run(context.Background(), "nope", "true", nil)
	if err == nil || !strings.Contains(err.Error(), `no host "nope"`) {
		t.Errorf("Run on an unknown host = %v; want an error naming it", err)
	}
	if errors.Is(err, steps.ErrConnectionLost) {
		t.Errorf("unknown host reported as a lost connection: %v", err)
	}
}
