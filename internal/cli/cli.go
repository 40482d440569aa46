// Package cli is Pitstop's command line: it parses flags, builds the adapters from the inventory and hands
// them to the cockpit or to the headless runner. main.go only calls Run.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pitstop-ops/pitstop/internal/flagusage"
	"github.com/pitstop-ops/pitstop/steps"
)

// version is set at build time with -ldflags "-X github.com/pitstop-ops/pitstop/internal/cli.version=…".
var version = defaultVersion

const defaultVersion = "0.1.0-dev"

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1 // the plan failed or was aborted
	exitBadInput = 2 // bad flags, a bad inventory, no terminal
)

const usage = `pitstop — a cockpit for upgrading an application behind nginx with (almost) no downtime

Usage:
  pitstop demo  [--plan NAME] [--fault NAME] [--speed N] [--headless]       rehearse on the simulated demo shop
  pitstop run   -i FILE [--plan NAME] [--headless|--auto-approve] [--json]   drive the upgrade on real hosts
  pitstop plan  -i FILE [--plan NAME] [--json]                               print every step and command; changes nothing
  pitstop check -i FILE [--json]                                             preflight: reachability, host keys, nginx, databases
  pitstop watch -i FILE [--json]                                             print replication lag and what users see
  pitstop status -i FILE [--json]                                            where a running plan is: step, gate, conditions, who watches
  pitstop approve -i FILE [--operator NAME]                                  confirm the gate a running plan waits at, from any terminal
          (also decline, retry, skip, rollback, abort)
  pitstop switch -i FILE --to SIDE                                           send users to production or backup, proven by probes
  pitstop rehearse -i FILE [--auto-approve] [--cleanup]                      migrate a copy of production's database; predict the window
  pitstop lab   up|down|status|bench [--dir DIR] [--ssh]                     a real local lab on loopback to rehearse on
  pitstop discover --balancer SSH --upstream NAME [--database DSN] [-o F]    draft an inventory from nginx and PostgreSQL
  pitstop import rundeck|ansible FILE [--production SEL ...] [-o FILE]       draft an inventory from Rundeck or Ansible nodes
  pitstop export rundeck -i FILE [--plan NAME]                               print a Rundeck job that runs a plan headless
  pitstop report JOURNAL [-o FILE] [--markdown]                              the session report: one HTML file (or Markdown + SVG)
  pitstop completion bash|zsh|fish                                           print a shell completion script
  pitstop version                                                            the version and the commit it was built from

  -i FILE is short for --inventory FILE; -i demo means the built-in demo inventory. Plans: readonly (default), reverse-sync.
  pitstop COMMAND --help (or pitstop help COMMAND) shows a command's flags.
  Exit codes: 0 done, 1 the plan or the command failed, 2 bad input (flags, inventory, no terminal),
  130 interrupted (SIGINT), 143 terminated (SIGTERM).
`

// Run runs the pitstop command line with args (without the program name) and returns the exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitBadInput
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "--help", "help":
		if cmd == "help" && len(rest) > 0 {
			return Run([]string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	case "--version", "version":
		return cmdVersion(rest, stdout, stderr)
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
	case "discover":
		return cmdDiscover(rest, stdout, stderr)
	case "import":
		return cmdImport(rest, stdout, stderr)
	case "export":
		return cmdExport(rest, stdout, stderr)
	case "rehearse":
		return cmdRehearse(rest, stdout, stderr)
	case "completion":
		return cmdCompletion(rest, stdout, stderr)
	case "report":
		return cmdReport(rest, stdout, stderr)
	case "status":
		return cmdStatus(rest, stdout, stderr)
	case "approve", "decline", "retry", "skip", "rollback", "abort":
		return cmdDecide(cmd, rest, stdout, stderr)
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
	sets        setFlag
	headless    bool
	json        bool
	// resuming is set (not a flag) when the run continues the journal it names.
	resuming bool
}

func (f *runFlags) register(fs *flag.FlagSet, withInventory bool) {
	if withInventory {
		inventoryVar(fs, &f.inventory, "", "inventory `FILE` (\"demo\" for the built-in demo shop)")
	}
	fs.StringVar(&f.plan, "plan", steps.PlanReadonly, "plan `NAME`: "+strings.Join(steps.PlanNames(), " or "))
	fs.BoolVar(&f.autoApprove, "auto-approve", false, "no screen: confirm each gate once its conditions hold, stop at the first failure, print one line per event")
	fs.IntVar(&f.parallel, "parallel", 10, "how many hosts one step acts on at once")
	fs.StringVar(&f.journal, "journal", "", "append every event to this JSONL `FILE` (default: a new file under ~/.local/state/pitstop/journal)")
	fs.StringVar(&f.operator, "operator", defaultOperator(), "who is driving, recorded with every decision")
	fs.Var(&f.sets, "set", setUsage)
	f.registerHeadless(fs)
}

// check rejects flag values no run can use.
func (f *runFlags) check() error {
	if f.parallel < 1 {
		return fmt.Errorf("--parallel %d: give how many hosts one step may act on at once, 1 or more", f.parallel)
	}
	if strings.TrimSpace(f.operator) == "" {
		return errors.New("--operator is empty: name who is driving; it is recorded with every decision")
	}
	return f.checkHeadless()
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pitstop %s\n\nFlags:\n", synopsis)
		flagusage.Print(fs.Output(), fs)
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
