package lab

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pitstop-ops/pitstop/demo/app"
	"github.com/pitstop-ops/pitstop/internal/flagusage"
	"github.com/pitstop-ops/pitstop/steps"
)

// ErrUsage is wrapped by Main's errors about the command line itself: no or an unknown subcommand, a
// bad flag, a flag value out of range, a stray argument. Nothing was started then; pitstop exits 2.
var ErrUsage = errors.New("bad command line")

// usageError is an error of the command line; it matches ErrUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

const labUsage = `Usage: pitstop lab SUBCOMMAND [flags]

A real local lab on loopback to rehearse on: nginx, the demo application on a production and a backup
side, a PostgreSQL 15 primary and its streaming standby, and an inventory for them.

Subcommands:
  up      start a lab (--dir DIR, --ssh, --port-base N) and write DIR/inventory.yaml
  down    stop the lab in --dir; its files stay for inspection
  status  show what runs in the lab: pid, address, version, database role
  bench   measure what users see during an upgrade with and without Pitstop (--startup: how long up and down take)

pitstop lab SUBCOMMAND --help shows its flags.
`

// Main runs `pitstop lab SUBCOMMAND [flags]`: up, down, status and bench for operators, and the hidden
// app and migrate that the lab's processes and inventory call. args starts with the subcommand. Help
// (-h, --help, help [SUBCOMMAND]) goes to stdout; Main then returns nil, or flag.ErrHelp for a
// subcommand's flags. Errors about the command line wrap ErrUsage and are found before anything starts.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return usagef("pitstop lab: say what to do: up, down, status or bench")
	}
	switch args[0] {
	case "-h", "--help", "help":
		if args[0] == "help" && len(args) > 1 {
			return Main(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, labUsage)
		return nil
	case "up":
		return upMain(ctx, args[1:], stdout)
	case "down", "status":
		return downStatusMain(args[0], args[1:], stdout)
	case "bench":
		return benchMain(ctx, args[1:], stdout)
	case "app":
		return AppMain(ctx, args[1:], stderr)
	case "migrate":
		return MigrateMain(ctx, args[1:], stdout)
	}
	return usagef("pitstop lab: unknown subcommand %q: use up, down, status or bench (see pitstop lab --help)", args[0])
}

// newFlagSet is the flag set of `pitstop lab NAME`; its usage shows synopsis, about and the flags.
func newFlagSet(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("pitstop lab "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s\n\n%s\n\nFlags:\n", fs.Name(), synopsis, about)
		flagusage.Print(fs.Output(), fs)
	}
	return fs
}

// parseFlags parses a subcommand's flags. Asked for with -h or --help, it prints the usage to help
// and returns flag.ErrHelp; a bad flag or a stray argument is an ErrUsage error naming the subcommand.
func parseFlags(fs *flag.FlagSet, args []string, help io.Writer) error {
	var msg bytes.Buffer // the flag package's own message, replaced by one error below
	fs.SetOutput(&msg)
	err := fs.Parse(args)
	fs.SetOutput(help)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return flag.ErrHelp
	case err != nil:
		return usagef("%s: %v (see %s --help)", fs.Name(), err, fs.Name())
	case fs.NArg() > 0:
		return usagef("%s: unexpected argument %q (see %s --help)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

// checkOptions finds what Up would reject in opt's directory and port base before anything starts.
func checkOptions(opt Options) error {
	if opt.PortBase <= 0 { // Up takes 0 as the default; on the command line it is a mistake
		return fmt.Errorf("port base %d: choose one from 1024 to %d", opt.PortBase, 32767-offApp)
	}
	if opt.MigrateHold < 0 {
		return fmt.Errorf("--migrate-hold %s: give 0 or a positive duration", opt.MigrateHold)
	}
	if opt.Pitstop == "" {
		opt.Pitstop = "pitstop" // only the options are checked here; Up finds the running binary
	}
	_, err := newLayout(opt)
	return err
}

func upMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("up", "[--dir DIR] [--ssh] [--port-base N] [--variant json]",
		"Start a lab in DIR and write DIR/inventory.yaml; rehearse with pitstop run -i DIR/inventory.yaml.")
	var opt Options
	fs.StringVar(&opt.Dir, "dir", DefaultDir(), "the lab's directory (created; must be empty or hold an old lab)")
	fs.BoolVar(&opt.SSH, "ssh", false, "run an sshd on loopback and reach every lab host through it")
	fs.IntVar(&opt.PortBase, "port-base", DefaultPortBase, fmt.Sprintf("first port of the lab's range (uses base … base+%d)", offApp))
	fs.DurationVar(&opt.MigrateHold, "migrate-hold", 0, "make the inventory's migration rewrite items and hold its lock this long (a slow migration to rehearse)")
	fs.StringVar(&opt.Variant, "variant", "", "run another kind of application: \"json\" says its version only in GET /status's JSON and refuses writes with a plain-text 503")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := checkOptions(opt); err != nil {
		return usagef("pitstop lab up: %v", err)
	}
	start := time.Now()
	opt.Progress = stdout
	fmt.Fprintf(stdout, "starting the lab in %s\n", opt.Dir)
	st, err := Up(ctx, opt)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, st)
	fmt.Fprintf(stdout, "\nlab up in %.1fs. Rehearse with:\n  pitstop run -i %s\nTry the migration on a copy of the database first with:\n  pitstop rehearse -i %s\nStop it with:\n  pitstop lab down --dir %s\n",
		time.Since(start).Seconds(), st.Inventory, st.Inventory, st.Dir)
	return nil
}

