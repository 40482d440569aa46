package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
)

// PlanRehearse is the plan `pitstop rehearse` runs: copy production's database from the standby onto
// the rehearsal host, migrate the copy while its locks are sampled, run the new version against it,
// predict each plan's write-refusal window, and clean up. Nothing users reach is changed.
const PlanRehearse = "rehearse"

// The rehearse plan's own actions; each is carried out through the Rehearsal port or the Runner.
const (
	ActRehearseCheck   Action = "rehearse-check"   // reach the rehearsal hosts; directory and port free
	ActRehearseInspect Action = "rehearse-inspect" // connect to the started copy and describe it
	ActRehearseMigrate Action = "rehearse-migrate" // run Exec while the copy's locks are sampled
	ActRehearseUpgrade Action = "rehearse-upgrade" // run Exec (the upgrade on the rehearsal app), timed
	ActRehearseSmoke   Action = "rehearse-smoke"   // a read and a write on the rehearsal app directly
	ActRehearsePredict Action = "rehearse-predict" // predict each plan's window and apply the gates
)

// Rehearsal is the port the rehearse plan needs besides the Runner: the copy of production's
// database, reached from where Pitstop runs.
type Rehearsal interface {
	// Check reaches the source database and finds the rehearsal's data directory absent or empty
	// and its port free. It changes nothing.
	Check(ctx context.Context) error
	// Inspect connects to the started copy and describes it.
	Inspect(ctx context.Context) (CopyInfo, error)
	// Watch notes the copy's tables and WAL position and starts sampling its locks until Stop.
	Watch(ctx context.Context) (LockSampler, error)
	// Smoke makes a read, and a write when the inventory has probe.write_url, on app host directly.
	Smoke(ctx context.Context, host string, out func(line string)) error
}

// LockSampler is a running lock sampler on the copy.
type LockSampler interface {
	// Stop ends the sampling and compares the tables and WAL position with those at the start.
	Stop(ctx context.Context) (MigrationReport, error)
}

// CopyInfo describes the started copy.
type CopyInfo struct {
	Version string `json:"version"`
	Bytes   int64  `json:"bytes"`
	Tables  int    `json:"tables"`
	// Primary is true when the copy runs as a standalone primary (not in recovery).
	Primary bool `json:"primary"`
}

// MigrationReport is what the migration did to the copy.
type MigrationReport struct {
	Duration time.Duration `json:"duration"`
	// Locks lists every table lock the migration held, longest first.
	Locks []LockHold `json:"locks,omitempty"`
	// Rewritten lists the tables whose files changed (relfilenode): rewritten in full.
	Rewritten []Rewrite `json:"rewritten,omitempty"`
	// NewTables lists tables that did not exist before.
	NewTables []string `json:"new_tables,omitempty"`
	// WALBytes is the WAL the migration wrote (pg_current_wal_lsn before and after).
	WALBytes    int64         `json:"wal_bytes"`
	Samples     int           `json:"samples"`
	SampleEvery time.Duration `json:"sample_every"`
}

// LockHold is one lock mode on one table, as the samples saw it.
type LockHold struct {
	Table string `json:"table"`
	// Mode as pg_locks names it, e.g. AccessExclusiveLock.
	Mode string `json:"mode"`
	// Longest is the longest stretch it was held without a break; Total sums all stretches.
	Longest time.Duration `json:"longest"`
	Total   time.Duration `json:"total"`
	// Query is the statement the holding session ran when the lock was first seen
	// (pg_stat_activity.query): the one that took it, or one soon after.
	Query string `json:"query,omitempty"`
}

// BlocksReads reports whether the mode makes a plain SELECT on the table wait.
func (l LockHold) BlocksReads() bool { return l.Mode == "AccessExclusiveLock" }

// BlocksWrites reports whether the mode makes INSERT, UPDATE and DELETE on the table wait.
func (l LockHold) BlocksWrites() bool {
	switch l.Mode {
	case "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock":
		return true
	}
	return false
}

