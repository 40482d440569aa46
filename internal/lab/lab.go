// Package lab runs Pitstop's local lab: real nginx, a PostgreSQL 15 primary and streaming standby,
// and the demo application (v1) on both sides, all as ordinary processes on loopback addresses under
// one directory, plus an inventory that upgrades the application to v2. Operators rehearse an upgrade
// on it with `pitstop run -i DIR/inventory.yaml`; with SSH every command goes through a real sshd.
// It also holds the simulated users the lab is measured with (StartLoad) and `pitstop lab bench`,
// which compares what they see during an upgrade with and without Pitstop.
//
// The lab is for rehearsal only: PostgreSQL trusts every loopback client without a password.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pitstop-ops/pitstop/demo/app"
	"github.com/pitstop-ops/pitstop/inventory"
)

// Errors callers can branch on.
var (
	// ErrPortBusy is wrapped when a port the lab needs is taken.
	ErrPortBusy = errors.New("port in use")
	// ErrMissingProgram is wrapped when a program the lab runs is not installed.
	ErrMissingProgram = errors.New("program missing")
	// ErrRunning is wrapped when Up finds a lab already running in the directory.
	ErrRunning = errors.New("lab already running")
	// ErrNotLab is wrapped when Up is pointed at a non-empty directory that holds no lab.
	ErrNotLab = errors.New("not a lab directory")
)

// DefaultPortBase is the first port of the lab's range.
const DefaultPortBase = 16000

// DefaultDir is where the lab lives when no directory is given.
func DefaultDir() string { return filepath.Join(os.TempDir(), "pitstop-lab") }

// Options configure Up.
type Options struct {
	// Dir holds everything of the lab (DefaultDir when empty). It must be empty, missing, or hold a
	// stopped lab, which Up replaces.
	Dir string
	// PortBase is the first port (DefaultPortBase when 0): nginx on base, sshd on base+22, PostgreSQL
	// on base+32 and base+33, the applications on base+80.
	PortBase int
	// SSH runs an sshd on 127.0.0.1:base+22 and makes the inventory reach every host through it.
	SSH bool
	// Pitstop is the pitstop binary the lab's processes and commands run (`pitstop lab app`, `pitstop
	// lab migrate`); the running executable when empty.
	Pitstop string
	// PGBin holds PostgreSQL's programs (DefaultPGBin when empty).
	PGBin string
	// MigrateHold, when set, makes the inventory's migration rewrite the items table and hold its
	// ACCESS EXCLUSIVE lock this long: a slow migration to rehearse and benchmark.
	MigrateHold time.Duration
	// Progress, when set, receives one line per step Up takes, with its duration.
	Progress io.Writer
	// Variant runs the application as another kind of app: app.VariantJSON reports its version only
	// in the JSON of GET /status and refuses writes with a plain-text 503; the inventory reads it so.
	Variant string
}

// safePath is what the lab accepts in its directory: the path goes into nginx, sshd and PostgreSQL
// configuration files and shell scripts, none of which need quoting then.
var safePath = regexp.MustCompile(`^[A-Za-z0-9/._+-]+$`)

// Up starts a lab in opt.Dir and returns its status. On failure it stops whatever it started and
// returns an error that names the step, the program and its log.
func Up(ctx context.Context, opt Options) (*Report, error) {
	l, err := newLayout(opt)
	if err != nil {
		return nil, err
	}
	if err := checkPrograms(l); err != nil {
		return nil, err
	}
	wipe, err := claimDir(l)
	if err != nil {
		return nil, err
	}
	// Ports before wiping: a busy port leaves an old lab's files (and logs) as they were.
	if err := checkPorts(l); err != nil {
		return nil, err
	}
	if err := wipe(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = stopAll(l)
		}
	}()
	if err := build(ctx, l, opt.Progress); err != nil {
		return nil, fmt.Errorf("lab up in %s: %w", l.Dir, err)
	}
	ok = true
	return Status(l.Dir)
}