// downStatusMain runs `pitstop lab down` or `pitstop lab status`.
func downStatusMain(cmd string, args []string, stdout io.Writer) error {
	about := "Stop every process of the lab in DIR; its files and logs stay."
	if cmd == "status" {
		about = "Show what runs in the lab in DIR: pid, address, version and database role."
	}
	fs := newFlagSet(cmd, "[--dir DIR]", about)
	dir := fs.String("dir", DefaultDir(), "the lab's directory")
	fs.Bool("ssh", false, "ignored: the lab remembers whether it runs an sshd")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if cmd == "down" {
		if err := Down(*dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "lab in %s stopped\n", *dir)
		return nil
	}
	st, err := Status(*dir)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, st)
	return nil
}

// benchMain runs `pitstop lab bench`: by default the downtime benchmark (naive procedure against the
// readonly plan under load, on one lab); with --startup, how long the lab takes to start and stop.
// It checks every flag before a lab starts.
func benchMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("bench", "[--dir DIR] [--ssh] [--startup [--runs N]] [flags]",
		"Measure what users see during an upgrade: the naive procedure, then the readonly plan, under the same load,\n"+
			"on one lab (in a scratch directory unless --dir). With --startup, time lab up and down instead.")
	var opt BenchOptions
	fs.StringVar(&opt.Dir, "dir", "", "the lab's directory (default: a scratch directory, removed afterwards)")
	fs.IntVar(&opt.PortBase, "port-base", DefaultPortBase, "first port of the lab's range")
	fs.BoolVar(&opt.SSH, "ssh", false, "run every command through the lab's sshd")
	fs.DurationVar(&opt.UpgradeSleep, "upgrade-sleep", 0, "make each upgrade take this long with the app stopped (both procedures)")
	fs.DurationVar(&opt.MigrateHold, "migrate-hold", 0, "make the migration rewrite items and hold its lock this long (both procedures)")
	fs.IntVar(&opt.Load.ReadRate, "rate", 200, "reads per second through the balancer")
	fs.IntVar(&opt.Load.Readers, "readers", 8, "concurrent readers")
	fs.DurationVar(&opt.Load.WriteEvery, "write-every", 50*time.Millisecond, "time between two writes")
	fs.BoolVar(&opt.Load.FreshReads, "fresh-reads", false, "a new connection per read (default: keep-alive)")
	fs.BoolVar(&opt.Load.KeepAliveWrites, "keepalive-writes", false, "reuse connections for writes (default: a new one per write)")
	fs.DurationVar(&opt.Settle, "settle", 2*time.Second, "load before and after each procedure")
	fs.StringVar(&opt.Plan, "plan", steps.PlanReadonly, "the plan Pitstop runs: "+strings.Join(steps.PlanNames(), " or "))
	fs.DurationVar(&opt.VerifyWindow, "verify-window", 0, "experiment: use this window for the plan's verify-traffic conditions instead of the built-in one")
	timeline := fs.Bool("timeline", false, "print each run's per-second timeline")
	verbose := fs.Bool("v", false, "print every event of the engine")
	startup := fs.Bool("startup", false, "measure lab up and down instead (with --runs)")
	runs := fs.Int("runs", 3, "with --startup: how many times to bring the lab up and down")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	labOpt := Options{Dir: opt.Dir, PortBase: opt.PortBase, SSH: opt.SSH, MigrateHold: opt.MigrateHold}
	if err := checkBenchFlags(labOpt, opt, *runs); err != nil {
		return usagef("pitstop lab bench: %v", err)
	}
	if *startup {
		return startupBench(ctx, labOpt, *runs, stdout)
	}
	opt.Out = stdout
	if *verbose {
		opt.Events = stdout
	}
	res, err := Bench(ctx, opt)
	if res != nil {
		fmt.Fprintln(stdout)
		res.WriteTable(stdout)
		if *timeline {
			for _, p := range []*Procedure{&res.Naive, &res.Script, &res.Pitstop} {
				fmt.Fprintf(stdout, "\n%s, per second:\n", p.Name)
				p.Load.WriteTimeline(stdout)
			}
		}
	}
	return err
}

