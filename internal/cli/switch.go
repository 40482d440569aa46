package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// cmdSwitch sends users to one side outside a plan — after a run that ended with them on the
// backup — through the plan's own proven switch.
func cmdSwitch(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("switch", "switch -i FILE --to production|backup [--force]", stderr)
	file := inventoryFlag(fs, "", "inventory `FILE`")
	to := fs.String("to", "", "the `SIDE` to make live: production or backup")
	force := fs.Bool("force", false, "switch even though the side's app hosts fail their direct checks (asks you to type the side's name; recorded in the journal)")
	operator := fs.String("operator", defaultOperator(), "who is switching, recorded with a forced switch")
	discard := fs.Bool("discard-backup-writes", false, "take users away from a promoted backup that holds writes production lacks (asks you to type a phrase naming how much; recorded in the journal)")
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
	opt := live.SwitchOptions{Force: *force, DiscardBackupWrites: *discard, Operator: *operator, Note: func(l string) { fmt.Fprintln(stderr, "pitstop switch: note:", l) }}
	if isTerminal() {
		opt.ConfirmTakeover = takeoverPrompt(stdout)
	}
	if (*force || *discard) && isTerminal() {
		opt.Confirm = func(prompt, want string) bool { return typed(stdout, prompt, want) }
		path := defaultJournal(inv.Name, "switch")
		opt.Record = func(line string) {
			j, _, err := steps.OpenJournal(path)
			if err != nil {
				fmt.Fprintf(stderr, "pitstop switch: cannot record the forced switch in %s: %v\n", path, err)
				return
			}
			defer j.Close()
			j.Write(steps.Event{Time: time.Now(), Kind: steps.EvNotice, Plan: "switch", Text: line})
			fmt.Fprintf(stdout, "recorded in %s: %s\n", path, line)
		}
	}
	if err := live.SwitchWith(ctx, inv, side, stdout, opt); err != nil {
		fmt.Fprintln(stderr, "pitstop switch:", err)
		return exitCode(ctx, exitFailed)
	}
	return exitCode(ctx, exitOK)
}

// stdin is read by every typed confirmation of this process, through one buffer.
var stdin = bufio.NewReader(os.Stdin)

// typed prints prompt and reports whether the operator typed want.
func typed(stdout io.Writer, prompt, want string) bool {
	fmt.Fprint(stdout, prompt)
	line, _ := stdin.ReadString('\n')
	return strings.TrimSpace(line) == want
}

// takeoverPrompt asks, naming the owner, before a stale pitstop lock is taken over.
func takeoverPrompt(stdout io.Writer) func(question string) bool {
	return func(q string) bool {
		return typed(stdout, q+" Type \"take over\" to take it over: ", "take over")
	}
}
