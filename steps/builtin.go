package steps

import (
	"fmt"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// Plan names.
const (
	PlanReadonly    = "readonly"
	PlanReverseSync = "reverse-sync"
)

// PlanNames lists the built-in plans, the default first.
func PlanNames() []string { return []string{PlanReadonly, PlanReverseSync} }

// verifyTimeout bounds how long a traffic check waits for probes to come from the new side.
const verifyTimeout = 60 * time.Second

// Build returns the named built-in plan for inv. It runs nothing.
func Build(inv *inventory.Inventory, name string) (*Plan, error) {
	b := &builder{inv: inv, t: inv.Thresholds}
	switch name {
	case "", PlanReadonly:
		return b.readonly(), nil
	case PlanReverseSync:
		if len(inv.ReverseSync.Rebuild) == 0 {
			return nil, fmt.Errorf("%s: the reverse-sync plan needs reverse_sync.rebuild: the commands that re-create %s as a standby of %s after the switch back; add them to the inventory or use --plan readonly",
				inv.Source, inv.Sides.Backup.Database, inv.Sides.Production.Database)
		}
		return b.reverseSync(), nil
	case PlanRehearse:
		return BuildRehearse(inv, PlanReadonly)
	}
	return nil, fmt.Errorf("unknown plan %q: choose one of %v", name, PlanNames())
}

type builder struct {
	inv *inventory.Inventory
	t   inventory.Thresholds
}

func (b *builder) readonly() *Plan {
	prod, back := b.inv.Sides.Production, b.inv.Sides.Backup
	p := &Plan{Name: PlanReadonly, Inventory: b.inv.Name}
	p.Phases = []*Phase{
		{Name: "Preflight", Steps: []*Step{b.preflight()}},
		{Name: "Sync backup", Steps: []*Step{b.waitSync("sync", "Wait until "+back.Database+" has caught up with "+prod.Database, prod.Database, back.Database, b.t.MaxLag)}},
		{Name: "Switch to backup", Steps: []*Step{
			b.switchTo(inventory.Backup, b.lagHeld(prod.Database, back.Database)),
			b.replay("pause-replay", "Pause WAL replay on %s so production's migration does not reach the old app", ActPauseReplay),
		}},
		{Name: "Upgrade production", Steps: b.upgrade(inventory.Production, true)},
		{Name: "Switch back", Steps: []*Step{
			b.switchTo(inventory.Production),
			b.verifyTraffic(inventory.Production),
		}},
		{Name: "Re-sync backup", Steps: []*Step{
			// Only once users are off the backup: resumed replay brings production's migration to
			// the database the old app on the backup reads.
			b.offLive(inventory.Backup, b.replay("resume-replay", "Resume WAL replay on %s", ActResumeReplay)),
			b.resync(),
		}},
		{Name: "Upgrade backup", Steps: b.upgrade(inventory.Backup, false)},
	}
	return p
}

func (b *builder) reverseSync() *Plan {
	prod, back := b.inv.Sides.Production.Database, b.inv.Sides.Backup.Database
	p := &Plan{Name: PlanReverseSync, Inventory: b.inv.Name}
	p.Phases = []*Phase{
		{Name: "Preflight", Steps: []*Step{b.preflight()}},
		{Name: "Sync backup", Steps: []*Step{b.waitSync("sync", "Wait until "+back+" has caught up with "+prod, prod, back, b.t.MaxLag)}},
		{Name: "Hand writes to backup", Steps: []*Step{
			b.dbStep("fence-production", "Fence writes on "+prod+" (read-only; open write transactions are ended)", ActFence, prod),
			b.waitSync("drain", "Wait until "+back+" has replayed every write of "+prod, prod, back, 0),
			b.dbStep("promote-backup", "Promote "+back+" to a primary", ActPromote, back),
			b.dbStep("capture-backup", "Start capturing "+back+"'s changes for the reverse sync", ActCapture, back),
		}},
		{Name: "Switch to backup", Steps: []*Step{
			b.switchTo(inventory.Backup),
		}},
		{Name: "Upgrade production", Steps: append([]*Step{
			b.dbStep("unfence-production", "Lift the write fence on "+prod+" so the migration can run (no users reach it now)", ActUnfence, prod),
		}, b.upgrade(inventory.Production, true)...)},
		{Name: "Reverse sync", Steps: []*Step{
			{ID: "reverse-start", Title: "Replay " + back + "'s captured changes into " + prod, Action: ActReverseStart, From: back, To: prod, Hosts: []string{prod}, Gate: Gate{Confirm: true}},
			b.waitSync("reverse-catchup", "Wait until "+prod+" has caught up with "+back, back, prod, b.t.MaxLag),
		}},
		{Name: "Switch back", Steps: []*Step{
			b.dbStep("fence-backup", "Fence writes on "+back+" (users get read-only answers until the switch back)", ActFence, back),
			b.waitSync("reverse-drain", "Wait until "+prod+" has every write of "+back, back, prod, 0),
			{ID: "advance-sequences", Title: "Advance " + prod + "'s sequences past every value " + back + " handed out", Action: ActAdvanceSeq, From: back, To: prod, Hosts: []string{prod}, Gate: Gate{Confirm: true}},
			b.switchTo(inventory.Production),
			b.verifyTraffic(inventory.Production),
		}},
		{Name: "Rebuild backup", Steps: []*Step{
			// Both only once users are on production and it has every write of the backup: the
			// rebuild erases the backup's data.
			b.offLive(inventory.Backup, &Step{ID: "reverse-stop", Title: "Stop the reverse sync (drop subscription, slot and publication)", Action: ActReverseStop, From: back, To: prod, Hosts: []string{prod, back},
				Gate: Gate{Confirm: true, Conditions: []Condition{{Kind: CondLag, From: back, To: prod, MaxBytes: 0, Readings: 1}}}}),
			b.offLive(inventory.Backup, b.run("rebuild-backup", "Rebuild "+back+" as a streaming standby of "+prod, []string{back}, b.inv.ReverseSync.Rebuild, false)),
			b.waitSync("resync", "Wait until "+back+" streams from "+prod+" and has caught up", prod, back, b.t.MaxLag),
		}},
		{Name: "Upgrade backup", Steps: b.upgrade(inventory.Backup, false)},
	}
	return p
}

func (b *builder) preflight() *Step {
	return &Step{ID: "preflight", Title: "Check every host, the balancer, replication and what users see", Action: ActPreflight, Hosts: b.inv.HostNames()}
}

// lagCond is the sync condition: the link is streaming with at most max bytes to replay, for the
// configured number of consecutive readings.
func (b *builder) lagCond(from, to string, max int64) Condition {
	return Condition{Kind: CondLag, From: from, To: to, MaxBytes: max, Readings: b.t.Readings}
}

// lagHeld is the sync condition again, checked right before the switch: catching up once is not
// enough if the standby fell behind since.
func (b *builder) lagHeld(from, to string) Condition {
	c := b.lagCond(from, to, b.t.MaxLag)
	c.Readings = 1
	return c
}

func (b *builder) successCond() Condition {
	return Condition{Kind: CondSuccess, MinSuccess: b.t.Success, Window: b.t.Window}
}

func (b *builder) waitSync(id, title, from, to string, max int64) *Step {
	return &Step{ID: id, Title: title, Action: ActWaitSync, Hosts: []string{to},
		Gate: Gate{Conditions: []Condition{b.lagCond(from, to, max)}, Timeout: b.t.Timeout}}
}

func (b *builder) switchTo(side inventory.Side, extra ...Condition) *Step {
	from := side.Other()
	conds := append([]Condition{b.successCond()}, extra...)
	return &Step{
		ID: "switch-to-" + string(side), Title: "Switch the balancer to " + string(side), Action: ActSwitch,
		Side: side, Hosts: b.balancers(),
		Config: &Change{File: b.inv.Balancer.File, From: string(from), To: string(side),
			Before: b.inv.Upstream(from), After: b.inv.Upstream(side)},
		Exec: b.balancerExec(),
		Gate: Gate{Confirm: true, Conditions: conds, Timeout: b.t.Timeout},
	}
}

// verifyTraffic follows the switch back to production: for 2 s of the probes' own requests, all must be
// served by side. On the way to the backup there is no such step: every moment of it would be a moment
// of refused writes, and the switch itself proves its traffic (nginx's old workers have exited, then
// requests through the balancer, one after another, are all served by the backup; see the nginx
// package's Balancer.Switch). Production runs new code, and this longer look costs users nothing.
func (b *builder) verifyTraffic(side inventory.Side) *Step {
	const win = 2 * time.Second
	return &Step{
		ID: "verify-" + string(side) + "-traffic", Title: "Verify users are served by " + string(side), Action: ActVerifyTraffic,
		Side: side, Hosts: b.inv.Sides.Get(side).Apps,
		Gate: Gate{Conditions: []Condition{
			{Kind: CondUpstream, Side: side, Window: win},
			b.successCond(),
		}, Timeout: verifyTimeout},
	}
}

// offLive makes st, which stops or changes side's apps or database, wait until users are on the other
// side: a skipped or failed switch can then never lead to upgrading the side that serves them.
func (b *builder) offLive(side inventory.Side, st *Step) *Step {
	st.Gate.Conditions = append(st.Gate.Conditions, Condition{Kind: CondLive, Side: side.Other()})
	st.Gate.Timeout = b.t.Timeout
	return st
}

// backupStandbys are the databases that serve the backup side: its standby and its replicas. They all
// stream from production, so all of them are paused while production is migrated.
func (b *builder) backupStandbys() []string {
	return append([]string{b.inv.Sides.Backup.Database}, b.inv.Sides.Backup.Replicas...)
}

func (b *builder) replay(id, title string, act Action) *Step {
	hosts := b.backupStandbys()
	return &Step{ID: id, Title: fmt.Sprintf(title, strings.Join(hosts, ", ")), Action: act, Hosts: hosts, Gate: Gate{Confirm: true}}
}

// resync waits until every paused standby has replayed what production wrote meanwhile.
func (b *builder) resync() *Step {
	prod := b.inv.Sides.Production.Database
	verb := " has"
	if len(b.backupStandbys()) > 1 {
		verb = " have"
	}
	st := b.waitSync("resync", "Wait until "+strings.Join(b.backupStandbys(), ", ")+verb+" replayed everything", prod, b.inv.Sides.Backup.Database, b.t.MaxLag)
	for _, r := range b.inv.Sides.Backup.Replicas {
		st.Hosts = append(st.Hosts, r)
		st.Gate.Conditions = append(st.Gate.Conditions, b.lagCond(prod, r, b.t.MaxLag))
	}
	return st
}

func (b *builder) dbStep(id, title string, act Action, host string) *Step {
	return &Step{ID: id, Title: title, Action: act, Hosts: []string{host}, Gate: Gate{Confirm: true}}
}

func (b *builder) run(id, title string, hosts, commands []string, serial bool) *Step {
	exec := make([]HostCommands, len(hosts))
	for i, h := range hosts {
		exec[i] = HostCommands{Host: h, Commands: make([]string, len(commands))}
		for j, c := range commands {
			exec[i].Commands[j] = b.inv.Expand(c, h)
		}
	}
	return &Step{ID: id, Title: title, Action: ActRun, Hosts: hosts, Exec: exec, Serial: serial, Gate: Gate{Confirm: true}}
}

// upgrade returns the steps that upgrade one side's app hosts: the commands, the migration (only on
// the side whose database is the primary being migrated), and a direct check of every host.
func (b *builder) upgrade(side inventory.Side, migrate bool) []*Step {
	s := string(side)
	apps := b.inv.Sides.Get(side).Apps
	up := b.inv.Upgrade
	out := []*Step{b.offLive(side, b.run("upgrade-"+s, fmt.Sprintf("Upgrade %s app hosts to %s", s, up.Version), apps, up.Commands, up.OneAtATime))}
	if migrate && len(up.Migrate.Commands) > 0 {
		out = append(out, b.offLive(side, b.run("migrate-"+s, "Migrate "+b.inv.Sides.Get(side).Database+" (from "+apps[0]+")", apps[:1], up.Migrate.Commands, false)))
	}
	title := fmt.Sprintf("Verify each %s app host reports %s (direct, not through the balancer)", s, up.Verify.Version)
	if up.Verify.HealthOnly {
		title = fmt.Sprintf("Verify each %s app host answers its health check (direct; version NOT checked: upgrade.verify.version is \"\")", s)
	}
	out = append(out, &Step{ID: "verify-" + s + "-direct", Title: title,
		Action: ActVerifyDirect, Hosts: apps, Version: up.Verify.Version, Path: up.Verify.Path, VersionSource: up.Verify.VersionSource()})
	return out
}

// balancers are the balancer hosts a switch acts on, all or nothing.
func (b *builder) balancers() []string {
	if len(b.inv.Balancer.Hosts) > 0 {
		return b.inv.Balancer.Hosts
	}
	return []string{b.inv.Balancer.Host}
}

// balancerExec is the test and reload each balancer runs at a switch.
func (b *builder) balancerExec() []HostCommands {
	var out []HostCommands
	for _, h := range b.balancers() {
		out = append(out, HostCommands{Host: h, Commands: []string{b.inv.Balancer.Test, b.inv.Balancer.Reload}})
	}
	return out
}