// checkBenchFlags rejects the values of `pitstop lab bench` that Bench would silently replace with
// its defaults or could not use.
func checkBenchFlags(labOpt Options, opt BenchOptions, runs int) error {
	if err := checkOptions(labOpt); err != nil {
		return err
	}
	switch {
	case opt.Load.ReadRate < 1:
		return fmt.Errorf("--rate %d: give the reads per second, 1 or more", opt.Load.ReadRate)
	case opt.Load.Readers < 1:
		return fmt.Errorf("--readers %d: give how many reads may be in flight at once, 1 or more", opt.Load.Readers)
	case opt.Load.WriteEvery <= 0:
		return fmt.Errorf("--write-every %s: give a positive time between two writes, e.g. 50ms", opt.Load.WriteEvery)
	case opt.Settle <= 0:
		return fmt.Errorf("--settle %s: give a positive time to run the load before and after each procedure, e.g. 2s", opt.Settle)
	case opt.MigrateHold < 0:
		return fmt.Errorf("--migrate-hold %s: give 0 or a positive duration", opt.MigrateHold)
	case opt.UpgradeSleep < 0:
		return fmt.Errorf("--upgrade-sleep %s: give 0 or a positive duration", opt.UpgradeSleep)
	case opt.VerifyWindow < 0:
		return fmt.Errorf("--verify-window %s: give 0 (the plan's own window) or a positive duration", opt.VerifyWindow)
	case !slices.Contains(steps.PlanNames(), opt.Plan):
		return fmt.Errorf("--plan %q: choose one of %s", opt.Plan, strings.Join(steps.PlanNames(), ", "))
	case runs < 1:
		return fmt.Errorf("--runs %d: give how many times to bring the lab up and down, 1 or more", runs)
	}
	return nil
}

// AppMain runs one instance of the demo application from command-line arguments (the hidden
// `pitstop lab app` subcommand): --version, --listen, --db, --instance, and optionally --pid-file,
// which holds the process id while it runs. It returns after SIGINT or SIGTERM once requests in
// flight have finished.
func AppMain(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("app", "--version V --listen HOST:PORT --db CONN --instance NAME [--pid-file FILE]",
		"Serve one instance of the demo application (the lab's processes run this).")
	var cfg app.Config
	fs.StringVar(&cfg.Version, "version", "v1", "application version: "+strings.Join(app.Versions, " or "))
	fs.StringVar(&cfg.Listen, "listen", "", "host:port to serve on")
	fs.StringVar(&cfg.DB, "db", "", "libpq connection string of the database")
	fs.StringVar(&cfg.Instance, "instance", "", "instance name (X-App-Instance)")
	pidFile := fs.String("pid-file", "", "file to hold the process id while serving")
	fs.StringVar(&cfg.Variant, "variant", "", "serve as another kind of app: \"json\" says its version only in GET /status's JSON and refuses writes with a plain-text 503")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg.Logger = log.New(stderr, cfg.Instance+" ", log.LstdFlags|log.Lmsgprefix)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *pidFile != "" {
		pid := strconv.Itoa(os.Getpid())
		if err := writeFile(*pidFile, []byte(pid+"\n"), 0o644); err != nil {
			return err
		}
		defer func() {
			// A newer instance may have written its own pid meanwhile; leave that alone.
			if b, err := os.ReadFile(*pidFile); err == nil && strings.TrimSpace(string(b)) == pid {
				os.Remove(*pidFile)
			}
		}()
	}
	return app.Run(ctx, cfg)
}

