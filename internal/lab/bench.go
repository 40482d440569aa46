package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// BenchOptions configure the downtime benchmark.
type BenchOptions struct {
	// Dir holds the lab (a scratch directory, removed afterwards, when empty).
	Dir      string
	PortBase int
	SSH      bool
	// UpgradeSleep, when set, makes the upgrade take that long with the application stopped, as
	// installing a real release does: both procedures run appctl stop, sleep, appctl start.
	UpgradeSleep time.Duration
	// MigrateHold, when set, makes the migration rewrite items and hold its lock that long (a slow
	// migration, the same in both procedures).
	MigrateHold time.Duration
	// Load is the simulated users (URLs and name prefix are filled in).
	Load LoadOptions
	// Settle is how long the load runs before and after each procedure (default 2s).
	Settle time.Duration
	// VerifyWindow, when set, replaces the window of the plan's verify-traffic conditions (an
	// experiment: the built-in plan waits for 250ms of probes on the backup after the switch to it,
	// 2s on production after the switch back).
	VerifyWindow time.Duration
	// Plan is the plan Pitstop runs: readonly (default) or reverse-sync.
	Plan string
	// Out receives progress lines; Events, when set, every engine event as a line.
	Out    io.Writer
	Events io.Writer
}

// Bench brings up one lab and runs, under the same load: the naive procedure (stop the production
// app, upgrade and migrate, start it), a reset of the lab (down and up), the plain shell script (the
// readonly procedure's steps with no tool), another reset, the plan (readonly unless opt.Plan) with
// AutoApprove, and a short last run of the readonly plan that is rolled back right after the switch
// to the backup. After each procedure it looks for every acknowledged write, by name, in production's
// database. It returns what users saw in each; the result is partial when an error ends it early.
func Bench(ctx context.Context, opt BenchOptions) (*BenchResult, error) {
	if opt.Settle <= 0 {
		opt.Settle = 2 * time.Second
	}
	if opt.Out == nil {
		opt.Out = io.Discard
	}
	if opt.Plan == "" {
		opt.Plan = steps.PlanReadonly
	}
	say := func(format string, a ...any) { fmt.Fprintf(opt.Out, format+"\n", a...) }
	if opt.Dir == "" {
		scratch, err := os.MkdirTemp("", "pitstop-lab-bench-")
		if err != nil {
			return nil, fmt.Errorf("lab bench: %w", err)
		}
		defer os.RemoveAll(scratch)
		if err := os.Chmod(scratch, 0o755); err != nil { // the postgres user must reach the data directories
			return nil, fmt.Errorf("lab bench: %w", err)
		}
		opt.Dir = scratch + "/lab"
	}
	res := &BenchResult{LoadBefore: loadAverage(), CPUs: cpus()}
	labOpt := Options{Dir: opt.Dir, PortBase: opt.PortBase, SSH: opt.SSH, MigrateHold: opt.MigrateHold}
	start := time.Now()
	st, err := Up(ctx, labOpt)
	if err != nil {
		return nil, fmt.Errorf("lab bench: %w", err)
	}
	res.Up = time.Since(start)
	defer func() {
		start := time.Now()
		if err := Down(opt.Dir); err != nil {
			say("lab bench: %v", err)
		}
		res.Down = time.Since(start)
	}()
	say("lab up in %s in %s", res.Up.Round(10*time.Millisecond), opt.Dir)
	l, err := loadLayout(st.Dir)
	if err != nil {
		return nil, err
	}
	appctl := shell.Quote(l.appctl())
	inv, err := benchInventory(st.Inventory, appctl, opt.UpgradeSleep)
	if err != nil {
		return nil, err
	}
	res.fill(inv, opt)

	say("1. naive: stop %s, upgrade and migrate, start it — under load", inv.Sides.Production.Apps[0])
	if err := res.Naive.runNaive(ctx, inv, naiveCommands(inv, appctl, inv.Sides.Production.Apps[0]), opt); err != nil {
		return res, fmt.Errorf("lab bench, naive procedure: %w", err)
	}
	say("   %s", res.Naive.Load)

	res.Naive.checkStored(ctx, inv)
	reset := func() error {
		say("   resetting the lab (down and up) so the next procedure starts from v1 and an unmigrated database")
		start := time.Now()
		if err := Down(opt.Dir); err != nil {
			return fmt.Errorf("lab bench, reset: %w", err)
		}
		if _, err := Up(ctx, labOpt); err != nil {
			return fmt.Errorf("lab bench, reset: %w", err)
		}
		res.Reset = time.Since(start)
		return nil
	}
	if err := reset(); err != nil {
		return res, err
	}

	say("2. plain shell script: the readonly procedure's steps with no tool — under the same load")
	if err := res.Script.runPlain(ctx, inv, opt.Dir, binDir(l.PGBin)+"/psql", opt); err != nil {
		return res, fmt.Errorf("lab bench, plain script: %w", err)
	}
	say("   %s", res.Script.Load)
	res.Script.checkStored(ctx, inv)
	if err := reset(); err != nil {
		return res, err
	}

	say("3. pitstop run --plan %s --auto-approve — under the same load", opt.Plan)
	if err := res.Pitstop.runPlan(ctx, inv, opt, nil); err != nil {
		return res, fmt.Errorf("lab bench, %s plan: %w", opt.Plan, err)
	}
	say("   %s", res.Pitstop.Load)
	res.Pitstop.checkStored(ctx, inv)

	// The rollback is measured on the readonly plan whichever plan was benched: after the reverse-sync
	// plan's switch the promoted backup holds users' writes, and a rollback would discard them (the
	// engine asks the operator to type that); the switch back it times is the same balancer switch.
	say("4. readonly plan again, rolled back right after the switch to the backup")
	var rb rollbackDriver
	var third Procedure
	third.Name = "rollback run"
	rbOpt := opt
	rbOpt.Plan = steps.PlanReadonly
	err = third.runPlan(ctx, inv, rbOpt, &rb)
	if err != nil && !errors.Is(err, steps.ErrAborted) {
		return res, fmt.Errorf("lab bench, rollback run: %w", err)
	}
	res.Rollback, res.RollbackErr = rb.latency(third.report, inv)
	say("   %s", third.Load)
	third.checkStored(ctx, inv)
	res.RollbackLost, res.RollbackChecked, res.RollbackLostErr = third.Lost, third.Checked, third.LostErr
	res.LoadAfter = loadAverage()
	return res, nil
}

