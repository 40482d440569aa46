package demo

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// runner implements steps.Runner on the world: commands take simulated time and print what the real
// programs would. Progress goes to stdout, errors to stderr.
type runner struct{ w *World }

// line is one line a simulated command prints, at a fraction of the command's duration.
type line struct {
	at     float64
	stream steps.Stream
	text   string
}

func stdout(at float64, text string) line { return line{at, steps.Stdout, text} }
func stderr(at float64, text string) line { return line{at, steps.Stderr, text} }

// Run runs command on host in the simulation. It recognises the inventory's upgrade, migration,
// rebuild and balancer commands (as expanded for host) and changes the world as they would; any
// other command succeeds quickly.
func (r runner) Run(ctx context.Context, host, command string, out steps.OutputFunc) error {
	w := r.w
	if out == nil {
		out = func(steps.Stream, string) {}
	}
	if w.inv.Host(host) == nil {
		return fmt.Errorf("run %q on %s: there is no host %q in inventory %s; check the host name", command, host, host, w.inv.Name)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run %q on %s: %w", command, host, err)
	}
	cmd := strings.TrimSpace(command)
	if a := w.apps[host]; a != nil {
		w.lock()
		next := a.next
		w.mu.Unlock()
		if i := w.match(w.inv.Upgrade.Commands, host, cmd, next); i >= 0 {
			return w.runUpgrade(ctx, host, i, cmd, out)
		}
	}
	if i := w.match(w.inv.Upgrade.Migrate.Commands, host, cmd, 0); i >= 0 {
		return w.runMigrate(ctx, host, cmd, out)
	}
	if i := w.match(w.inv.ReverseSync.Rebuild, host, cmd, 0); i >= 0 {
		return w.runRebuild(ctx, host, i, cmd, out)
	}
	if host == w.inv.Balancer.Host {
		switch cmd {
		case strings.TrimSpace(w.inv.Balancer.Test):
			return w.play(ctx, host, cmd, out, w.randDuration(100*time.Millisecond, 300*time.Millisecond), []line{
				stdout(0.9, w.nginxTestOK()[0]), stdout(1, w.nginxTestOK()[1])})
		case strings.TrimSpace(w.inv.Balancer.Reload):
			if err := w.play(ctx, host, cmd, out, w.randDuration(100*time.Millisecond, 300*time.Millisecond), nil); err != nil {
				return err
			}
			w.lock()
			w.reloadNginx()
			w.mu.Unlock()
			return nil
		}
	}
	var lines []line
	switch f := strings.Fields(cmd); {
	case len(f) > 0 && f[0] == "hostname":
		lines = []line{stdout(1, host)}
	case len(f) > 0 && f[0] == "echo":
		lines = []line{stdout(1, strings.Join(f[1:], " "))}
	}
	return w.play(ctx, host, cmd, out, w.randDuration(20*time.Millisecond, 80*time.Millisecond), lines)
}

// match returns the index in list of the command cmd is on host (raw or expanded for host), or -1.
// When a command appears twice, the first occurrence at or after next wins.
func (w *World) match(list []string, host, cmd string, next int) int {
	found := -1
	for i, c := range list {
		if strings.TrimSpace(c) != cmd && strings.TrimSpace(w.inv.Expand(c, host)) != cmd {
			continue
		}
		if i >= next {
			return i
		}
		if found < 0 {
			found = i
		}
	}
	return found
}

// play prints lines over d of simulated time, each at its fraction of d.
func (w *World) play(ctx context.Context, host, cmd string, out steps.OutputFunc, d time.Duration, lines []line) error {
	at := 0.0
	for _, l := range lines {
		if err := w.clock.Sleep(ctx, time.Duration((l.at-at)*float64(d))); err != nil {
			return fmt.Errorf("run %q on %s: %w", cmd, host, err)
		}
		at = max(at, l.at)
		out(l.stream, l.text)
	}
	if err := w.clock.Sleep(ctx, time.Duration((1-at)*float64(d))); err != nil {
		return fmt.Errorf("run %q on %s: %w", cmd, host, err)
	}
	return nil
}