// MigrateMain applies the demo application's v2 migration (the hidden `pitstop lab migrate --db CONN`).
func MigrateMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("migrate", "--db CONN", "Apply the demo application's v2 migration (the lab's inventory runs this).")
	db := fs.String("db", "", "libpq connection string of the primary")
	hold := fs.Duration("hold", 0, "then rewrite items and hold its ACCESS EXCLUSIVE lock this long: a slow migration")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *hold < 0 {
		return usagef("pitstop lab migrate: --hold %s: give 0 or a positive duration", *hold)
	}
	if *db == "" {
		return usagef("pitstop lab migrate: --db is required (the primary's connection string)")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := app.Migrate(ctx, *db); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migration applied: items.note exists; v1 and v2 can both run")
	if *hold > 0 {
		if err := slowRewrite(ctx, *db, *hold); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "items rewritten, its ACCESS EXCLUSIVE lock held %s\n", *hold)
	}
	return nil
}

// startupBench measures how long the lab takes to start and stop (`pitstop lab bench --startup`): it
// brings a lab up and down runs times, in opt.Dir or a scratch directory, and prints each step's time
// and the totals.
func startupBench(ctx context.Context, opt Options, runs int, stdout io.Writer) error {
	if runs < 1 {
		return fmt.Errorf("lab bench: --runs is %d; give at least 1", runs)
	}
	if opt.Dir == "" {
		scratch, err := os.MkdirTemp("", "pitstop-lab-bench-")
		if err != nil {
			return fmt.Errorf("lab bench: %w", err)
		}
		defer os.RemoveAll(scratch)
		if err := os.Chmod(scratch, 0o755); err != nil { // the postgres user must reach the data directories
			return fmt.Errorf("lab bench: %w", err)
		}
		opt.Dir = scratch + "/lab"
	}
	var ups, downs []time.Duration
	for i := range runs {
		if i == 0 {
			opt.Progress = stdout
		} else {
			opt.Progress = nil
		}
		start := time.Now()
		_, err := Up(ctx, opt)
		up := time.Since(start)
		if err != nil {
			return fmt.Errorf("lab bench, run %d: %w", i+1, err)
		}
		start = time.Now()
		if err := Down(opt.Dir); err != nil {
			return fmt.Errorf("lab bench, run %d: %w", i+1, err)
		}
		down := time.Since(start)
		ups, downs = append(ups, up), append(downs, down)
		fmt.Fprintf(stdout, "run %d: up %.2fs, down %.2fs\n", i+1, up.Seconds(), down.Seconds())
	}
	fmt.Fprintf(stdout, "up:   min %.2fs  max %.2fs\ndown: min %.2fs  max %.2fs\n",
		slices.Min(ups).Seconds(), slices.Max(ups).Seconds(), slices.Min(downs).Seconds(), slices.Max(downs).Seconds())
	return nil
}

// StandIn lets a test binary stand in for the pitstop binary. The lab starts its applications as
// `PITSTOP lab app …`, its inventory migrates with `PITSTOP lab migrate …`, and Options.Pitstop
// defaults to the running executable, which in a test is the test binary. Call it first in TestMain:
// when the process was started as `… lab ARGS`, it runs lab.Main and exits.
func StandIn() {
	if len(os.Args) < 2 || os.Args[1] != "lab" {
		return
	}
	err := Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, ErrUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