func newLayout(opt Options) (*layout, error) {
	if opt.Dir == "" {
		opt.Dir = DefaultDir()
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("lab directory %s: %w", opt.Dir, err)
	}
	if !safePath.MatchString(dir) {
		return nil, fmt.Errorf("lab directory %q: use only letters, digits and / . _ + - in its path", dir)
	}
	// A unix socket path holds at most 107 bytes: DIR/run/pg-db-backup/.s.PGSQL.NNNNN must fit.
	if len(dir) > 107-len("/run/pg-db-backup/.s.PGSQL.16033") {
		return nil, fmt.Errorf("lab directory %s is too long for PostgreSQL's unix sockets; choose a shorter path", dir)
	}
	if opt.PortBase == 0 {
		opt.PortBase = DefaultPortBase
	}
	if opt.PortBase < 1024 || opt.PortBase+offApp > 32767 {
		return nil, fmt.Errorf("port base %d: choose one from 1024 to %d (the lab uses base … base+%d, below the ephemeral range)", opt.PortBase, 32767-offApp, offApp)
	}
	if opt.Pitstop == "" {
		if opt.Pitstop, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the pitstop binary for the lab's processes: %w; pass its path", err)
		}
	}
	if opt.Pitstop, err = filepath.Abs(opt.Pitstop); err != nil {
		return nil, err
	}
	if opt.PGBin == "" {
		opt.PGBin = DefaultPGBin
	}
	if opt.Variant != "" && opt.Variant != app.VariantJSON {
		return nil, fmt.Errorf("application variant %q: leave it empty or use %q", opt.Variant, app.VariantJSON)
	}
	return &layout{Dir: dir, state: state{PortBase: opt.PortBase, SSH: opt.SSH, Pitstop: opt.Pitstop, PGBin: opt.PGBin, Variant: opt.Variant, MigrateHold: opt.MigrateHold}}, nil
}

// checkPrograms makes sure every program the lab runs is installed.
func checkPrograms(l *layout) error {
	type prog struct{ path, pkg string }
	progs := []prog{
		{filepath.Join(l.PGBin, "initdb"), "postgresql-15"},
		{filepath.Join(l.PGBin, "pg_ctl"), "postgresql-15"},
		{filepath.Join(l.PGBin, "pg_basebackup"), "postgresql-15"},
		{filepath.Join(l.PGBin, "psql"), "postgresql-client-15"},
		{nginxBin(), "nginx-light"},
		{"bash", "bash"},
		{"setsid", "util-linux"},
	}
	if os.Geteuid() == 0 {
		progs = append(progs, prog{"runuser", "util-linux"})
	}
	if l.SSH {
		progs = append(progs, prog{sshdBin, "openssh-server"}, prog{"ssh-keygen", "openssh-client"})
	}
	for _, p := range progs {
		if _, err := exec.LookPath(p.path); err != nil {
			return fmt.Errorf("%w: %s is not installed (%v): install it with \"apt-get install -y %s\"", ErrMissingProgram, p.path, err, p.pkg)
		}
	}
	if _, err := os.Stat(l.Pitstop); err != nil {
		return fmt.Errorf("%w: the pitstop binary %s: %v", ErrMissingProgram, l.Pitstop, err)
	}
	if os.Geteuid() == 0 {
		if _, _, err := postgresIDs(); err != nil {
			return err
		}
	}
	return nil
}

// claimDir makes sure Dir is free for a new lab: missing, empty, or holding a stopped lab. It refuses
// a directory with a running lab or with files that are not a lab's. The returned func prepares the
// directory: it removes a stopped lab's files and creates the lab's directories.
func claimDir(l *layout) (func() error, error) {
	prepare := func() error { return mkdirs(l) }
	entries, err := os.ReadDir(l.Dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return prepare, nil
	case err != nil:
		return nil, fmt.Errorf("lab directory %s: %w", l.Dir, err)
	case len(entries) == 0:
		return prepare, nil
	}
	old, err := loadLayout(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not empty and holds no lab (no %s); choose an empty or new directory", ErrNotLab, l.Dir, stateFile)
	}
	if st, err := statusOf(old); err == nil && st.Running() > 0 {
		return nil, fmt.Errorf("%w in %s (%d processes): stop it first with \"pitstop lab down --dir %s\"", ErrRunning, l.Dir, st.Running(), l.Dir)
	}
	return func() error {
		for _, name := range []string{"run", "logs", "bin", "pg", "nginx", "ssh", "inventory.yaml", stateFile} {
			if err := os.RemoveAll(filepath.Join(l.Dir, name)); err != nil {
				return fmt.Errorf("remove the old lab's %s: %w", filepath.Join(l.Dir, name), err)
			}
		}
		return mkdirs(l)
	}, nil
}