// cmdKind classifies an upgrade command for its output and duration.
type cmdKind int

const (
	kindOther cmdKind = iota
	kindStop
	kindStart
	kindRestart
	kindInstall
)

// weight is the share of a host's upgrade time a command of this kind takes.
func (k cmdKind) weight() float64 {
	return [...]float64{kindOther: 2, kindStop: 1.5, kindStart: 2, kindRestart: 3, kindInstall: 5}[k]
}

func classify(cmd string) cmdKind {
	f := strings.Fields(cmd)
	for i, a := range f {
		switch path.Base(a) {
		case "systemctl", "service":
			for _, v := range f[i+1:] {
				switch v {
				case "stop":
					return kindStop
				case "start":
					return kindStart
				case "restart", "reload-or-restart", "try-restart":
					return kindRestart
				}
			}
		case "apt", "apt-get", "dpkg", "yum", "dnf":
			return kindInstall
		}
	}
	return kindOther
}

// installIndex is the upgrade command the upgrade-fail fault breaks: the first package install, or
// the first command when none looks like one.
func (w *World) installIndex() int {
	for i, c := range w.inv.Upgrade.Commands {
		if classify(c) == kindInstall {
			return i
		}
	}
	return 0
}

// runUpgrade runs upgrade command i on app host: the host is down from the start of any upgrade
// command until its last one succeeds, and then reports the upgrade's version.
func (w *World) runUpgrade(ctx context.Context, host string, i int, cmd string, out steps.OutputFunc) error {
	cmds := w.inv.Upgrade.Commands
	w.lock()
	a := w.apps[host]
	budget := w.between(4*time.Second, 8*time.Second)
	total := 0.0
	for _, c := range cmds {
		total += classify(c).weight()
	}
	kind := classify(cmd)
	d := time.Duration(float64(budget) * kind.weight() / total)
	faultHost := host == w.firstProdApp()
	fail := faultHost && i == w.installIndex() && w.once(FaultUpgradeFail)
	drop := faultHost && i == min(1, len(cmds)-1) && w.once(FaultSSHDrop)
	a.down = true
	// onDisk is the version installed when the command starts.
	onDisk, newVersion := a.version, w.inv.Upgrade.Version
	if i > w.installIndex() || a.next > w.installIndex() {
		onDisk = newVersion
	}
	pid := 2000 + w.rng.IntN(6000)
	w.mu.Unlock()

	lines := w.upgradeLines(kind, cmd, host, onDisk, newVersion, pid)
	var err error
	switch {
	case fail:
		err = w.play(ctx, host, cmd, out, d/3, aptFailLines(pid))
		if err == nil {
			err = &steps.ExitError{Host: host, Command: cmd, Status: 100}
		}
	case drop:
		err = w.play(ctx, host, cmd, out, d/2, lines[:len(lines)/2])
		if err == nil {
			target := w.inv.Host(host).SSH
			return fmt.Errorf("run %q on %s (%s): %w: ssh: read: connection reset by peer after %d lines of output",
				cmd, host, target, steps.ErrConnectionLost, len(lines)/2)
		}
	default:
		err = w.play(ctx, host, cmd, out, d, lines)
	}
	w.lock()
	defer w.mu.Unlock()
	if err != nil {
		if i == 0 {
			a.down = false // the first command failed before it changed anything
		}
		return err
	}
	a.next = i + 1
	if i == len(cmds)-1 {
		a.down, a.version = false, newVersion
	}
	return nil
}

