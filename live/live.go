// Package live assembles the real adapters (SSH/local commands, nginx, PostgreSQL, the HTTP probe)
// into the world a plan runs against, and runs the read-only preflight of `pitstop check`.
package live

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/nginx"
	"github.com/pitstop-ops/pitstop/postgres"
	"github.com/pitstop-ops/pitstop/probe"
	"github.com/pitstop-ops/pitstop/remote"
	"github.com/pitstop-ops/pitstop/steps"
)

// Options tune the real world.
type Options struct {
	// Parallel is unused by the adapters today; it is kept with the world for the engine.
	Parallel int
	// Remote tunes SSH.
	Remote remote.Options
}

// World is the real adapters for one inventory.
type World struct {
	inv   *inventory.Inventory
	Hosts *remote.Pool
	Nginx *nginx.Balancer
	DB    *postgres.Cluster
	Probe *probe.Prober
}

// Open builds the adapters and starts the probe. Nothing is changed on any host.
func Open(ctx context.Context, inv *inventory.Inventory, opt Options) (*World, error) {
	w := &World{inv: inv}
	w.Hosts = remote.New(inv, opt.Remote)
	w.Probe = probe.New(inv, probe.Options{})
	w.Probe.Start(ctx)
	w.Nginx = nginx.New(inv, w.Hosts, w.Probe)
	w.DB = postgres.New(inv, postgres.Options{DialHost: dialHost(inv, w.Hosts)})
	return w, nil
}

// dialHost returns, when any host sets postgres_via_ssh, the per-host dialer the Cluster uses: those
// hosts' database connections go through their SSH connection (the pool's, shared with commands),
// the others connect directly. It returns nil when no host asks for SSH.
func dialHost(inv *inventory.Inventory, hosts *remote.Pool) func(host string) postgres.DialFunc {
	via := false
	for _, h := range inv.Hosts {
		via = via || (h != nil && h.PostgresViaSSH)
	}
	if !via {
		return nil
	}
	return func(name string) postgres.DialFunc {
		if h := inv.Host(name); h != nil && h.PostgresViaSSH {
			return hosts.Dialer(name)
		}
		return nil
	}
}

// Ports returns the world as the engine sees it.
func (w *World) Ports() steps.World {
	return steps.World{Hosts: w.Hosts, Balancer: w.Nginx, DB: w.DB, Probe: w.Probe, Clock: steps.WallClock{}, Live: true}
}

// Lock takes Pitstop's advisory lock on the production database so that two cockpits cannot drive
// one primary. The returned func releases it.
func (w *World) Lock(ctx context.Context) (func(), error) {
	return w.DB.Lock(ctx, w.inv.Sides.Production.Database)
}

// Close stops the probe and closes every connection.
func (w *World) Close() {
	w.Probe.Stop()
	w.DB.Close()
	w.Hosts.Close()
}

// Check runs the preflight against real hosts and prints one line per check: every host reachable
// with a known host key, sudo where a command uses it, the balancer's config test and live upstream,
// the databases' roles and replication. It changes nothing and reports whether all passed.
func Check(ctx context.Context, inv *inventory.Inventory, out io.Writer) bool {
	// A check changes nothing: its probe only reads, whatever the inventory says about writes.
	readOnly := *inv
	readOnly.Probe.WriteURL, readOnly.Probe.WriteEvery = "", 0
	inv = &readOnly
	w, err := Open(ctx, inv, Options{})
	if err != nil {
		fmt.Fprintln(out, "FAIL", err)
		return false
	}
	defer w.Close()
	ok := true
	var mu sync.Mutex
	report := func(pass bool, what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if pass {
			fmt.Fprintf(out, "ok    %s\n", what)
			return
		}
		ok = false
		fmt.Fprintf(out, "FAIL  %s: %v\n", what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, h := range inv.HostNames() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := w.Hosts.Check(ctx, h)
			report(err == nil, h+": reachable, host key known", err)
			if err == nil && usesSudo(inv, h) {
				err := w.Hosts.Run(ctx, h, "sudo -n true", func(steps.Stream, string) {})
				report(err == nil, h+": sudo without a password", fmt.Errorf("%w; the commands use sudo: allow them in sudoers (NOPASSWD) for this user", err))
			}
		}()
	}
	wg.Wait()
	bal := inv.Balancer.Host
	var lines []string
	err = w.Hosts.Run(ctx, bal, inv.Balancer.Test, func(_ steps.Stream, l string) { lines = append(lines, l) })
	if err != nil {
		err = fmt.Errorf("%w: %s", err, strings.Join(lines, " | "))
	}
	report(err == nil, bal+": "+inv.Balancer.Test, err)
	side, err := w.Nginx.Live(ctx)
	report(err == nil, fmt.Sprintf("%s: live upstream in %s is %s", bal, inv.Balancer.File, side), err)
	for _, err := range w.DB.Check(ctx) {
		report(false, "databases", err)
	}
	lags, err := w.DB.Replication(ctx)
	report(err == nil, "replication readable", err)
	for _, l := range lags {
		what := fmt.Sprintf("%s streaming, %s to replay", l.Link(), steps.Bytes(l.Replay))
		if !l.Streaming {
			what = l.Link() + " replication"
		}
		report(l.Streaming, what, fmt.Errorf("%s is not streaming: %s", l.Link(), l.Err))
	}
	return ok
}

// usesSudo reports whether any command that runs on host starts with or contains sudo.
func usesSudo(inv *inventory.Inventory, host string) bool {
	var cmds []string
	switch inv.SideOf(host) {
	case "":
		if host == inv.Balancer.Host {
			cmds = []string{inv.Balancer.Test, inv.Balancer.Reload}
		}
	default:
		cmds = append(append(cmds, inv.Upgrade.Commands...), inv.Upgrade.Migrate.Commands...)
		cmds = append(cmds, inv.ReverseSync.Rebuild...)
	}
	for _, c := range cmds {
		if strings.HasPrefix(c, "sudo ") || strings.Contains(c, " sudo ") {
			return true
		}
	}
	return false
}
