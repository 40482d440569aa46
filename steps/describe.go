package steps

import (
	"fmt"
	"io"
	"strings"
)

// Describe writes the plan for people: every phase, step, host and exact command, each gate and its
// conditions, and the upstream diff of each switch. It is what `pitstop plan` prints.
func (p *Plan) Describe(w io.Writer) {
	fmt.Fprintf(w, "Plan %s for %s\n", p.Name, p.Inventory)
	n := 0
	for i, ph := range p.Phases {
		fmt.Fprintf(w, "\n%d. %s\n", i+1, ph.Name)
		for _, st := range ph.Steps {
			n++
			gate := ""
			if st.Gate.Confirm {
				gate = "  [confirm]"
			}
			fmt.Fprintf(w, "   %2d) %s  (%s)%s\n", n, st.Title, st.ID, gate)
			for _, c := range st.Gate.Conditions {
				fmt.Fprintf(w, "       waits for: %s\n", describeCond(c))
			}
			if st.Gate.Timeout > 0 && len(st.Gate.Conditions) > 0 {
				fmt.Fprintf(w, "       fails if not met within %s\n", st.Gate.Timeout)
			}
			switch st.Action {
			case ActRun:
				mode := "in parallel"
				if st.Serial || len(st.Exec) == 1 {
					mode = "one host at a time"
				}
				if len(st.Exec) > 1 {
					fmt.Fprintf(w, "       on %d hosts, %s:\n", len(st.Exec), mode)
				}
				for _, hc := range st.Exec {
					for _, c := range hc.Commands {
						fmt.Fprintf(w, "       %s$ %s\n", hc.Host, c)
					}
				}
			case ActSwitch:
				fmt.Fprintf(w, "       on %s: write %s, test, reload, prove the workers changed and probes moved\n", strings.Join(st.Hosts, ","), st.Config.File)
				for _, l := range diffLines(st.Config.Before, st.Config.After) {
					fmt.Fprintf(w, "       %s\n", l)
				}
			case ActVerifyDirect:
				fmt.Fprintf(w, "       GET %s on each of %s directly; expects version %s\n", st.Path, strings.Join(st.Hosts, ", "), st.Version)
			case ActPreflight, ActWaitSync, ActVerifyTraffic:
			default:
				fmt.Fprintf(w, "       on %s\n", strings.Join(st.Hosts, ", "))
			}
		}
	}
	fmt.Fprintln(w, "\nAt any gate after a switch, R rolls the balancer back to the previous upstream.")
}

func describeCond(c Condition) string {
	switch c.Kind {
	case CondLag:
		return fmt.Sprintf("replication %s→%s streaming with ≤ %s to replay, %d reading(s) in a row", c.From, c.To, Bytes(c.MaxBytes), c.Readings)
	case CondSuccess:
		return fmt.Sprintf("probe success ≥ %.1f%% over %s", c.MinSuccess, c.Window)
	case CondUpstream:
		return fmt.Sprintf("every probe over %s served by %s", c.Window, c.Side)
	case CondLive:
		return fmt.Sprintf("the balancer sends users to %s", c.Side)
	}
	return string(c.Kind)
}
