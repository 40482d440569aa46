package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/pitstop-ops/pitstop/steps"
)

func cmdPlan(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("plan", "plan -i FILE [--plan NAME] [--set NAME=VALUE]... [--offline] [--json]", stderr)
	inventoryVar(fs, &f.inventory, "", "inventory `FILE` (\"demo\" for the built-in demo shop)")
	fs.StringVar(&f.plan, "plan", steps.PlanReadonly, "plan `NAME`: "+strings.Join(steps.PlanNames(), " or "))
	fs.Var(&f.sets, "set", setUsage)
	offline := fs.Bool("offline", false, "do not read the live upstream file from the balancer: show the diffs rendered from the inventory")
	asJSON := fs.Bool("json", false, "print the plan as one JSON object (see docs/pairing-and-scripting.md)")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	inv, code := loadInventory("plan", f.inventory, stderr)
	if inv == nil {
		return code
	}
	params, err := f.sets.apply(inv)
	if err != nil {
		fmt.Fprintln(stderr, "pitstop plan:", err)
		return exitBadInput
	}
	plan, err := steps.Build(inv, f.plan)
	if err != nil {
		fmt.Fprintln(stderr, "pitstop plan:", err)
		return exitBadInput
	}
	if *offline {
		plan.MarkRendered("--offline")
	} else {
		readLiveUpstream(inv, plan)
	}
	if *asJSON {
		(&jsonLines{w: stdout}).write(plan)
		return exitOK
	}
	if len(params) > 0 {
		fmt.Fprintf(stdout, "Run parameters:%s\n", strings.TrimPrefix(paramsLine(params), " with"))
	}
	plan.Describe(stdout)
	return exitOK
}