// upgradeLines is what an upgrade command prints.
func (w *World) upgradeLines(kind cmdKind, cmd, host, onDisk, newVersion string, pid int) []line {
	unit := unitName(cmd, w.inv.Name)
	svc := strings.TrimSuffix(unit, ".service")
	desc := unit + " - " + svc + " application server"
	serve := host
	if a := w.apps[host]; a != nil {
		serve = a.serve
	}
	stop := []line{
		stdout(0.05, "Stopping "+desc+"..."),
		stdout(0.25, fmt.Sprintf("%s[%d]: received SIGTERM, draining connections", svc, pid)),
		stdout(0.8, fmt.Sprintf("%s[%d]: all connections closed, exiting", svc, pid)),
		stdout(0.95, "Stopped "+desc+"."),
	}
	start := []line{
		stdout(0.05, "Starting "+desc+"..."),
		stdout(0.3, fmt.Sprintf("%s[%d]: %s %s starting", svc, pid+1, svc, onDisk)),
		stdout(0.6, fmt.Sprintf("%s[%d]: database pool ready (10 connections)", svc, pid+1)),
		stdout(0.85, fmt.Sprintf("%s[%d]: listening on %s", svc, pid+1, serve)),
		stdout(0.95, "Started "+desc+"."),
	}
	switch kind {
	case kindStop:
		return stop
	case kindStart:
		return start
	case kindRestart:
		var out []line
		for _, l := range stop {
			out = append(out, line{l.at / 2, l.stream, l.text})
		}
		for _, l := range start {
			out = append(out, line{0.5 + l.at/2, l.stream, l.text})
		}
		return out
	case kindInstall:
		return aptLines(packageName(cmd, w.inv.Name), newVersion, onDisk, w.inv.Name)
	}
	prog := progName(cmd)
	return []line{
		stdout(0.1, prog+": upgrading "+host+" to "+newVersion),
		stdout(0.6, prog+": files in place"),
		stdout(0.95, prog+": done"),
	}
}

// aptLines is what `apt-get install -y PKG=VERSION` prints when it upgrades PKG.
func aptLines(pkg, version, old, app string) []line {
	deb := fmt.Sprintf("%s_%s_amd64.deb", pkg, version)
	return []line{
		stdout(0.02, "Reading package lists..."),
		stdout(0.05, "Building dependency tree..."),
		stdout(0.08, "Reading state information..."),
		stdout(0.10, "The following packages will be upgraded:"),
		stdout(0.11, "  "+pkg),
		stdout(0.12, "1 upgraded, 0 newly installed, 0 to remove and 0 not upgraded."),
		stdout(0.13, "Need to get 18.4 MB of archives."),
		stdout(0.14, "After this operation, 1,126 kB of additional disk space will be used."),
		stdout(0.16, fmt.Sprintf("Get:1 https://apt.%s.internal bookworm/main amd64 %s amd64 %s [18.4 MB]", app, pkg, version)),
		stdout(0.42, "Fetched 18.4 MB in 2s (9,412 kB/s)"),
		stdout(0.48, "(Reading database ... 48213 files and directories currently installed.)"),
		stdout(0.52, "Preparing to unpack .../"+deb+" ..."),
		stdout(0.58, fmt.Sprintf("Unpacking %s (%s) over (%s) ...", pkg, version, old)),
		stdout(0.84, fmt.Sprintf("Setting up %s (%s) ...", pkg, version)),
		stdout(0.94, "Processing triggers for libc-bin (2.36-9+deb12u4) ..."),
	}
}

// aptFailLines is what apt-get prints when another process holds the dpkg lock; it exits 100.
func aptFailLines(pid int) []line {
	return []line{
		stdout(0.1, "Reading package lists..."),
		stderr(0.7, fmt.Sprintf("E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process %d (unattended-upgr)", pid)),
		stderr(0.75, "N: Be aware that removing the lock file is not a solution and may break your system."),
		stderr(0.8, "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?"),
	}
}

