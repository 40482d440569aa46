package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/pitstop-ops/pitstop/internal/control"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
	"github.com/pitstop-ops/pitstop/ui"
)

func (f *runFlags) registerHeadless(fs *flag.FlagSet) {
	fs.BoolVar(&f.headless, "headless", false, "no screen: wait at each gate for a decision sent from another terminal with pitstop approve|decline|retry|skip|rollback|abort -i FILE; print one line per event")
	fs.BoolVar(&f.json, "json", false, "with --headless or --auto-approve: print the journal's event objects on stdout, one per line, instead of text (see docs/pairing-and-scripting.md)")
}

func (f *runFlags) checkHeadless() error {
	if f.json && !f.headless && !f.autoApprove {
		return errors.New("--json needs --headless or --auto-approve: the cockpit has the screen")
	}
	return nil
}

// controlKey is what names a run's socket: the -i argument.
func controlKey(f runFlags) string {
	if f.inventory == "" {
		return "demo"
	}
	return f.inventory
}

// listenControl opens the run's control socket. A cockpit or an --auto-approve run without one still
// runs (others just cannot follow it; the reason goes to stderr); a --headless run cannot take
// decisions without it, so it stops (the returned code is >= 0 then).
func listenControl(inv *inventory.Inventory, plan *steps.Plan, journal string, f runFlags, stderr io.Writer) (*control.Server, int) {
	mode := "cockpit"
	switch {
	case f.autoApprove:
		mode = "auto-approve"
	case f.headless:
		mode = "headless"
	}
	path, err := control.SocketPath(controlKey(f))
	var ctl *control.Server
	if err == nil {
		ctl, err = control.Listen(path, control.Info{Inventory: controlKey(f), Plan: plan, Mode: mode, Driver: f.operator, Journal: journal, Attached: attachedClients}, nil)
	}
	if err != nil {
		if mode == "headless" {
			fmt.Fprintf(stderr, "pitstop: --headless waits for decisions on a socket, and it cannot listen: %v\n", err)
			return nil, exitBadInput
		}
		fmt.Fprintf(stderr, "pitstop: other terminals cannot follow this run: %v\n", err)
		return nil, -1
	}
	return ctl, -1
}

// headless runs the plan without a screen: with --auto-approve the engine confirms each gate itself;
// with --headless it waits for decisions sent to the control socket.
func headless(ctx context.Context, inv *inventory.Inventory, s *session, tr *tracker, world steps.World, ctl *control.Server,
	opt steps.Options, f runFlags, stdout, stderr io.Writer) int {
	plan, j := s.plan, s.journal
	if s.sig != nil {
		stdout = &brokenOutput{w: stdout, halt: s.sig.halt}
	}
	var print func(steps.Event)
	if f.json {
		jl := &jsonLines{w: stdout}
		print = jl.event
		fmt.Fprintf(stderr, "journal: %s\n", j.Path())
	} else {
		pr := &steps.Printer{W: stdout}
		gate := ""
		print = func(ev steps.Event) {
			pr.Print(ev)
			// Say once per gate how to decide from another terminal.
			if f.headless && ev.Kind == steps.EvGateWaiting && ctl != nil && ev.Gate.StepID+string(ev.Gate.Kind) != gate {
				gate = ev.Gate.StepID + string(ev.Gate.Kind)
				if ev.Gate.Allows(steps.Confirm) || ev.Gate.Allows(steps.Retry) {
					fmt.Fprintf(stdout, "             waiting for a decision: pitstop approve -i %s (or decline, retry, skip, rollback, abort; pitstop status -i %s shows the gate)\n", controlKey(f), controlKey(f))
				}
			}
		}
		fmt.Fprintf(stdout, "journal: %s\n", j.Path())
		if ctl != nil {
			fmt.Fprintf(stdout, "control: %s (pitstop status -i %s)\n", ctl.Path(), controlKey(f))
		}
	}
	opt.Emit = func(ev steps.Event) {
		j.Write(ev)
		tr.see(ev)
		ctl.Observe(ev)
		print(ev)
	}
	eng := steps.New(inv, plan, world, opt)
	ctl.SetDecider(eng.Decide)
	err := eng.Run(ctx)
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

// attachedClients lists who watches the cockpit's tmux session.
func attachedClients() []control.Client { return control.TmuxClients() }

// watchers lists the terminals attached to the cockpit's tmux session, for its header.
func watchers() []ui.Watcher {
	var out []ui.Watcher
	for _, c := range control.TmuxClients() {
		out = append(out, ui.Watcher{User: c.User, TTY: c.TTY, ReadOnly: c.ReadOnly})
	}
	return out
}
