package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pitstop-ops/pitstop/demo"
	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/internal/nginx"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
	"github.com/pitstop-ops/pitstop/ui"
)

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("demo", "demo [-i FILE] [--plan NAME] [--fault NAME] [--speed N] [--headless|--auto-approve] [--json]", stderr)
	f.register(fs, false)
	file := inventoryFlag(fs, "demo", "rehearse this inventory `FILE` in the simulated world: its hosts, sides and commands, none of them contacted")
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
		if f.autoApprove || f.headless {
			*speed = 4
		}
	}
	if !(*speed >= 0.1 && *speed <= 1000) { // also rejects NaN
		fmt.Fprintf(stderr, "pitstop demo: --speed %g is out of range; use a factor from 0.1 to 1000\n", *speed)
		return exitBadInput
	}
	f.inventory = *file
	inv, code := loadInventory("demo", *file, stderr)
	if inv == nil {
		return code
	}
	s, code := prepare("demo", inv, &f, stderr)
	if s == nil {
		return code
	}
	if *seed == 0 {
		*seed = time.Now().UnixNano()
	}
	w := demo.NewWorld(inv, demo.Options{Speed: *speed, Fault: fault, Seed: *seed})
	ctx := s.sig.ctx
	w.Start(ctx)
	defer w.Close()
	return drive(ctx, inv, s, w.Ports(), f, stdout, stderr)
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("run", "run -i FILE [--plan NAME] [--headless|--auto-approve] [--json] [--parallel N] [--command-timeout D] [--resume JOURNAL | --new] [--acknowledge]", stderr)
	f.register(fs, true)
	cmdTimeout := fs.Duration("command-timeout", 0, "stop any one command on a host that runs longer than this, failing its step (0: no limit; e.g. 30m)")
	var rf resumeFlags
	fs.StringVar(&rf.journal, "resume", "", "resume the interrupted run recorded in this journal `FILE` (default: the newest unfinished run of this inventory and plan is resumed by itself)")
	fs.BoolVar(&rf.fresh, "new", false, "start a new run even if an interrupted one of this inventory and plan is unfinished")
	fs.BoolVar(&rf.acknowledge, "acknowledge", false, "with --auto-approve, resume even when the world differs from the journal in ways it does not explain")
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
	from, code := chooseResume(inv, f.plan, rf, stderr)
	if code >= 0 {
		return code
	}
	var reclaim func(nginx.LockOwner) bool
	if from != "" {
		reclaim = reclaimFrom(from) // read before this run adds its own header to the journal
		f.journal = from            // the resumed run goes on writing the same journal
		f.resuming = true
	}
	s, code := prepare("run", inv, &f, stderr)
	if s == nil {
		return code
	}
	s.resumeFrom = from
	ctx := s.sig.ctx
	if inv.Source == "demo" {
		w := demo.NewWorld(inv, demo.Options{Speed: 1, Seed: time.Now().UnixNano()})
		w.Start(ctx)
		defer w.Close()
		return drive(ctx, inv, s, w.Ports(), f, stdout, stderr)
	}
	lopt := live.Options{Parallel: f.parallel, Remote: remote.Options{CommandTimeout: *cmdTimeout, RunID: s.runID()}, Operator: f.operator,
		Note: func(l string) { fmt.Fprintln(stderr, "pitstop run: note:", l) }}
	if isTerminal() {
		lopt.ConfirmTakeover = takeoverPrompt(stdout)
	}
	lopt.Reclaim = reclaim
	w, err := live.OpenLocked(ctx, inv, lopt)
	if err != nil {
		s.abandon()
		fmt.Fprintln(stderr, "pitstop run:", err)
		return s.sig.exitCode(exitFailed)
	}
	defer w.Close()
	s.runDirs = w.Hosts
	if from != "" {
		if code := reconcile(ctx, inv, s, w.Ports(), rf, f.autoApprove, stdout, stderr); code >= 0 {
			s.journal.Close()
			return code
		}
	}
	return drive(ctx, inv, s, w.Ports(), f, stdout, stderr)
}

// session is what a run needs before its world starts: the plan, the open journal and the signals.
type session struct {
	// params are the run parameters set with --set, for the journal.
	params  map[string]string
	plan    *steps.Plan
	journal *steps.Journal
	created bool // this run created the journal's file
	sig     *runSignals
	// resumeFrom is the journal of the interrupted run this one resumes ("" for a new run), and
	// resume what it says, reconciled with the world.
	resumeFrom string
	resume     *steps.Resume
	// runDirs removes the run's directories of detached commands on the hosts once the run is over
	// (nil for the demo, whose commands run nowhere).
	runDirs runDirs
	// oneShot is set for a rehearsal: it is never resumed, so it is over however it ends.
	oneShot bool
}

