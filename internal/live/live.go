// Package live assembles the real adapters (SSH/local commands, nginx, PostgreSQL, the HTTP probe)
// into the world a plan runs against, and runs the read-only preflight of `pitstop check`.
package live

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pitstop-ops/pitstop/internal/nginx"
	"github.com/pitstop-ops/pitstop/internal/postgres"
	"github.com/pitstop-ops/pitstop/internal/probe"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/inventory"
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
	inv    *inventory.Inventory
	Hosts  *remote.Pool
	Nginx  *nginx.Balancer
	DB     *postgres.Cluster
	Probe  *probe.Prober
	unlock func() // releases Pitstop's lock (OpenLocked); nil without it
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

// OpenLocked is Open, then takes Pitstop's advisory lock on the production database, so that two
// cockpits (or a cockpit and pitstop switch) cannot drive one primary: what changes anything opens
// the world this way. Close releases the lock.
func OpenLocked(ctx context.Context, inv *inventory.Inventory, opt Options) (*World, error) {
	w, err := Open(ctx, inv, opt)
	if err != nil {
		return nil, err
	}
	if w.unlock, err = w.DB.Lock(ctx, inv.Sides.Production.Database); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Close releases the lock, if held, stops the probe and closes every connection.
func (w *World) Close() {
	if w.unlock != nil {
		w.unlock()
		w.unlock = nil
	}
	w.Probe.Stop()
	w.DB.Close()
	w.Hosts.Close()
}

// usesSudo reports whether a command that runs on host uses sudo: the balancer's test and reload on
// the balancer host, the upgrade and migration on app hosts, the rebuild on the backup's database.
func usesSudo(inv *inventory.Inventory, host string) bool {
	var cmds []string
	if host == inv.Balancer.Host {
		cmds = append(cmds, inv.Balancer.Test, inv.Balancer.Reload)
	}
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		if slices.Contains(inv.Sides.Get(side).Apps, host) {
			cmds = append(append(cmds, inv.Upgrade.Commands...), inv.Upgrade.Migrate.Commands...)
		}
	}
	if host == inv.Sides.Backup.Database {
		cmds = append(cmds, inv.ReverseSync.Rebuild...)
	}
	for _, c := range cmds {
		if strings.HasPrefix(c, "sudo ") || strings.Contains(c, " sudo ") {
			return true
		}
	}
	return false
}

// Switch makes side live on the balancer outside a plan — to put users back where they belong after
// a run that ended half-way — through the same proven path as a plan's switch and rollback: atomic
// write, the config test, the reload, new workers, probes served by side, and on any failure the
// previous file restored. It holds Pitstop's lock on the production database (OpenLocked), so it
// cannot race a cockpit driving the same inventory. Each stage is written to out as a line.
func Switch(ctx context.Context, inv *inventory.Inventory, side inventory.Side, out io.Writer) error {
	w, err := OpenLocked(ctx, withoutWrites(inv), Options{})
	if err != nil {
		return err
	}
	defer w.Close()
	_, err = w.Nginx.Switch(ctx, side, func(line string) { fmt.Fprintln(out, line) })
	return err
}

// withoutWrites is inv with the probe's writes turned off: check and switch change nothing in the
// application, so their probe only reads.
func withoutWrites(inv *inventory.Inventory) *inventory.Inventory {
	c := *inv
	c.Probe.WriteURL, c.Probe.WriteEvery = "", 0
	return &c
}