// Rewrite is a table whose file the migration replaced.
type Rewrite struct {
	Table  string `json:"table"`
	Before int64  `json:"bytes_before"`
	After  int64  `json:"bytes_after"`
}

// Prediction is the predicted write-refusal window of one plan.
type Prediction struct {
	Plan   string        `json:"plan"`
	Window time.Duration `json:"window"`
	Parts  []WindowPart  `json:"parts"`
	// Note says what the prediction leaves out.
	Note string `json:"note,omitempty"`
}

// WindowPart is one contribution to a predicted window.
type WindowPart struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
	// Measured is false for a default that was not measured on this setup.
	Measured bool `json:"measured"`
}

// Measurement is what the rehearse plan measured in one step; the journal records each. (The copy's
// time is the copy step's duration in its step-finished event.)
type Measurement struct {
	Copy        *CopyInfo        `json:"copy,omitempty"`
	Migration   *MigrationReport `json:"migration,omitempty"`
	Upgrade     time.Duration    `json:"upgrade,omitempty"`
	Predictions []Prediction     `json:"predictions,omitempty"`
}

// Overheads are the parts of a write-refusal window that are not the upgrade or the migration.
// Defaults were measured with `pitstop lab bench` on loopback (BENCHMARKS.md); on real hosts,
// switches over SSH cost more.
var defaultOverheads = map[string]time.Duration{
	// readonly: the part of the switch to the backup after users are on it (nginx's old workers
	// ended, the switch's proof), pausing replay, the direct check, and the switch back up to its
	// reload: writes unavailable minus the upgrade commands in three runs of lab bench, 0.07-0.08 s
	// (BENCHMARKS.md, issue 16).
	PlanReadonly: 100 * time.Millisecond,
	// reverse-sync: two fences, the drain, the promotion and capture, the reverse drain, the
	// sequences and two switches: the two fence-to-switch windows of lab bench --plan reverse-sync,
	// 0.47-0.48 s in three runs (BENCHMARKS.md, issue 16).
	PlanReverseSync: 500 * time.Millisecond,
}