// runMigrate applies the pending demo migrations to the database of host's side.
func (w *World) runMigrate(ctx context.Context, host, cmd string, out steps.OutputFunc) error {
	prog := progName(cmd)
	w.lock()
	db := w.migrationTarget(host)
	cur := w.schema.base
	if n := w.dbs[db]; n != nil {
		cur = n.schema
	}
	target := w.schema.target()
	w.mu.Unlock()
	if err := w.clock.Sleep(ctx, w.randDuration(200*time.Millisecond, 500*time.Millisecond)); err != nil {
		return fmt.Errorf("run %q on %s: %w", cmd, host, err)
	}
	if cur >= target {
		out(steps.Stdout, fmt.Sprintf("%s: connected to %s, schema at %04d: no pending migrations", prog, db, cur))
		return nil
	}
	out(steps.Stdout, fmt.Sprintf("%s: connected to %s, schema at %04d, %d pending", prog, db, cur, target-cur))
	for n := cur + 1; n <= target; n++ {
		d := w.randDuration(700*time.Millisecond, 2*time.Second)
		if err := w.clock.Sleep(ctx, d); err != nil {
			return fmt.Errorf("run %q on %s: %w", cmd, host, err)
		}
		w.lock()
		err := w.applyMigration(db, n, int64(w.uniform(300<<10, 3<<20)))
		w.mu.Unlock()
		if err != nil {
			out(steps.Stdout, fmt.Sprintf("applying %s … failed", w.schema.name(n)))
			out(steps.Stderr, err.Error())
			out(steps.Stderr, fmt.Sprintf("%s: stopped at %04d; nothing after it was applied", prog, n-1))
			return &steps.ExitError{Host: host, Command: cmd, Status: 1}
		}
		out(steps.Stdout, fmt.Sprintf("applying %s … ok (%d ms)", w.schema.name(n), d.Milliseconds()))
	}
	out(steps.Stdout, fmt.Sprintf("%s: schema now at %04d", prog, target))
	return nil
}

// runRebuild runs rebuild command i on a database host: the server is down from the start of the
// first rebuild command until the last one finishes, then streams from production's primary.
func (w *World) runRebuild(ctx context.Context, host string, i int, cmd string, out steps.OutputFunc) error {
	last := i == len(w.inv.ReverseSync.Rebuild)-1
	w.lock()
	err := w.rebuildBegin(host)
	d := w.between(500*time.Millisecond, 1500*time.Millisecond)
	pid := 2000 + w.rng.IntN(6000)
	w.mu.Unlock()
	if err != nil {
		out(steps.Stderr, err.Error())
		return &steps.ExitError{Host: host, Command: cmd, Status: 1}
	}
	var lines []line
	switch {
	case strings.Contains(cmd, "pg_basebackup") || len(w.inv.ReverseSync.Rebuild) == 1:
		return w.runBasebackup(ctx, host, cmd, last, pid, out)
	case classify(cmd) == kindStop || classify(cmd) == kindStart || classify(cmd) == kindRestart:
		unit := unitName(cmd, "postgresql")
		desc := unit + " - PostgreSQL RDBMS"
		if classify(cmd) == kindStop {
			lines = []line{stdout(0.1, "Stopping "+desc+"..."), stdout(0.9, "Stopped "+desc+".")}
		} else {
			lines = []line{stdout(0.1, "Starting "+desc+"..."),
				stdout(0.6, fmt.Sprintf("postgres[%d]: LOG:  entering standby mode", pid)),
				stdout(0.8, fmt.Sprintf("postgres[%d]: LOG:  started streaming WAL from primary", pid)),
				stdout(0.95, "Started "+desc+".")}
		}
	}
	if err := w.play(ctx, host, cmd, out, d, lines); err != nil {
		return err
	}
	if last {
		return w.finishRebuild(host, cmd, out)
	}
	return nil
}

