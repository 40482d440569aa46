// Command pitstop drives a low-downtime upgrade of an application behind nginx: it switches users to a
// backup side, upgrades production over SSH, switches back, and re-syncs the backup, with a gate
// before every change and one-key rollback. This file is the command line only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/pitstop-ops/pitstop/demo"
	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
	"github.com/pitstop-ops/pitstop/ui"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1 // the plan failed or was aborted
	exitBadInput = 2 // bad flags, a bad inventory, no terminal
)

const usage = `pitstop — a cockpit for upgrading an application behind nginx with (almost) no downtime

Usage:
  pitstop demo  [--plan NAME] [--fault NAME] [--speed N] [--auto-approve]   rehearse on the simulated demo shop
  pitstop run   -i FILE [--plan NAME] [--auto-approve]                       drive the upgrade on real hosts
  pitstop plan  -i FILE [--plan NAME]                                        print every step and command; changes nothing
  pitstop check -i FILE                                                      preflight: reachability, host keys, nginx, databases
  pitstop watch -i FILE                                                      print replication lag and what users see
  pitstop switch -i FILE --to SIDE                                           send users to production or backup, proven by probes
  pitstop lab   up|down|status|bench [--dir DIR] [--ssh]                     a real local lab on loopback to rehearse on

  -i demo means the built-in demo inventory. Plans: readonly (default), reverse-sync.
  pitstop COMMAND --help (or pitstop help COMMAND) shows a command's flags. pitstop --version prints the version.
  Exit codes: 0 done, 1 the plan or the command failed, 2 bad input (flags, inventory, no terminal).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitBadInput
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "--help", "help":
		if cmd == "help" && len(rest) > 0 {
			return run([]string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	case "--version", "version":
		fmt.Fprintln(stdout, "pitstop", version)
		return exitOK
	case "demo":
		return cmdDemo(rest, stdout, stderr)
	case "run":
		return cmdRun(rest, stdout, stderr)
	case "plan":
		return cmdPlan(rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "watch":
		return cmdWatch(rest, stdout, stderr)
	case "lab":
		return cmdLab(rest, stdout, stderr)
	case "switch":
		return cmdSwitch(rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "pitstop: unknown command %q\n\n%s", cmd, usage)
	return exitBadInput
}

// runFlags are the flags of the commands that drive a plan.
type runFlags struct {
	inventory   string
	plan        string
	autoApprove bool
	parallel    int
	journal     string
	operator    string
}

func (f *runFlags) register(fs *flag.FlagSet, withInventory bool) {
	if withInventory {
		fs.StringVar(&f.inventory, "i", "", "inventory `FILE` (\"demo\" for the built-in demo shop)")
	}
	fs.StringVar(&f.plan, "plan", steps.PlanReadonly, "plan `NAME`: "+strings.Join(steps.PlanNames(), " or "))
	fs.BoolVar(&f.autoApprove, "auto-approve", false, "no screen: confirm each gate once its conditions hold, stop at the first failure, print one line per event")
	fs.IntVar(&f.parallel, "parallel", 10, "how many hosts one step acts on at once")
	fs.StringVar(&f.journal, "journal", "", "append every event to this JSONL `FILE` (default: a new file under ~/.local/state/pitstop/journal)")
	fs.StringVar(&f.operator, "operator", defaultOperator(), "who is driving, recorded with every decision")
}

// check rejects flag values no run can use.
func (f *runFlags) check() error {
	if f.parallel < 1 {
		return fmt.Errorf("--parallel %d: give how many hosts one step may act on at once, 1 or more", f.parallel)
	}
	if strings.TrimSpace(f.operator) == "" {
		return errors.New("--operator is empty: name who is driving; it is recorded with every decision")
	}
	return nil
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pitstop %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; it returns -1 to go on, or the exit code. Asked for with -h or --help, the usage
// goes to stdout (exit 0); after a bad flag, the error and the usage go to stderr (exit 2).
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) int {
	stderr := fs.Output()
	fs.SetOutput(io.Discard) // the flag package's own message: replaced below
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	case err != nil:
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "pitstop %s: %v\n\n", fs.Name(), err)
		fs.Usage()
		return exitBadInput
	}
	fs.SetOutput(stderr)
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pitstop %s: unexpected argument %q\n\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitBadInput
	}
	return -1
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("demo", "demo [-i FILE] [--plan NAME] [--fault NAME] [--speed N] [--auto-approve]", stderr)
	f.register(fs, false)
	file := fs.String("i", "demo", "rehearse this inventory `FILE` in the simulated world: its hosts, sides and commands, none of them contacted")
	faultName := fs.String("fault", "", "inject a fault `NAME` to rehearse:"+faultNames())
	speed := fs.Float64("speed", 0, "run simulated time N times faster, from 0.1 to 1000 (default 1 in the cockpit, 4 with --auto-approve)")
	seed := fs.Int64("seed", 0, "random seed of the simulation (0: from the clock)")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	if err := f.check(); err != nil {
		fmt.Fprintln(stderr, "pitstop demo:", err)
		return exitBadInput
	}
	fault, err := demo.ParseFault(*faultName)
	if err != nil {
		fmt.Fprintln(stderr, "pitstop demo:", err)
		return exitBadInput
	}
	if !isSet(fs, "speed") {
		*speed = 1
		if f.autoApprove {
			*speed = 4
		}
	}
	if !(*speed >= 0.1 && *speed <= 1000) { // also rejects NaN
		fmt.Fprintf(stderr, "pitstop demo: --speed %g is out of range; use a factor from 0.1 to 1000\n", *speed)
		return exitBadInput
	}
	inv, code := loadInventory("demo", *file, stderr)
	if inv == nil {
		return code
	}
	s, code := prepare("demo", inv, f, stderr)
	if s == nil {
		return code
	}
	if *seed == 0 {
		*seed = time.Now().UnixNano()
	}
	w := demo.NewWorld(inv, demo.Options{Speed: *speed, Fault: fault, Seed: *seed})
	ctx, stop := signalContext()
	defer stop()
	w.Start(ctx)
	defer w.Close()
	return drive(ctx, inv, s, w.Ports(), f, stdout, stderr)
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("run", "run -i FILE [--plan NAME] [--auto-approve] [--parallel N] [--command-timeout D]", stderr)
	f.register(fs, true)
	cmdTimeout := fs.Duration("command-timeout", 0, "stop any one command on a host that runs longer than this, failing its step (0: no limit; e.g. 30m)")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	if *cmdTimeout < 0 {
		fmt.Fprintf(stderr, "pitstop run: --command-timeout %s: give 0 (no limit) or a positive duration, e.g. 30m\n", *cmdTimeout)
		return exitBadInput
	}
	if err := f.check(); err != nil {
		fmt.Fprintln(stderr, "pitstop run:", err)
		return exitBadInput
	}
	inv, code := loadInventory("run", f.inventory, stderr)
	if inv == nil {
		return code
	}
	s, code := prepare("run", inv, f, stderr)
	if s == nil {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	if inv.Source == "demo" {
		w := demo.NewWorld(inv, demo.Options{Speed: 1, Seed: time.Now().UnixNano()})
		w.Start(ctx)
		defer w.Close()
		return drive(ctx, inv, s, w.Ports(), f, stdout, stderr)
	}
	w, err := live.OpenLocked(ctx, inv, live.Options{Parallel: f.parallel, Remote: remote.Options{CommandTimeout: *cmdTimeout}})
	if err != nil {
		s.abandon()
		fmt.Fprintln(stderr, "pitstop run:", err)
		return exitFailed
	}
	defer w.Close()
	return drive(ctx, inv, s, w.Ports(), f, stdout, stderr)
}

// session is what a run needs before its world starts: the plan and the open journal.
type session struct {
	plan    *steps.Plan
	journal *steps.Journal
	created bool // the journal's file did not exist before this run
}

// prepare builds the plan, checks for a terminal and opens the journal, so that bad input ends the
// command (exit 2) before it starts a world or connects to a host. It returns a nil session with the
// exit code after printing what is wrong.
func prepare(cmd string, inv *inventory.Inventory, f runFlags, stderr io.Writer) (*session, int) {
	plan, err := steps.Build(inv, f.plan)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop %s: %v\n", cmd, err)
		return nil, exitBadInput
	}
	if !f.autoApprove && !isTerminal() {
		fmt.Fprintf(stderr, "pitstop %s: no terminal for the cockpit; run it in a terminal (or tmux), or pass --auto-approve to run headless\n", cmd)
		return nil, exitBadInput
	}
	path := f.journal
	if path == "" {
		path = defaultJournal(inv.Name, plan.Name)
	}
	_, statErr := os.Stat(path)
	j, err := steps.OpenJournal(path)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop %s: cannot write the event journal: %v; pass --journal FILE in a directory you can write\n", cmd, err)
		return nil, exitBadInput
	}
	return &session{plan: plan, journal: j, created: errors.Is(statErr, os.ErrNotExist)}, -1
}

// abandon closes the journal of a run that never started, and removes its file when this run created
// it: a failed connection leaves no empty journal behind.
func (s *session) abandon() {
	s.journal.Close()
	if s.created {
		os.Remove(s.journal.Path())
	}
}

// drive runs the plan against world, in the cockpit or headless, and closes the journal.
func drive(ctx context.Context, inv *inventory.Inventory, s *session, world steps.World, f runFlags, stdout, stderr io.Writer) int {
	plan, j := s.plan, s.journal
	defer func() {
		// A journal that stopped recording (disk full) must not go unnoticed: it is the record of
		// who decided what.
		if err := j.Close(); err != nil {
			fmt.Fprintf(stderr, "pitstop: the journal did not record every event: %v\n", err)
		}
	}()

	var eng *steps.Engine
	opt := steps.Options{Parallel: f.parallel, AutoApprove: f.autoApprove, Operator: f.operator}
	if f.autoApprove {
		pr := &steps.Printer{W: stdout}
		opt.Emit = func(ev steps.Event) { j.Write(ev); pr.Print(ev) }
		fmt.Fprintf(stdout, "journal: %s\n", j.Path())
		eng = steps.New(inv, plan, world, opt)
		if err := eng.Run(ctx); err != nil {
			fmt.Fprintln(stderr, "pitstop:", steps.Redact(err.Error()))
			return exitFailed
		}
		return exitOK
	}
	ck := ui.New(ui.Config{Inventory: inv, Plan: plan, Demo: !world.Live, Operator: f.operator, Journal: j.Path(),
		Decide: func(d steps.Decision) { eng.Decide(d) }})
	var summary atomic.Pointer[steps.Summary] // the plan's end, said again once the screen is gone
	opt.Emit = func(ev steps.Event) {
		j.Write(ev)
		ck.Emit(ev)
		if ev.Kind == steps.EvPlanFinished && ev.Summary != nil {
			summary.Store(ev.Summary)
		}
	}
	eng = steps.New(inv, plan, world, opt)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	result := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			// A bug in the engine must not leave the terminal raw: the cockpit ends, then the
			// process does, with the error.
			if r := recover(); r != nil {
				err = fmt.Errorf("pitstop bug: the engine panicked: %v — please report it with the journal %s\n%s", r, j.Path(), debug.Stack())
			}
			ck.Done(err)
			result <- err
		}()
		err = eng.Run(runCtx)
	}()
	if err := ck.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "pitstop: cockpit:", err)
	}
	cancel()
	err := <-result
	fmt.Fprintf(stdout, "journal: %s\n", j.Path())
	if sum := summary.Load(); sum != nil && sum.Status != steps.StatusDone {
		fmt.Fprintln(stderr, "pitstop: left behind:", sum.State)
		for _, n := range sum.Next {
			fmt.Fprintln(stderr, "  next:", n)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "pitstop:", steps.Redact(err.Error()))
		return exitFailed
	}
	return exitOK
}

// isSet reports whether the command line gave the flag name.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func cmdPlan(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("plan", "plan -i FILE [--plan NAME]", stderr)
	fs.StringVar(&f.inventory, "i", "", "inventory `FILE` (\"demo\" for the built-in demo shop)")
	fs.StringVar(&f.plan, "plan", steps.PlanReadonly, "plan `NAME`: "+strings.Join(steps.PlanNames(), " or "))
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	inv, code := loadInventory("plan", f.inventory, stderr)
	if inv == nil {
		return code
	}
	plan, err := steps.Build(inv, f.plan)
	if err != nil {
		fmt.Fprintln(stderr, "pitstop plan:", err)
		return exitBadInput
	}
	plan.Describe(stdout)
	return exitOK
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "check -i FILE", stderr)
	file := fs.String("i", "", "inventory `FILE`")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	inv, code := loadReal("check", *file, "there is nothing real to check (try pitstop plan -i demo)", stderr)
	if inv == nil {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	ok := live.Check(ctx, inv, stdout)
	if !ok {
		return exitFailed
	}
	return exitOK
}

// cmdSwitch sends users to one side outside a plan — after a run that ended with them on the
// backup — through the plan's own proven switch.
func cmdSwitch(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("switch", "switch -i FILE --to production|backup", stderr)
	file := fs.String("i", "", "inventory `FILE`")
	to := fs.String("to", "", "the `SIDE` to make live: production or backup")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	side := inventory.Side(*to)
	if side != inventory.Production && side != inventory.Backup {
		fmt.Fprintf(stderr, "pitstop switch: --to %q: say which side to make live, --to production or --to backup\n", *to)
		return exitBadInput
	}
	inv, code := loadReal("switch", *file, "there is no real balancer to switch (rehearse with pitstop demo)", stderr)
	if inv == nil {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	if err := live.Switch(ctx, inv, side, stdout); err != nil {
		fmt.Fprintln(stderr, "pitstop switch:", err)
		return exitFailed
	}
	return exitOK
}

func cmdWatch(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("watch", "watch -i FILE [--every D] [--count N]", stderr)
	file := fs.String("i", "", "inventory `FILE` (\"demo\" for the built-in demo shop)")
	every := fs.Duration("every", time.Second, "how often to print a reading")
	count := fs.Int("count", 0, "stop after N readings (0: until interrupted)")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	if *every <= 0 {
		fmt.Fprintf(stderr, "pitstop watch: --every %s: give a positive interval between readings, e.g. 1s or 500ms\n", *every)
		return exitBadInput
	}
	if *count < 0 {
		fmt.Fprintf(stderr, "pitstop watch: --count %d: give how many readings to print, or 0 to print until interrupted\n", *count)
		return exitBadInput
	}
	inv, code := loadInventory("watch", *file, stderr)
	if inv == nil {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	var world steps.World
	if inv.Source == "demo" {
		w := demo.NewWorld(inv, demo.Options{Speed: 1, Seed: time.Now().UnixNano()})
		w.Start(ctx)
		defer w.Close()
		world = w.Ports()
	} else {
		w, err := live.Open(ctx, inv, live.Options{})
		if err != nil {
			fmt.Fprintln(stderr, "pitstop watch:", err)
			return exitFailed
		}
		defer w.Close()
		world = w.Ports()
	}
	for n := 0; *count == 0 || n < *count; n++ {
		select {
		case <-ctx.Done():
			return exitOK
		case <-world.Clock.After(*every):
		}
		r := steps.TakeReadings(ctx, world, inv, *every)
		fmt.Fprintf(stdout, "%s %s\n", world.Clock.Now().Format("15:04:05"), steps.FormatReadings(&r))
	}
	return exitOK
}

// loadReal is loadInventory for commands that act on real hosts only: the demo inventory is refused,
// saying why with why.
func loadReal(cmd, file, why string, stderr io.Writer) (*inventory.Inventory, int) {
	inv, code := loadInventory(cmd, file, stderr)
	if inv != nil && inv.Source == "demo" {
		fmt.Fprintf(stderr, "pitstop %s: the demo inventory is simulated; %s\n", cmd, why)
		return nil, exitBadInput
	}
	return inv, code
}

// loadInventory loads FILE, or the demo inventory for "demo". On failure it prints the errors and
// returns a nil inventory with the exit code.
func loadInventory(cmd, file string, stderr io.Writer) (*inventory.Inventory, int) {
	if file == "" {
		fmt.Fprintf(stderr, "pitstop %s: -i FILE is required (an inventory YAML file, or \"demo\")\n", cmd)
		return nil, exitBadInput
	}
	var inv *inventory.Inventory
	var err error
	if file == "demo" {
		inv, err = demo.Inventory()
	} else {
		inv, err = inventory.Load(file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pitstop %s: %v\n", cmd, err)
		return nil, exitBadInput
	}
	return inv, exitOK
}

// faultNames lists the demo's faults for --fault's help, one per line with what it does.
func faultNames() string {
	var b strings.Builder
	for _, f := range demo.Faults() {
		fmt.Fprintf(&b, "\n  %-13s %s", f.Fault, f.Description)
	}
	return b.String()
}

// signalContext is cancelled by SIGINT or SIGTERM; in the cockpit ctrl+c is a key, not a signal.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func isTerminal() bool {
	return term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())
}

func defaultOperator() string {
	for _, k := range []string{"PITSTOP_OPERATOR", "SUDO_USER", "USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "operator"
}

func defaultJournal(inv, plan string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	name := fmt.Sprintf("%s-%s-%s.jsonl", fileSafe(inv), plan, time.Now().Format("20060102T150405"))
	return filepath.Join(dir, "pitstop", "journal", name)
}

// fileSafe makes an inventory's name usable in a file name: "shop (lab in /tmp/x)" would otherwise
// add directories to the journal's path. Runs of other characters become one "-".
func fileSafe(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range name {
		if r < 128 && (r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "inventory"
	}
	return out
}

func cmdLab(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	err := lab.Main(ctx, args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, lab.ErrUsage):
		fmt.Fprintln(stderr, err)
		return exitBadInput
	}
	fmt.Fprintln(stderr, err)
	return exitFailed
}