// mkdirs creates the lab's directories. Each is mode 0755, the lab directory's missing parents too, so
// the postgres user can reach its data directory.
func mkdirs(l *layout) error {
	var missing []string
	for d := l.Dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	dirs := append(missing, l.runDir(), l.logDir(), l.binDir(), l.pgDir(), filepath.Join(l.pgDir(), "conf"), l.nginxDir())
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("chmod %s: %w", d, err)
		}
	}
	if os.Geteuid() == 0 {
		if err := chownPostgres(l.pgDir()); err != nil {
			return err
		}
		// A parent the lab did not create may still shut postgres out (/root is 0700).
		if out, err := exec.Command("runuser", "-u", "postgres", "--", "test", "-w", l.pgDir()).CombinedOutput(); err != nil {
			return fmt.Errorf("user postgres cannot write %s (%v %s): a parent directory is not traversable by others; choose a directory under /tmp or chmod o+x its parents", l.pgDir(), err, out)
		}
	}
	return nil
}

// checkPorts fails with ErrPortBusy naming the first port the lab needs that is taken.
func checkPorts(l *layout) error {
	for _, e := range l.endpoints() {
		if err := checkFree(e.addr, e.what); err != nil {
			return err
		}
	}
	return nil
}

// endpoint is one address the lab listens on.
type endpoint struct{ addr, what string }

func (l *layout) endpoints() []endpoint {
	eps := []endpoint{
		{l.balancerAddr(), "balancer (nginx)"},
		{l.appAddr(hostAppProd), "production app " + hostAppProd},
		{l.appAddr(hostAppBack), "backup app " + hostAppBack},
		{l.primary().HostPort(), "primary PostgreSQL " + hostDBProd},
		{l.standby().HostPort(), "standby PostgreSQL " + hostDBBack},
		{l.rehearsalCopy().HostPort(), "rehearsal copy on " + hostDBRehearse},
		{l.appAddr(hostAppRehearse), "rehearsal app " + hostAppRehearse},
	}
	if l.SSH {
		eps = append(eps, endpoint{l.sshAddr(), "lab sshd"})
	}
	return eps
}

// build starts the lab's processes in order and writes its inventory.
func build(ctx context.Context, l *layout, progress io.Writer) error {
	if err := installPitstop(l); err != nil {
		return err
	}
	l.Started = time.Now().UTC().Truncate(time.Second)
	if err := l.saveState(); err != nil {
		return err
	}
	primary, standby := l.primary(), l.standby()
	inv := l.inventory()
	steps := []struct {
		what string
		do   func() error
	}{
		{"initdb " + primary.Name, func() error { return primary.InitPrimary(ctx) }},
		{"start primary " + primary.Name + " on " + primary.HostPort(), func() error { return primary.Start(ctx) }},
		{"create role and database " + dbName, func() error { return createDatabase(ctx, primary) }},
		{"clone standby " + standby.Name + " (pg_basebackup)", func() error { return standby.CloneFrom(ctx, primary, standbyAppName) }},
		{"start standby " + standby.Name + " on " + standby.HostPort(), func() error { return standby.Start(ctx) }},
		{"wait until the standby streams", func() error { return waitStreaming(ctx, primary, standbyAppName, 15*time.Second) }},
		{"write " + l.binDir() + "/appctl and rebuild-standby", func() error { return writeScripts(l) }},
		// Production first: it creates the schema the standby then receives.
		{"start " + hostAppProd + " v1 on " + l.appAddr(hostAppProd), func() error { return startApp(ctx, l, hostAppProd, "v1") }},
		{"start " + hostAppBack + " v1 on " + l.appAddr(hostAppBack), func() error { return startApp(ctx, l, hostAppBack, "v1") }},
		{"start nginx on " + l.balancerAddr(), func() error { return startNginx(ctx, l, inv.Upstream(inventory.Production)) }},
	}
	if l.SSH {
		steps = append(steps, struct {
			what string
			do   func() error
		}{"start sshd on " + l.sshAddr(), func() error { return startSSH(ctx, l) }})
	}
	steps = append(steps, struct {
		what string
		do   func() error
	}{"write " + l.inventoryFile(), func() error { return writeInventory(l, inv) }})
	for _, s := range steps {
		start := time.Now()
		if err := s.do(); err != nil {
			return err
		}
		if progress != nil {
			fmt.Fprintf(progress, "  %-60s %5.2fs\n", s.what, time.Since(start).Seconds())
		}
	}
	return nil
}