// runBasebackup prints pg_basebackup's progress while it copies production's primary.
func (w *World) runBasebackup(ctx context.Context, host, cmd string, last bool, pid int, out steps.OutputFunc) error {
	prod := w.inv.Sides.Production.Database
	w.lock()
	up := w.dbs[prod]
	ok := up != nil && up.role == rolePrimary
	var lsn int64
	if ok {
		lsn = up.lsn
	}
	size := 150000 + w.rng.IntN(100000) // kB
	d := w.between(6*time.Second, 10*time.Second)
	w.mu.Unlock()
	if !ok {
		out(steps.Stderr, fmt.Sprintf("pg_basebackup: error: connection to server on %s failed: it is not a running primary", prod))
		return &steps.ExitError{Host: host, Command: cmd, Status: 1}
	}
	lines := []line{
		stdout(0.01, "pg_basebackup: initiating base backup, waiting for checkpoint to complete"),
		stdout(0.05, "pg_basebackup: checkpoint completed"),
		stdout(0.06, fmt.Sprintf("pg_basebackup: write-ahead log start point: %s on timeline 1", formatLSN(lsn&^0xFF|0x28))),
		stdout(0.07, "pg_basebackup: starting background WAL receiver"),
		stdout(0.08, fmt.Sprintf("pg_basebackup: created temporary replication slot \"pg_basebackup_%d\"", pid)),
	}
	for k := 1; k <= 8; k++ {
		done := size * k / 8
		lines = append(lines, stdout(0.08+0.1*float64(k), fmt.Sprintf("%*d/%d kB (%d%%), %d/1 tablespace",
			len(fmt.Sprint(size)), done, size, 100*done/size, k/8)))
	}
	if err := w.play(ctx, host, cmd, out, d, lines); err != nil {
		return err
	}
	w.lock()
	end := up.lsn
	w.mu.Unlock()
	for _, l := range []string{
		"pg_basebackup: write-ahead log end point: " + formatLSN(end),
		"pg_basebackup: waiting for background process to finish streaming ...",
		"pg_basebackup: syncing data to disk ...",
		"pg_basebackup: renaming backup_manifest.tmp to backup_manifest",
		"pg_basebackup: base backup completed",
	} {
		out(steps.Stdout, l)
	}
	if last {
		return w.finishRebuild(host, cmd, out)
	}
	return nil
}

// finishRebuild makes host a streaming standby once its last rebuild command is done.
func (w *World) finishRebuild(host, cmd string, out steps.OutputFunc) error {
	w.lock()
	err := w.rebuildEnd(host)
	w.mu.Unlock()
	if err != nil {
		out(steps.Stderr, err.Error())
		return &steps.ExitError{Host: host, Command: cmd, Status: 1}
	}
	return nil
}

// unitName finds the systemd unit a systemctl or service command acts on, with ".service" added.
func unitName(cmd, fallback string) string {
	f := strings.Fields(cmd)
	for i, a := range f {
		switch path.Base(a) {
		case "systemctl":
			for _, v := range f[i+1:] {
				if !strings.HasPrefix(v, "-") && !isVerb(v) {
					return withService(v)
				}
			}
		case "service":
			if i+1 < len(f) {
				return withService(f[i+1])
			}
		}
	}
	return withService(fallback)
}

func isVerb(s string) bool {
	switch s {
	case "stop", "start", "restart", "reload", "reload-or-restart", "try-restart", "status", "enable", "disable":
		return true
	}
	return false
}

func withService(u string) string {
	if strings.Contains(u, ".") {
		return u
	}
	return u + ".service"
}

// packageName finds the package an install command installs, without any =version.
func packageName(cmd, fallback string) string {
	f := strings.Fields(cmd)
	for i, a := range f {
		if a != "install" {
			continue
		}
		for _, p := range f[i+1:] {
			if !strings.HasPrefix(p, "-") {
				name, _, _ := strings.Cut(strings.Trim(p, `'"`), "=")
				return name
			}
		}
	}
	return fallback
}

// progName is the program a command runs, past sudo, env and their options.
func progName(cmd string) string {
	f := strings.Fields(cmd)
	for i := 0; i < len(f); i++ {
		a := f[i]
		switch {
		case a == "sudo" || a == "env" || a == "exec" || a == "nice":
		case a == "-u" || a == "-g" || a == "-C":
			i++ // the option's argument
		case strings.HasPrefix(a, "-") || strings.Contains(a, "="):
		default:
			return path.Base(a)
		}
	}
	return "command"
}
