package demo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// balancerState is the simulated nginx: which side its upstream sends traffic to, and its processes.
type balancerState struct {
	live       inventory.Side
	switchedAt time.Time
	master     int
	workers    []int
	nextPid    int
}

// initBalancer starts nginx sending traffic to production. Callers hold w.mu or own w exclusively.
func (w *World) initBalancer() {
	w.bal = balancerState{live: inventory.Production, master: 1200, workers: []int{1201, 1202}, nextPid: 1377}
}

// reloadNginx replaces the worker processes, as `nginx -s reload` does, and returns the old and new
// worker pids. Callers hold w.mu.
func (w *World) reloadNginx() (before, after string) {
	before = joinPids(w.bal.workers)
	w.bal.workers = []int{w.bal.nextPid, w.bal.nextPid + 1}
	w.bal.nextPid += 2 + w.rng.IntN(150)
	return before, joinPids(w.bal.workers)
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// upstreamFile is the balancer's upstream file.
func (w *World) upstreamFile() string {
	if f := w.inv.Balancer.File; f != "" {
		return f
	}
	return "/etc/nginx/conf.d/" + w.inv.Balancer.Upstream + ".conf"
}

// nginxConf is the main configuration file the balancer's test command checks.
func (w *World) nginxConf() string {
	f := strings.Fields(w.inv.Balancer.Test)
	for i, a := range f {
		if a == "-c" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return "/etc/nginx/nginx.conf"
}

// nginxTestOK is what a passing `nginx -t` prints.
func (w *World) nginxTestOK() []string {
	conf := w.nginxConf()
	return []string{
		"nginx: the configuration file " + conf + " syntax is ok",
		"nginx: configuration file " + conf + " test is successful",
	}
}

// balancer implements steps.Balancer on the world.
type balancer struct{ w *World }

// Live reports the side nginx sends traffic to.
func (b balancer) Live(ctx context.Context) (inventory.Side, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b.w.lock()
	defer b.w.mu.Unlock()
	return b.w.bal.live, nil
}

// Preview is the simulated upstream file now and after a switch to side.
func (b balancer) Preview(ctx context.Context, to inventory.Side) (before, after string, err error) {
	b.w.lock()
	live := b.w.bal.live
	b.w.mu.Unlock()
	before = b.w.inv.Upstream(live)
	after, err = b.w.inv.RewriteUpstream(before, to)
	return before, after, err
}

// Switch makes side `to` live the way the nginx adapter does: write the candidate upstream to a
// temporary file, rename it over the upstream file, test, reload, and check that the workers were
// replaced. On a failure before the reload the previous upstream is restored and stays live.
func (b balancer) Switch(ctx context.Context, to inventory.Side, out func(line string)) (steps.Change, error) {
	w := b.w
	if to != inventory.Production && to != inventory.Backup {
		return steps.Change{}, fmt.Errorf("switch balancer: unknown side %q; use %q or %q", to, inventory.Production, inventory.Backup)
	}
	if out == nil {
		out = func(string) {}
	}
	w.switchMu.Lock()
	defer w.switchMu.Unlock()

	w.lock()
	from := w.bal.live
	failTest := w.once(FaultNginxTest)
	w.mu.Unlock()
	file, lb := w.upstreamFile(), w.inv.Balancer.Host
	tmp := file + ".pitstop-tmp"
	change := steps.Change{File: file, From: string(from), To: string(to),
		Before: w.inv.Upstream(from), After: w.inv.Upstream(to)}

	// say waits a little simulated time, then prints line.
	say := func(lo, hi time.Duration, line string) error {
		if err := w.clock.Sleep(ctx, w.randDuration(lo, hi)); err != nil {
			return err
		}
		out(line)
		return nil
	}
	restore := func(err error) (steps.Change, error) {
		out("restored the previous upstream (" + string(from) + ") in " + file + "; nginx was not reloaded")
		return steps.Change{}, fmt.Errorf("balancer %s: %w; the previous upstream (%s) was restored and stays live", lb, err, from)
	}

	addrs := w.serveAddrs(to)
	if err := say(40*time.Millisecond, 120*time.Millisecond, fmt.Sprintf("wrote candidate upstream (%s: %s) to %s",
		to, strings.Join(addrs, ", "), tmp)); err != nil {
		return steps.Change{}, fmt.Errorf("balancer %s: switch to %s: %w; nothing was changed", lb, to, err)
	}
	stages := []struct {
		lo, hi time.Duration
		line   string
	}{
		{20 * time.Millisecond, 60 * time.Millisecond, "renamed " + tmp + " → " + file},
		{30 * time.Millisecond, 80 * time.Millisecond, "$ " + w.inv.Balancer.Test},
	}
	for _, s := range stages {
		if err := say(s.lo, s.hi, s.line); err != nil {
			return restore(err)
		}
	}
	if err := w.clock.Sleep(ctx, w.randDuration(150*time.Millisecond, 300*time.Millisecond)); err != nil {
		return restore(err)
	}
	if failTest {
		emerg := fmt.Sprintf("nginx: [emerg] host not found in upstream %q in %s:%d", first(addrs), file, firstServerLine(change.After))
		out(emerg)
		out("nginx: configuration file " + w.nginxConf() + " test failed")
		return restore(fmt.Errorf("%q rejected the candidate upstream (%s): %w",
			w.inv.Balancer.Test, emerg, &steps.ExitError{Host: lb, Command: w.inv.Balancer.Test, Status: 1}))
	}
	for _, l := range w.nginxTestOK() {
		out(l)
	}
	if err := say(20*time.Millisecond, 60*time.Millisecond, "$ "+w.inv.Balancer.Reload); err != nil {
		return restore(err)
	}
	// From here the switch has happened: cancelling no longer undoes it.
	_ = w.clock.Sleep(context.WithoutCancel(ctx), w.randDuration(100*time.Millisecond, 250*time.Millisecond))
	w.lock()
	w.bal.live = to
	w.bal.switchedAt = w.clock.Now()
	pidsBefore, pidsAfter := w.reloadNginx()
	w.mu.Unlock()
	out("worker pids changed: " + pidsBefore + " → " + pidsAfter)
	_ = w.clock.Sleep(context.WithoutCancel(ctx), w.randDuration(400*time.Millisecond, 700*time.Millisecond))
	out(w.servedSince(to))
	return change, nil
}

// serveAddrs lists the serve addresses of side's app hosts.
func (w *World) serveAddrs(side inventory.Side) []string {
	var out []string
	for _, name := range w.inv.Sides.Get(side).Apps {
		if a := w.apps[name]; a != nil {
			out = append(out, a.serve)
		}
	}
	return out
}

// servedSince says which upstreams served the probe since the last switch.
func (w *World) servedSince(side inventory.Side) string {
	w.lock()
	defer w.mu.Unlock()
	seen, failed, total := map[string]bool{}, 0, 0
	for _, r := range w.prb.since(w.bal.switchedAt) {
		if r.write {
			continue
		}
		total++
		if !r.ok {
			failed++
			continue
		}
		seen[r.upstream] = true
	}
	var order []string // in the inventory's order, whichever served first
	for _, name := range w.appOrder {
		if a := w.apps[name]; seen[a.serve] {
			order = append(order, a.serve)
			delete(seen, a.serve)
		}
	}
	if total == 0 {
		return "no probe request has completed since the reload yet"
	}
	s := "probes now served by " + strings.Join(order, ", ") + " (" + string(side) + ")"
	if len(order) == 0 {
		s = "probes since the reload all failed"
	}
	if failed > 0 {
		s += fmt.Sprintf("; %d of %d probe requests failed", failed, total)
	}
	return s
}

// firstServerLine is the line number of the first server in an upstream file's content.
func firstServerLine(content string) int {
	for i, l := range strings.Split(content, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "server ") {
			return i + 1
		}
	}
	return 1
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
