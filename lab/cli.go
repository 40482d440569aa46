package lab

import (
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
)

// Main runs `pitstop lab SUBCOMMAND [flags]`: up, down and status for operators, and the hidden app
// and migrate that the lab's processes and inventory call. args starts with the subcommand.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("pitstop lab: say what to do: up, down or status (see pitstop lab up -h)")
	}
	switch args[0] {
	case "up":
		return upMain(ctx, args[1:], stdout, stderr)
	case "down", "status":
		fs := flag.NewFlagSet("pitstop lab "+args[0], flag.ContinueOnError)
		fs.SetOutput(stderr)
		dir := fs.String("dir", DefaultDir(), "the lab's directory")
		fs.Bool("ssh", false, "ignored: the lab remembers whether it runs an sshd")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if args[0] == "down" {
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
	case "bench":
		return BenchMain(ctx, args[1:], stdout, stderr)
	case "app":
		return AppMain(ctx, args[1:], stderr)
	case "migrate":
		return MigrateMain(ctx, args[1:], stdout)
	}
	return fmt.Errorf("pitstop lab: unknown subcommand %q: use up, down, status or bench", args[0])
}

func upMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pitstop lab up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opt Options
	fs.StringVar(&opt.Dir, "dir", DefaultDir(), "the lab's directory (created; must be empty or hold an old lab)")
	fs.BoolVar(&opt.SSH, "ssh", false, "run an sshd on loopback and reach every lab host through it")
	fs.IntVar(&opt.PortBase, "port-base", DefaultPortBase, "first port of the lab's range (uses base … base+80)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	opt.Progress = stdout
	fmt.Fprintf(stdout, "starting the lab in %s\n", opt.Dir)
	st, err := Up(ctx, opt)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, st)
	fmt.Fprintf(stdout, "\nlab up in %.1fs. Rehearse with:\n  pitstop run -i %s\nStop it with:\n  pitstop lab down --dir %s\n",
		time.Since(start).Seconds(), st.Inventory, st.Dir)
	return nil
}

// AppMain runs one instance of the demo application from command-line arguments (the hidden
// `pitstop lab app` subcommand): --version, --listen, --db, --instance, and optionally --pid-file,
// which holds the process id while it runs. It returns after SIGINT or SIGTERM once requests in
// flight have finished.
func AppMain(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("pitstop lab app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg app.Config
	fs.StringVar(&cfg.Version, "version", "v1", "application version: "+strings.Join(app.Versions, " or "))
	fs.StringVar(&cfg.Listen, "listen", "", "host:port to serve on")
	fs.StringVar(&cfg.DB, "db", "", "libpq connection string of the database")
	fs.StringVar(&cfg.Instance, "instance", "", "instance name (X-App-Instance)")
	pidFile := fs.String("pid-file", "", "file to hold the process id while serving")
	if err := fs.Parse(args); err != nil {
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
	fs := flag.NewFlagSet("pitstop lab migrate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	db := fs.String("db", "", "libpq connection string of the primary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" {
		return errors.New("pitstop lab migrate: --db is required (the primary's connection string)")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := app.Migrate(ctx, *db); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migration applied: items.note exists; v1 and v2 can both run")
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
	if err := Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
