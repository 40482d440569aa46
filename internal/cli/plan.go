package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/pitstop-ops/pitstop/steps"
)

func cmdPlan(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newFlagSet("plan", "plan -i FILE [--plan NAME]", stderr)
	inventoryVar(fs, &f.inventory, "", "inventory `FILE` (\"demo\" for the built-in demo shop)")
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
