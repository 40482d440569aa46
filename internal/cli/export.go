package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/pitstop-ops/pitstop/internal/rundeck"
	"github.com/pitstop-ops/pitstop/steps"
)

// cmdExport is `pitstop export rundeck -i FILE`: it prints a Rundeck job definition that runs a plan
// of the inventory headless, for `rd jobs load` or a project import.
func cmdExport(args []string, stdout, stderr io.Writer) int {
	const synopsis = "export rundeck -i FILE [--plan NAME] [--pitstop PATH] [--node NAME]"
	var opt rundeck.ExportOptions
	fs := newFlagSet("export", synopsis, stderr)
	fs.StringVar(&opt.Inventory, "i", "", "inventory `FILE` the job runs (its absolute path goes into the job)")
	fs.StringVar(&opt.Plan, "plan", steps.PlanReadonly, "the plan option's default `NAME`: "+strings.Join(steps.PlanNames(), " or "))
	fs.StringVar(&opt.Pitstop, "pitstop", "pitstop", "the pitstop program on the Rundeck node (`PATH`, or a name found on its PATH)")
	fs.StringVar(&opt.Node, "node", "", "the Rundeck node `NAME` where Pitstop is installed (default: the Rundeck server itself)")
	pos, code := parseInterleaved(fs, args, stdout)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 || pos[0] != "rundeck" {
		fmt.Fprintf(stderr, "pitstop export: the only export is rundeck: pitstop export rundeck -i FILE\n\n")
		fs.Usage()
		return exitBadInput
	}
	inv, code := loadReal("export", opt.Inventory, "export a real inventory, whose hosts the job will change", stderr)
	if inv == nil {
		return code
	}
	jobs, err := rundeck.ExportJob(inv, opt)
	if err != nil {
		fmt.Fprintln(stderr, "pitstop export:", err)
		return exitBadInput
	}
	out, err := rundeck.MarshalJobs(jobs)
	if err != nil {
		fmt.Fprintln(stderr, "pitstop export:", err)
		return exitFailed
	}
	stdout.Write(out)
	return exitOK
}