// prepare builds the plan, checks for a terminal and opens the journal, so that bad input ends the
// command (exit 2) before it starts a world or connects to a host. It returns a nil session with the
// exit code after printing what is wrong.
func prepare(cmd string, inv *inventory.Inventory, f *runFlags, stderr io.Writer) (*session, int) {
	if f.plan == steps.PlanRehearse && cmd != "rehearse" {
		fmt.Fprintf(stderr, "pitstop %s: the rehearse plan works on a real copy of the database and cleans up after itself: run it with pitstop rehearse -i FILE (the demo world cannot simulate it)\n", cmd)
		return nil, exitBadInput
	}
	params, err := f.sets.apply(inv)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop %s: %v\n", cmd, err)
		return nil, exitBadInput
	}
	plan, err := steps.Build(inv, f.plan)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop %s: %v\n", cmd, err)
		return nil, exitBadInput
	}
	if !f.autoApprove && !f.headless && !isTerminal() {
		fmt.Fprintf(stderr, "pitstop %s: no terminal for the cockpit; run it in a terminal (or tmux), or pass --headless (decisions from pitstop approve) or --auto-approve\n", cmd)
		return nil, exitBadInput
	}
	j, created, err := openJournal(inv, plan.Name, f.journal, f.resuming)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop %s: cannot write the event journal, so the run does not start: %v; free some space or pass --journal FILE in a directory you can write\n", cmd, err)
		return nil, exitBadInput
	}
	s := &session{params: params, plan: plan, journal: j, created: created, sig: watchSignals()}
	// A journal that stops recording (a full disk) stops the run at its next gate: the step running
	// then finishes, nothing after it starts unrecorded.
	j.OnFail = func(err error) { s.sig.halt.Halt("the journal cannot be written any more (" + err.Error() + ")") }
	return s, -1
}

// abandon closes the journal of a run that never started, and removes its file when this run created
// it (the file's name is this run's own): a failed connection leaves no empty journal behind.
func (s *session) abandon() {
	s.sig.stop()
	s.journal.Close()
	if s.created {
		os.Remove(s.journal.Path())
	}
}

// drive runs the plan against world, in the cockpit or headless, and closes the journal.
func drive(ctx context.Context, inv *inventory.Inventory, s *session, world steps.World, f runFlags, stdout, stderr io.Writer) int {
	plan, j := s.plan, s.journal
	defer s.sig.stop()
	tr := &tracker{plan: plan}
	defer func() {
		// A journal that stopped recording (disk full) must not go unnoticed: it is the record of
		// who decided what.
		if err := j.Close(); err != nil {
			fmt.Fprintf(stderr, "pitstop: the journal did not record every event: %v\n", err)
		}
	}()

	var eng *steps.Engine
	opt := steps.Options{Parallel: f.parallel, AutoApprove: f.autoApprove, Operator: f.operator, Params: s.params, Halt: s.sig.halt, Resume: s.resume}
	ctl, code := listenControl(inv, plan, j.Path(), f, stderr)
	if code >= 0 {
		return code
	}
	if ctl != nil {
		defer ctl.Close()
	}
	if f.autoApprove || f.headless {
		return headless(ctx, inv, s, tr, world, ctl, opt, f, stdout, stderr)
	}
	ck := ui.New(ui.Config{Inventory: inv, Plan: plan, Demo: !world.Live, Operator: f.operator, Journal: j.Path(),
		Decide: func(d steps.Decision) { eng.Decide(d) }, Watchers: watchers})
	var summary atomic.Pointer[steps.Summary] // the plan's end, said again once the screen is gone
	opt.Emit = func(ev steps.Event) {
		j.Write(ev)
		tr.see(ev)
		ck.Emit(ev)
		ctl.Observe(ev)
		if ev.Kind == steps.EvPlanFinished && ev.Summary != nil {
			summary.Store(ev.Summary)
		}
	}
	eng = steps.New(inv, plan, world, opt)
	ctl.SetDecider(eng.Decide)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	result := make(chan error, 1)
	engineDone := make(chan struct{})
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
			close(engineDone)
		}()
		err = eng.Run(runCtx)
	}()
	// After a halt (SIGHUP: the terminal is gone) the cockpit closes once the engine has stopped at
	// its gate, and the engine is not cancelled: the running step finishes.
	uiCtx, uiCancel := context.WithCancel(ctx)
	defer uiCancel()
	go func() {
		select {
		case <-s.sig.halt.Done():
			<-engineDone
			uiCancel()
		case <-uiCtx.Done():
		}
	}()
	if err := ck.Run(uiCtx); err != nil && s.sig.halt.Reason() == "" {
		fmt.Fprintln(stderr, "pitstop: cockpit:", err)
	}
	if s.sig.halt.Reason() == "" {
		cancel()
	}
	err := <-result
	fmt.Fprintf(stdout, "journal: %s\n", j.Path())
	if sum := summary.Load(); sum != nil && sum.Status == steps.StatusDone && len(sum.SkippedChecks) > 0 {
		fmt.Fprintf(stdout, "pitstop: the plan finished with %d skipped check(s), confirmed at the last gate: %s\n", len(sum.SkippedChecks), strings.Join(sum.SkippedChecks, "; "))
	}
	if sum := summary.Load(); sum != nil && sum.Status != steps.StatusDone {
		fmt.Fprintln(stderr, "pitstop: left behind:", sum.State)
		for _, n := range sum.Next {
			fmt.Fprintln(stderr, "  next:", n)
		}
	}
	s.endRunDirs(inv, err, stderr)
	if err != nil {
		if last := lastLine(inv, s.sig, tr, err); last != "" {
			printLast(stderr, steps.Redact(last))
		} else {
			fmt.Fprintln(stderr, "pitstop:", steps.Redact(err.Error()))
		}
		return s.sig.exitCode(exitFailed)
	}
	return exitOK
}

// isSet reports whether the command line gave the flag name.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