// installPitstop copies the pitstop binary to DIR/bin/pitstop, which the lab's apps, appctl and the
// inventory's migration then run: the binary that started the lab may be gone by the upgrade (`go
// run` deletes its build when it exits, a rebuild replaces it). When the running binary is the one
// being copied, it is read through /proc/self/exe, which stays readable even if a previous lab's
// bin/ (which held it) was removed.
func installPitstop(l *layout) error {
	dst := filepath.Join(l.binDir(), "pitstop")
	src := l.Pitstop
	if self, err := os.Executable(); err == nil && self == src {
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			src = "/proc/self/exe"
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy the pitstop binary %s to %s: %w", l.Pitstop, dst, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("copy the pitstop binary to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy the pitstop binary %s to %s: %w", l.Pitstop, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy the pitstop binary to %s: %w", dst, err)
	}
	l.Pitstop = dst
	return nil
}

// writeInventory writes DIR/inventory.yaml and checks that Pitstop loads it.
func writeInventory(l *layout, inv *inventory.Inventory) error {
	yaml, err := renderInventory(l, inv)
	if err != nil {
		return fmt.Errorf("render the inventory: %w", err)
	}
	if err := writeFile(l.inventoryFile(), []byte(yaml), 0o644); err != nil {
		return err
	}
	if _, err := inventory.Load(l.inventoryFile()); err != nil {
		return fmt.Errorf("the lab's own inventory does not load (a bug in pitstop lab): %w", err)
	}
	return nil
}

// createDatabase creates the application's role and database on the primary.
func createDatabase(ctx context.Context, p *Postgres) error {
	c, err := p.Connect(ctx, "postgres", "postgres")
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	for _, q := range []string{
		"CREATE ROLE " + appRole + " LOGIN",
		"CREATE DATABASE " + dbName + " OWNER " + appRole,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s on %s: %w", q, p.HostPort(), err)
		}
	}
	return nil
}

// Down stops every process of the lab in dir (applications, nginx, sshd, then both PostgreSQL servers)
// and checks that none of its ports is still listening. Files stay for inspection; the next Up
// replaces them. Calling it on a stopped lab does nothing.
func Down(dir string) error {
	l, err := loadLayout(dir)
	if err != nil {
		return err
	}
	if err := stopAll(l); err != nil {
		return err
	}
	var busy []string
	for _, e := range l.endpoints() {
		if !listening(e.addr) {
			continue
		}
		// A process of this lab whose pid file is missing (it died with the lab half started, or a
		// daemon had not written it yet): every one has the lab directory on its command line.
		if pid := listenerPID(e.addr); pid > 0 && strings.Contains(cmdline(pid), l.Dir+"/") {
			if err := stopPID(pid, l.Dir+"/", syscall.SIGTERM, 8*time.Second); err == nil && waitClosed(e.addr, 2*time.Second) {
				continue
			}
		}
		busy = append(busy, fmt.Sprintf("%s (%s)", e.addr, e.what))
	}
	if len(busy) > 0 {
		return fmt.Errorf("lab down in %s: stopped every process it started, but still listening: %v; something else holds these ports", l.Dir, busy)
	}
	return nil
}

// stopAll stops what the lab started, each by its pid file, and returns every failure together.
func stopAll(l *layout) error {
	var mu sync.Mutex
	var errs []error
	add := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	stopFile := func(file, want string) {
		pid, err := readPID(file)
		if err != nil || pid == 0 {
			add(err)
			return
		}
		add(stopPID(pid, want, syscall.SIGTERM, 8*time.Second))
	}
	var wg sync.WaitGroup
	for _, h := range []string{hostAppProd, hostAppBack, hostAppRehearse} {
		wg.Go(func() { stopFile(l.pidFile(h), "--instance "+h) })
	}
	wg.Go(func() { stopFile(l.nginxPID(), "nginx") })
	wg.Go(func() { stopFile(l.pidFile("sshd"), "sshd") })
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A rehearsal's copy that was left running (its pitstop killed) goes first.
	for _, p := range []*Postgres{l.rehearsalCopy(), l.standby(), l.primary()} {
		add(p.Stop(ctx))
	}
	return errors.Join(errs...)
}