// benchInventory loads the lab's inventory and, with sleep, makes its upgrade stop the app, sleep
// and start the new version.
func benchInventory(file, appctl string, sleep time.Duration) (*inventory.Inventory, error) {
	inv, err := inventory.Load(file)
	if err != nil {
		return nil, fmt.Errorf("lab bench: the lab's inventory: %w", err)
	}
	if sleep > 0 {
		inv.Upgrade.Commands = []string{
			appctl + " stop {host}",
			fmt.Sprintf("sleep %g", sleep.Seconds()),
			appctl + " start {host} {version}",
		}
	}
	return inv, nil
}

// naiveCommands is the upgrade done by hand without Pitstop: stop the production app, install (the
// upgrade's sleep), migrate, start the new version.
func naiveCommands(inv *inventory.Inventory, appctl, host string) []string {
	cmds := []string{appctl + " stop " + host}
	for _, c := range inv.Upgrade.Commands {
		if strings.HasPrefix(c, "sleep ") {
			cmds = append(cmds, c)
		}
	}
	for _, c := range inv.Upgrade.Migrate.Commands {
		cmds = append(cmds, inv.Expand(c, host))
	}
	return append(cmds, appctl+" start "+host+" "+inv.Upgrade.Version)
}

// runNaive runs the naive procedure under load, through the same runner Pitstop uses.
func (p *Procedure) runNaive(ctx context.Context, inv *inventory.Inventory, cmds []string, opt BenchOptions) error {
	host := inv.Sides.Production.Apps[0]
	runner := remote.New(inv, remote.Options{})
	defer runner.Close()
	load, err := StartLoad(ctx, p.loadOptions(inv, opt, "naive"))
	if err != nil {
		return err
	}
	defer load.Stop()
	time.Sleep(opt.Settle)
	p.Started = time.Now()
	for _, c := range cmds {
		fmt.Fprintf(opt.Out, "   %s: $ %s\n", host, c)
		if err := runner.Run(ctx, host, c, nil); err != nil {
			return err
		}
	}
	p.Finished = time.Now()
	p.Maintenance = p.Finished.Sub(p.Started)
	p.Upgrade = p.Maintenance
	time.Sleep(opt.Settle)
	p.setReport(load.Stop())
	return nil
}

