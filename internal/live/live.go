// Package live assembles the real adapters (SSH/local commands, nginx, PostgreSQL, the HTTP probe)
// into the world a plan runs against, and runs the read-only preflight of `pitstop check`.
package live

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

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
}

// World is the real adapters for one inventory.
type World struct {
	inv    *inventory.Inventory
	Hosts  *remote.Pool
	Nginx  *nginx.Balancer
	DB     *postgres.Cluster
	Probe  *probe.Prober
	unlock func() // releases Pitstop's lock (OpenLocked); nil without it

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
	var hosts steps.Runner = w.Hosts
	if w.Rundeck != nil {
		hosts = &rundeck.Runner{Next: w.Hosts, Client: w.Rundeck}
	}
	return steps.World{Hosts: hosts, Balancer: w.Nginx, DB: w.DB, Probe: w.Probe, Clock: steps.WallClock{}, Live: true}
}

// OpenLocked is Open, then takes Pitstop's advisory lock on the production database, so that two
// cockpits (or a cockpit and pitstop switch) cannot drive one primary: what changes anything opens
// the world this way. Close releases the lock.
func OpenLocked(ctx context.Context, inv *inventory.Inventory, opt Options) (*World, error) {
	w, err := Open(ctx, inv, opt)
	if err != nil {
		return nil, err
	}
	if w.Rundeck != nil {
		// Before anything changes: Rundeck answers, takes the token, and has every job.
		if _, err := rundeck.Check(ctx, w.Rundeck, inv); err != nil {
			w.Close()
			return nil, err
		}
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

// Check runs the preflight against real hosts and prints one line per check: every host reachable
// (with a known host key over SSH), sudo where a command for that host uses it, the balancer's config
// test, pid file and writable directory, its live upstream, that users through the balancer are
// served by that side, the databases' roles and replication, and what the reverse-sync plan would
// need. It changes nothing — its probe only reads — and reports whether all passed. Lines marked
// "note" concern only the reverse-sync plan and do not fail the check.
func Check(ctx context.Context, inv *inventory.Inventory, out io.Writer) bool {
	inv = withoutWrites(inv)
	w, err := Open(ctx, inv, Options{})
	if err != nil {
		fmt.Fprintln(out, "FAIL ", err)
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
		fmt.Fprintf(out, "FAIL  %s: %s\n", what, oneLine(err))
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if w.Rundeck != nil {
		lines, err := rundeck.Check(ctx, w.Rundeck, inv)
		for _, l := range lines {
			report(true, l, nil)
		}
		if err != nil {
			report(false, "rundeck", err)
		}
	}
	var wg sync.WaitGroup
	for _, h := range inv.HostNames() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			what := h + ": reachable, host key known"
			if t, err := inventory.ParseTarget(inv.Hosts[h].SSH); err == nil && t.Local {
				what = h + ": runs commands locally"
			}
			err := w.Hosts.Check(ctx, h)
			report(err == nil, what, err)
			if err == nil && usesSudo(inv, h) {
				err := w.Hosts.Run(ctx, h, "sudo -n true", func(steps.Stream, string) {})
				report(err == nil, h+": sudo without a password", fmt.Errorf("%w; this host's commands use sudo: allow them in sudoers (NOPASSWD) for this user", err))
			}
		}()
	}
	wg.Wait()

	bal := inv.Balancer.Host
	var outMu sync.Mutex
	var lines []string
	err = w.Hosts.Run(ctx, bal, inv.Balancer.Test, func(_ steps.Stream, l string) {
		outMu.Lock()
		defer outMu.Unlock()
		lines = append(lines, l)
	})
	if err != nil {
		err = fmt.Errorf("%w: %s", err, strings.Join(lines, " | "))
	}
	report(err == nil, bal+": "+inv.Balancer.Test, err)
	workers, err := w.Nginx.Check(ctx)
	what := fmt.Sprintf("%s: nginx's processes from %s, and %s writable", bal, inv.Balancer.PidFile, filepath.Dir(inv.Balancer.File))
	if err == nil {
		what = fmt.Sprintf("%s: nginx %s (from %s); %s writable", bal, workers, inv.Balancer.PidFile, filepath.Dir(inv.Balancer.File))
	}
	report(err == nil, what, err)
	side, err := w.Nginx.Live(ctx)
	report(err == nil, fmt.Sprintf("%s: live upstream in %s is %s", bal, inv.Balancer.File, side), err)
	if err == nil {
		proof, err := w.Probe.ServedBy(ctx, side, 5*time.Second)
		report(err == nil, "users: "+proof, err)
	}

	for _, err := range w.DB.Check(ctx) {
		report(false, "databases", err)
	}
	lags, err := w.DB.Replication(ctx)
	if err != nil {
		report(false, "replication", err)
	}
	for _, l := range lags {
		what := fmt.Sprintf("%s streaming, %s to replay", l.Link(), steps.Bytes(l.Replay))
		if !l.Streaming {
			what = l.Link() + " replication"
		}
		report(l.Streaming, what, fmt.Errorf("%s is not streaming: %s", l.Link(), l.Err))
	}
	prod, back := inv.Sides.Production.Database, inv.Sides.Backup.Database
	if err := w.DB.CheckReverseSync(ctx, back, prod); err != nil {
		fmt.Fprintf(out, "note  reverse-sync plan not possible yet (the readonly plan does not need it): %s\n", oneLine(err))
	} else {
		fmt.Fprintf(out, "ok    reverse-sync plan possible (%s: wal_level = logical, every table has a key)\n", back)
	}
	return ok
}

// oneLine puts an error on one line: several errors (pgx lists each address it tried) are joined
// with "; ".
func oneLine(err error) string {
	if err == nil {
		return ""
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ; ")), " ")
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
