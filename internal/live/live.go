// Package live assembles the real adapters (SSH/local commands, nginx, PostgreSQL, the HTTP probe)
// into the world a plan runs against, and runs the read-only preflight of `pitstop check`.
package live

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/pitstop-ops/pitstop/internal/nginx"
	"github.com/pitstop-ops/pitstop/internal/postgres"
	"github.com/pitstop-ops/pitstop/internal/probe"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/internal/rundeck"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Options tune the real world.
type Options struct {
	// Parallel is unused by the adapters today; it is kept with the world for the engine.
	Parallel int
	// Remote tunes SSH.
	Remote remote.Options
	// Operator names who drives, written into Pitstop's lock (default: "operator").
	Operator string
	// ConfirmTakeover asks the operator, in a terminal, whether to take over a stale lock; the
	// question names its owner. Without it a stale lock is refused like a live one.
	ConfirmTakeover func(question string) bool
	// Reclaim, when set, takes over without asking a stale lock whose owner it recognises: a resumed
	// run takes back the lock of the run it resumes (same pid and machine as its journal's writer).
	Reclaim func(owner nginx.LockOwner) bool
	// Note receives what the lock could not do but the run can go on without (the database layer
	// when production's database is down).
	Note func(line string)
}

// World is the real adapters for one inventory.
type World struct {
	inv   *inventory.Inventory
	Hosts *remote.Pool
	// Nginx is the first balancer (it holds Pitstop's lock file); Balancers is every balancer,
	// switched together, all or nothing.
	Nginx     *nginx.Balancer
	Balancers *nginx.Group
	DB        *postgres.Cluster
	Probe     *probe.Prober
	unlock    func() // releases Pitstop's lock (OpenLocked); nil without it
	lock      *lockHold
	closed    sync.Once

	// Rundeck runs the commands that are Rundeck jobs; nil when the inventory has none.
	Rundeck *rundeck.Client
}

// Open builds the adapters and starts the probe. Nothing is changed on any host.
func Open(ctx context.Context, inv *inventory.Inventory, opt Options) (*World, error) {
	w := &World{inv: inv}
	if inv.UsesRundeck() {
		c, err := rundeck.FromInventory(inv)
		if err != nil {
			return nil, err
		}
		w.Rundeck = c
	}
	w.Hosts = remote.New(inv, opt.Remote)
	w.Probe = probe.New(inv, probe.Options{})
	w.Probe.Start(ctx)
	w.Balancers = nginx.NewGroup(inv, w.Hosts, w.Probe)
	w.Nginx = w.Balancers.Members()[0]
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
	var hosts steps.Runner = w.Hosts
	if w.Rundeck != nil {
		hosts = &rundeck.Runner{Next: w.Hosts, Client: w.Rundeck}
	}
	pw := steps.World{Hosts: hosts, Balancer: w.Balancers, DB: w.DB, Probe: w.Probe, Clock: steps.WallClock{}, Live: true}
	if w.lock != nil {
		pw.Lock = w.lock
	}
	return pw
}

// Close releases the lock, if held, stops the probe and closes every connection.
func (w *World) Close() {
	w.closed.Do(func() {
		if w.unlock != nil {
			w.unlock()
			w.unlock = nil
		}
		w.Probe.Stop()
		w.DB.Close()
		w.Hosts.Close()
	})
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

// withoutWrites is inv with the probe's writes turned off: check and switch change nothing in the
// application, so their probe only reads.
func withoutWrites(inv *inventory.Inventory) *inventory.Inventory {
	c := *inv
	c.Probe.WriteURL, c.Probe.WriteEvery = "", 0
	return &c
}