func (p *Procedure) loadOptions(inv *inventory.Inventory, opt BenchOptions, run string) LoadOptions {
	lo := opt.Load
	lo.ReadURL, lo.WriteURL = inv.Probe.URL, inv.Probe.WriteURL
	lo.UpstreamHeader, lo.VersionHeader = inv.Probe.UpstreamHeader, inv.Probe.VersionHeader
	lo.NamePrefix = fmt.Sprintf("bench-%s-%d", run, time.Now().UnixNano())
	return lo
}

func (p *Procedure) setReport(rep *LoadReport) {
	p.report = rep
	p.Load = rep.Summary()
}

// runPlan runs the readonly plan under load: headless with AutoApprove, or driven by rb.
func (p *Procedure) runPlan(ctx context.Context, inv *inventory.Inventory, opt BenchOptions, rb *rollbackDriver) error {
	plan, err := steps.Build(inv, opt.Plan)
	if err != nil {
		return err
	}
	if opt.VerifyWindow > 0 {
		for _, st := range plan.Steps() {
			for i, c := range st.Gate.Conditions {
				if st.Action == steps.ActVerifyTraffic && c.Kind == steps.CondUpstream {
					st.Gate.Conditions[i].Window = opt.VerifyWindow
				}
			}
		}
	}
	w, err := live.OpenLocked(ctx, inv, live.Options{})
	if err != nil {
		return err
	}
	defer w.Close()
	defer func() {
		// The plan's detached commands kept their output under ~/.cache/pitstop/runs/RUN on each host
		// (all this machine's user here); the bench is over with them.
		rctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		for _, h := range inv.HostNames() {
			_ = w.Hosts.RemoveRun(rctx, h)
		}
	}()
	var mu sync.Mutex
	var events []steps.Event
	var printer *steps.Printer
	if opt.Events != nil {
		printer = &steps.Printer{W: opt.Events}
	}
	var eng *steps.Engine
	emit := func(ev steps.Event) {
		if printer != nil {
			printer.Print(ev)
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		if rb != nil {
			rb.emit(eng, ev, inv)
		}
	}
	eng = steps.New(inv, plan, w.Ports(), steps.Options{AutoApprove: rb == nil, Operator: "bench", Emit: emit})
	load, err := StartLoad(ctx, p.loadOptions(inv, opt, strings.ReplaceAll(p.Name, " ", "-")))
	if err != nil {
		return err
	}
	defer load.Stop()
	time.Sleep(opt.Settle)
	runErr := eng.Run(ctx)
	time.Sleep(opt.Settle)
	p.setReport(load.Stop())
	mu.Lock()
	defer mu.Unlock()
	p.measurePlan(opt.Plan, events, inv)
	return runErr
}

// rollbackDriver confirms every gate until the switch to the backup, then rolls back at the next
// confirmation gate, as an operator pressing the rollback key would, and aborts after it.
type rollbackDriver struct {
	switched, asked bool
	pending         map[string]bool
	pressed         time.Time
	rolledBack      time.Time
}

// emit runs on the engine's goroutine (Decide does not block).
func (d *rollbackDriver) emit(eng *steps.Engine, ev steps.Event, inv *inventory.Inventory) {
	if d.pending == nil {
		d.pending = map[string]bool{}
	}
	g := ev.Gate
	switch {
	case ev.Kind == steps.EvSwitched && ev.Change != nil && ev.Change.To == string(inventory.Backup):
		d.switched = true
	case ev.Kind == steps.EvRolledBack:
		d.rolledBack = ev.Time
	case ev.Kind == steps.EvGateDecided:
		delete(d.pending, ev.StepID)
	case ev.Kind != steps.EvGateWaiting:
	case g.Kind == steps.GateRolledBack:
		eng.Decide(steps.Decision{Kind: steps.Abort, By: "bench", StepID: ev.StepID})
	case g.Kind == steps.GateConfirm && d.switched && g.Allows(steps.Confirm) && !d.asked:
		// The plan proved users reach the backup and waits for the next confirmation: roll back.
		d.asked, d.pressed = true, time.Now()
		eng.Decide(steps.Decision{Kind: steps.Rollback, By: "bench", StepID: ev.StepID})
	case g.Kind == steps.GateConfirm && !d.switched && g.Ready && g.Allows(steps.Confirm) && !d.pending[ev.StepID]:
		d.pending[ev.StepID] = true
		eng.Decide(steps.Decision{Kind: steps.Confirm, By: "bench", StepID: ev.StepID})
	}
}

// latency is how long after the rollback decision every read was served by production again.
func (d *rollbackDriver) latency(rep *LoadReport, inv *inventory.Inventory) (time.Duration, error) {
	if d.pressed.IsZero() || rep == nil {
		return 0, errors.New("no rollback was decided: the run did not reach a gate after the switch to the backup")
	}
	if d.rolledBack.IsZero() {
		return 0, errors.New("the engine did not report the rollback (no rolled-back event)")
	}
	at, err := rep.ServedFrom(d.pressed, rep.End, upstreamOf(inv, inventory.Production))
	if err != nil {
		return 0, err
	}
	return at.Sub(d.pressed), nil
}

// upstreamOf is the X-Upstream value of side's first app (its serve address).
func upstreamOf(inv *inventory.Inventory, side inventory.Side) string {
	if h := inv.Host(inv.Sides.Get(side).Apps[0]); h != nil {
		return h.Serve
	}
	return ""
}

// checkStored looks for every write the load saw acknowledged, by name, in production's database
// (where every acknowledged write must be once a procedure is over: the readonly plan never lets the
// backup take one, and the reverse-sync plan brings the backup's back before the switch back).
func (p *Procedure) checkStored(ctx context.Context, inv *inventory.Inventory) {
	if p.report == nil {
		p.LostErr = errors.New("the procedure did not finish")
		return
	}
	p.Checked = len(p.report.Acked)
	if p.Checked == 0 {
		p.LostErr = errors.New("no write was acknowledged")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p.Lost, p.LostErr = MissingNames(ctx, inv.Hosts[inv.Sides.Production.Database].Postgres, p.report.Acked)
}

// MissingNames returns the names the items table (the demo app's) of the database at conn does not
// hold: acknowledged writes that were lost. The bench and the e2e tests check writes with it.
func MissingNames(ctx context.Context, conn string, names []string) ([]string, error) {
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	rows, err := c.Query(ctx, "SELECT name FROM items WHERE name = ANY($1)", names)
	if err != nil {
		return nil, err
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	in := make(map[string]bool, len(have))
	for _, n := range have {
		in[n] = true
	}
	var out []string
	for _, n := range names {
		if !in[n] {
			out = append(out, n)
		}
	}
	return out, nil
}