// rehearse builds the rehearse plan.
func (b *builder) rehearse() (*Plan, error) {
	inv := b.inv
	r := &inv.Rehearsal
	if !r.Enabled() {
		return nil, fmt.Errorf("%s has no rehearsal: section; add one with host, data_dir and port (see docs/rehearse.md)", inv.Source)
	}
	copyURL, err := r.CopyURL(inv)
	if err != nil {
		return nil, err
	}
	for _, c := range append(append([]string{}, inv.Upgrade.Commands...), inv.Upgrade.Migrate.Commands...) {
		if _, ok, _ := inventory.ParseRundeckJob(c); ok {
			return nil, fmt.Errorf("%s: the rehearse plan runs the upgrade and migration commands itself, pointed at the copy, and cannot point a Rundeck job there; write them as shell commands to rehearse", inv.Source)
		}
	}
	p := &Plan{Name: PlanRehearse, Inventory: inv.Name}
	hosts := []string{r.Host}
	if r.App != "" {
		hosts = append(hosts, r.App)
	}
	p.Phases = append(p.Phases,
		&Phase{Name: "Preflight", Steps: []*Step{{ID: "rehearse-preflight",
			Title: fmt.Sprintf("Check %s, %s and the free data directory and port for the copy", strings.Join(hosts, ", "), r.Source), Action: ActRehearseCheck, Hosts: hosts}}},
		&Phase{Name: "Copy", Steps: []*Step{
			{ID: "copy", Title: fmt.Sprintf("Copy %s into %s on %s and start it as a standalone server on port %d", r.Source, r.PGData(), r.Host, r.Port),
				Action: ActRun, Hosts: []string{r.Host}, Exec: []HostCommands{{Host: r.Host, Commands: CopyCommands(inv)}}, Serial: true, Gate: Gate{Confirm: true}},
			{ID: "inspect-copy", Title: "Connect to the copy and check it runs as a primary of its own", Action: ActRehearseInspect, Hosts: []string{r.Host}},
		}})
	migrateOn := r.Host
	try := &Phase{Name: "Migrate the copy"}
	if r.App != "" {
		migrateOn = r.App
		try.Steps = append(try.Steps, &Step{ID: "upgrade-rehearsal", Title: fmt.Sprintf("Upgrade the rehearsal app %s to %s against the copy", r.App, inv.Upgrade.Version),
			Action: ActRehearseUpgrade, Hosts: []string{r.App}, Exec: []HostCommands{{Host: r.App, Commands: withDatabase(inv, inv.Upgrade.Commands, r.App, copyURL)}}, Gate: Gate{Confirm: true}})
	}
	try.Steps = append(try.Steps, &Step{ID: "migrate-copy", Title: fmt.Sprintf("Migrate the copy (from %s) while its locks are sampled every %s", migrateOn, r.SampleEvery),
		Action: ActRehearseMigrate, Hosts: []string{migrateOn}, Exec: []HostCommands{{Host: migrateOn, Commands: withDatabase(inv, inv.Upgrade.Migrate.Commands, migrateOn, copyURL)}}, Gate: Gate{Confirm: true}})
	if r.App != "" {
		try.Steps = append(try.Steps,
			&Step{ID: "verify-rehearsal-direct", Title: fmt.Sprintf("Verify %s reports %s (direct)", r.App, inv.Upgrade.Verify.Version),
				Action: ActVerifyDirect, Hosts: []string{r.App}, Version: inv.Upgrade.Verify.Version, Path: inv.Upgrade.Verify.Path},
			&Step{ID: "smoke-rehearsal", Title: "Smoke-test " + r.App + ": a read and a write against the copy", Action: ActRehearseSmoke, Hosts: []string{r.App}})
	}
	p.Phases = append(p.Phases, try,
		&Phase{Name: "Predict", Steps: []*Step{{ID: "predict", Title: "Predict each plan's write-refusal window and check the limits", Action: ActRehearsePredict}}},
		&Phase{Name: "Clean up", Steps: []*Step{{ID: "cleanup", Title: "Stop and remove the copy" + map[bool]string{true: " and the rehearsal app", false: ""}[r.App != ""],
			Action: ActRun, Hosts: hosts, Exec: CleanupCommands(inv)}}})
	return p, nil
}

// withDatabase expands commands for host with {database_url} pointing at dbURL, and gives each the
// same URL as PITSTOP_DATABASE_URL in its environment.
func withDatabase(inv *inventory.Inventory, commands []string, host, dbURL string) []string {
	out := make([]string, len(commands))
	for i, c := range commands {
		out[i] = "export PITSTOP_DATABASE_URL=" + shell.Quote(dbURL) + "; " + inv.ExpandFor(c, host, dbURL)
	}
	return out
}

// copyOptions are the server settings that make the copy a standalone scratch server whatever the
// source's configuration says: its own port, address and socket, no WAL archiving into production's
// archive, no waiting for synchronous standbys, no TLS files from the source host.
func copyOptions(r *inventory.Rehearsal) string {
	return fmt.Sprintf("-c port=%d -c listen_addresses=%s -c unix_socket_directories=%s -c cluster_name=pitstop-rehearsal -c archive_mode=off -c synchronous_standby_names='' -c ssl=off -c hot_standby=on",
		r.Port, r.Listen, r.DataDir)
}

