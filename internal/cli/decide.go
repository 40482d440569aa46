package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pitstop-ops/pitstop/internal/control"
	"github.com/pitstop-ops/pitstop/steps"
)

// decisionCommands maps the decision commands to what they decide.
var decisionCommands = map[string]steps.DecisionKind{
	"approve":  steps.Confirm,
	"decline":  steps.Decline,
	"retry":    steps.Retry,
	"skip":     steps.Skip,
	"rollback": steps.Rollback,
	"abort":    steps.Abort,
}

// cmdDecide sends one decision to the gate a running plan waits at.
func cmdDecide(cmd string, args []string, stdout, stderr io.Writer) int {
	kind := decisionCommands[cmd]
	fs := newFlagSet(cmd, cmd+" -i FILE [--operator NAME] [--gate ID]", stderr)
	file := inventoryFlag(fs, "", "the inventory `FILE` the run was started with (\"demo\" for the demo)")
	operator := fs.String("operator", os.Getenv("PITSTOP_OPERATOR"), "who `NAME` decides, recorded in the journal (default: your Unix user, as the kernel reports it to the run)")
	gate := fs.String("gate", "", "the gate `ID` (from pitstop status) this decision is for; refused if the run waits elsewhere (default: the gate waiting now, read just before)")
	yes := new(bool)
	if kind == steps.Skip || kind == steps.Abort {
		fs.BoolVar(yes, "yes", false, "do not ask for confirmation (for scripts; in a terminal "+cmd+" asks [y/N] first)")
	}
	force := false
	if kind == steps.Rollback {
		fs.BoolVar(&force, "force", false, "roll back even where the engine asks first (the previous side fails its checks, or holds fewer writes)")
	}
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	// Decide for the gate seen now: if it moves on before the decision arrives, the run refuses it.
	id := *gate
	var g *control.Gate
	if id == "" || kind == steps.Skip || kind == steps.Abort {
		rep, code := ask(cmd, *file, control.Request{Op: "status"}, stderr)
		if rep == nil {
			return code
		}
		if g = rep.Status.Gate; g == nil {
			fmt.Fprintf(stderr, "pitstop %s: no gate is waiting now (the run is %s); pitstop status -i %s shows when one does\n", cmd, rep.Status.State, *file)
			return exitFailed
		}
		if id == "" {
			id = g.ID
		}
	}
	if (kind == steps.Skip || kind == steps.Abort) && !*yes {
		what := fmt.Sprintf("Skip step %s (%s)", g.Step, g.Prompt)
		if kind == steps.Abort {
			what = fmt.Sprintf("Abort the plan at step %s (%s)", g.Step, g.Prompt)
		}
		if !isTerminal() {
			fmt.Fprintf(stderr, "pitstop %s: %s asks for confirmation in a terminal; pass --yes to %s without asking\n", cmd, cmd, cmd)
			return exitBadInput
		}
		fmt.Fprintf(stdout, "%s? [y/N] ", what)
		answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(stdout, "nothing sent")
			return exitFailed
		}
	}
	rep, code := ask(cmd, *file, control.Request{Op: "decide", Decision: kind, Gate: id, Operator: *operator, TTY: control.MyTTY(), Force: force}, stderr)
	if rep == nil {
		return code
	}
	fmt.Fprintln(stdout, rep.Message)
	return exitOK
}