// CopyCommands are the commands the rehearsal host runs to make and start the copy: the marker first
// (so a killed rehearsal's leftovers are recognised), then pg_basebackup from the source with a fast
// checkpoint (or the inventory's snapshot commands), then the copy is made a standalone primary
// (no standby.signal, no primary_conninfo) and started as the database's OS user.
func CopyCommands(inv *inventory.Inventory) []string {
	r := &inv.Rehearsal
	as, q := r.As(), shell.Quote
	pgdata := r.PGData()
	cmds := []string{
		as + "mkdir -p " + q(r.DataDir),
		as + "touch " + q(r.Marker()),
	}
	if len(r.Snapshot) > 0 {
		for _, c := range r.Snapshot {
			cmds = append(cmds, inv.Expand(strings.ReplaceAll(c, "{pgdata}", q(pgdata)), r.Host))
		}
	} else {
		cmds = append(cmds, as+"mkdir -m 700 "+q(pgdata),
			as+r.Bin("pg_basebackup")+" -D "+q(pgdata)+" -d "+q(r.SourceConn)+" -X stream --checkpoint=fast --no-sync")
	}
	// postgresql.auto.conf may carry the standby's primary_conninfo and slot, and a write fence set
	// with ALTER SYSTEM; Debian keeps postgresql.conf and pg_hba.conf outside the data directory.
	fix := fmt.Sprintf(`cd %[1]s && rm -f standby.signal recovery.signal && touch postgresql.auto.conf && sed -i -e '/^[[:space:]]*primary_conninfo/d' -e '/^[[:space:]]*primary_slot_name/d' -e '/^[[:space:]]*default_transaction_read_only/d' postgresql.auto.conf && { test -f postgresql.conf || echo '# written by pitstop rehearse' > postgresql.conf; } && { test -f pg_hba.conf || printf 'local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n' > pg_hba.conf; }`, q(pgdata))
	cmds = append(cmds, as+"sh -c "+q(fix),
		as+r.Bin("pg_ctl")+" -D "+q(pgdata)+" -l "+q(r.DataDir+"/postgres.log")+" -w -t 300 -o "+q(copyOptions(r))+" start")
	return cmds
}

// CleanupCommands stop the rehearsal app (rehearsal.stop_app) and stop and remove the copy. They are
// safe to run when nothing is left, and remove the data directory only when it holds the marker.
func CleanupCommands(inv *inventory.Inventory) []HostCommands {
	r := &inv.Rehearsal
	var out []HostCommands
	if r.App != "" && len(r.StopApp) > 0 {
		hc := HostCommands{Host: r.App}
		for _, c := range r.StopApp {
			hc.Commands = append(hc.Commands, inv.Expand(c, r.App))
		}
		out = append(out, hc)
	}
	q := shell.Quote
	pgdata := q(r.PGData())
	stop := fmt.Sprintf(`if [ -f %[1]s/postmaster.pid ] && %[2]s -D %[1]s status >/dev/null 2>&1; then %[2]s -D %[1]s -m fast -w -t 60 stop; fi`, pgdata, r.Bin("pg_ctl"))
	remove := fmt.Sprintf(`if [ -f %s ]; then rm -rf %s; fi`, q(r.Marker()), q(r.DataDir))
	return append(out, HostCommands{Host: r.Host, Commands: []string{r.As() + "sh -c " + q(stop), r.As() + "sh -c " + q(remove)}})
}

// BuildRehearse returns the rehearse plan for inv; forPlan names the plan whose predicted window
// thresholds.max_window limits (readonly when empty).
func BuildRehearse(inv *inventory.Inventory, forPlan string) (*Plan, error) {
	switch forPlan {
	case "":
		forPlan = PlanReadonly
	case PlanReadonly, PlanReverseSync:
	default:
		return nil, fmt.Errorf("unknown plan %q to rehearse for: choose one of %v", forPlan, PlanNames())
	}
	b := &builder{inv: inv, t: inv.Thresholds}
	p, err := b.rehearse()
	if err != nil {
		return nil, err
	}
	p.Step("predict").For = forPlan
	return p, nil
}

// rehearseDescription says in words what a rehearse step without commands does, for pitstop plan.
func rehearseDescription(st *Step) string {
	on := strings.Join(st.Hosts, ", ")
	switch st.Action {
	case ActRehearseCheck:
		return "reach " + on + "; the data directory must be absent or empty and the port free; changes nothing"
	case ActRehearseInspect:
		return "connect to the copy: version, size, tables; it must not be in recovery"
	case ActRehearseSmoke:
		return "on " + on + " directly: GET probe.url's path, and POST to probe.write_url's path when set; each must answer 2xx"
	case ActRehearsePredict:
		return "predict each plan's write-refusal window from the measured times; fail above thresholds.max_window (for the " + st.For + " plan) or when a lock blocked reads longer than rehearsal.max_read_block"
	}
	return string(st.Action)
}
