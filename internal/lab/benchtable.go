package lab

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// BenchResult is what `pitstop lab bench` measured.
type BenchResult struct {
	Naive, Pitstop Procedure
	// Rollback is how long after the rollback decision of the third run every read was served by
	// production again; RollbackErr says why it could not be measured.
	Rollback    time.Duration
	RollbackErr error
	// Up, Reset (down and up between the procedures) and Down time the lab itself.
	Up, Reset, Down time.Duration
	// LoadBefore and LoadAfter are the machine's load averages (1, 5, 15 min); CPUs its processors.
	LoadBefore, LoadAfter string
	CPUs                  int
	// Users describes the load; UpgradeSleep is the simulated install time.
	Users        string
	UpgradeSleep time.Duration
	// VerifyWindow is the experimental verify-traffic window (0: the plan's own).
	VerifyWindow time.Duration
	Balancer     string
}

// Procedure is one way of upgrading, as users saw it.
type Procedure struct {
	Name string
	Load LoadSummary
	// Started and Finished bound the procedure itself (the naive commands, or the plan's run).
	Started, Finished time.Time
	// Maintenance is the procedure's whole duration; Upgrade the part spent in the upgrade commands
	// and the migration of production.
	Maintenance, Upgrade time.Duration
	// Switch and SwitchBack: from the switch gate's decision to the first moment after which every
	// read was served by the new side.
	Switch, SwitchBack       time.Duration
	SwitchErr, SwitchBackErr error
	// Window is the read-only window, from the start of the switch to the backup to the end of the
	// switch back; WindowSteps says where its time went.
	Window      time.Duration
	WindowSteps []StepTime
	plan        bool
	report      *LoadReport
}

// StepTime is a step of the read-only window and the time from the previous step's end to its end.
type StepTime struct {
	ID   string
	Took time.Duration
}

// switchLatencyTarget is the switch and rollback latency the benchmark aims under on loopback.
const switchLatencyTarget = 250 * time.Millisecond

func (r *BenchResult) fill(inv *inventory.Inventory, opt BenchOptions) {
	r.Naive.Name = "naive"
	r.Pitstop.Name = "pitstop readonly"
	r.Pitstop.plan = true
	lo := opt.Load
	lo.ReadURL = inv.Probe.URL
	_ = lo.defaults()
	reads, writes := "keep-alive", "a new connection per write"
	if lo.FreshReads {
		reads = "a new connection per read"
	}
	if lo.KeepAliveWrites {
		writes = "keep-alive"
	}
	r.Users = fmt.Sprintf("%d reads/s from %d readers (Go client, %s), a write every %s (%s), timeout %s",
		lo.ReadRate, lo.Readers, reads, lo.WriteEvery, writes, lo.Timeout)
	r.UpgradeSleep = opt.UpgradeSleep
	r.VerifyWindow = opt.VerifyWindow
	r.Balancer = inv.Probe.URL
}

// measurePlan reads the plan's timing from its events and the load report.
func (p *Procedure) measurePlan(events []steps.Event, inv *inventory.Inventory) {
	var decided, decidedBack, winStart, last time.Time
	for _, ev := range events {
		switch {
		case ev.Kind == steps.EvPlanStarted:
			p.Started = ev.Time
		case ev.Kind == steps.EvPlanFinished:
			p.Finished, p.Maintenance = ev.Time, ev.Duration
		case ev.Kind == steps.EvGateDecided && ev.Decision.Kind == steps.Confirm && ev.StepID == "switch-to-backup":
			decided = ev.Time
		case ev.Kind == steps.EvGateDecided && ev.Decision.Kind == steps.Confirm && ev.StepID == "switch-to-production":
			decidedBack = ev.Time
		case ev.Kind == steps.EvStepStarted && ev.Status == steps.StatusRunning && ev.StepID == "switch-to-backup":
			winStart, last = ev.Time, ev.Time
		case ev.Kind == steps.EvStepFinished && ev.Status == steps.StatusDone:
			if ev.StepID == "upgrade-production" || ev.StepID == "migrate-production" {
				p.Upgrade += ev.Duration
			}
			if !last.IsZero() {
				p.WindowSteps = append(p.WindowSteps, StepTime{ID: ev.StepID, Took: ev.Time.Sub(last)})
				last = ev.Time
				if ev.StepID == "switch-to-production" {
					p.Window, last = ev.Time.Sub(winStart), time.Time{}
				}
			}
		}
	}
	if p.report == nil {
		return
	}
	back, prod := upstreamOf(inv, inventory.Backup), upstreamOf(inv, inventory.Production)
	p.Switch, p.SwitchErr = latency(p.report, decided, decidedBack, back)
	p.SwitchBack, p.SwitchBackErr = latency(p.report, decidedBack, p.report.End, prod)
}

func latency(rep *LoadReport, from, until time.Time, upstream string) (time.Duration, error) {
	if from.IsZero() || until.IsZero() {
		return 0, fmt.Errorf("the switch did not happen")
	}
	at, err := rep.ServedFrom(from, until, upstream)
	if err != nil {
		return 0, err
	}
	return at.Sub(from), nil
}

// WriteTable prints the comparison and whether each target was met.
func (r *BenchResult) WriteTable(w io.Writer) {
	n, p := &r.Naive, &r.Pitstop
	fmt.Fprintf(w, "users:    %s, through %s\n", r.Users, r.Balancer)
	if r.UpgradeSleep > 0 {
		fmt.Fprintf(w, "upgrade:  appctl stop, sleep %s (a simulated install), appctl start v2 — in both procedures\n", r.UpgradeSleep)
	} else {
		fmt.Fprintln(w, "upgrade:  appctl stop/start to v2 and the migration, as the lab's inventory does them")
	}
	if r.VerifyWindow > 0 {
		fmt.Fprintf(w, "plan:     EXPERIMENT: the verify-traffic steps wait for %s of probes on the new side (built-in: 2s)\n", r.VerifyWindow)
	}
	fmt.Fprintf(w, "machine:  %d CPUs, load average %s before, %s after\n", r.CPUs, r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(w, "lab:      up %s, reset between the procedures (down and up) %s\n\n", secs(r.Up), secs(r.Reset))

	// Labels left-aligned, numbers right-aligned: tabwriter aligns every column one way, so the labels
	// are padded here.
	const label = 66
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(cells ...string) {
		fmt.Fprintln(tw, fmt.Sprintf("%-*s", label, cells[0])+"\t"+strings.Join(cells[1:], "\t")+"\t")
	}
	row("", "naive", "pitstop readonly", "pitstop/naive")
	count := func(name string, a, b int) { row(name, fmt.Sprint(a), fmt.Sprint(b), ratio(float64(a), float64(b))) }
	dur := func(name string, a, b time.Duration) { row(name, secs(a), secs(b), ratio(a.Seconds(), b.Seconds())) }
	count("requests", n.Load.Requests, p.Load.Requests)
	count("failed reads", n.Load.FailedReads, p.Load.FailedReads)
	count("refused writes", n.Load.RefusedWrites, p.Load.RefusedWrites)
	count("failed writes", n.Load.FailedWrites, p.Load.FailedWrites)
	count("seconds with reads unavailable", n.Load.ReadSecondsDown, p.Load.ReadSecondsDown)
	count("seconds with writes unavailable", n.Load.WriteSecondsDown, p.Load.WriteSecondsDown)
	dur("reads unavailable (sum of outages)", n.Load.ReadDowntime, p.Load.ReadDowntime)
	dur("writes unavailable (sum of outages)", n.Load.WriteDowntime, p.Load.WriteDowntime)
	dur("writes refused (read-only, sum of refused runs)", n.Load.RefusedFor, p.Load.RefusedFor)
	row("switch latency (confirm → all reads on backup)", "–", ms(p.Switch, p.SwitchErr), "")
	row("switch-back latency (confirm → all reads on production)", "–", ms(p.SwitchBack, p.SwitchBackErr), "")
	row("rollback latency (third run: decision → all reads on production)", "–", ms(r.Rollback, r.RollbackErr), "")
	dur("upgrade commands (production upgrade + migration)", n.Upgrade, p.Upgrade)
	dur("total maintenance time", n.Maintenance, p.Maintenance)
	tw.Flush()

	fmt.Fprintf(w, "\nnaive:    %s\npitstop:  %s\n", n.Load.UsersSaw(), p.Load.UsersSaw())
	fmt.Fprintf(w, "\nread-only window of the plan: %s =", secs(p.Window))
	for i, s := range p.WindowSteps {
		if i > 0 {
			fmt.Fprint(w, " +")
		}
		fmt.Fprintf(w, " %s %s", s.ID, secs(s.Took))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\ntargets:")
	target(w, "zero failed reads", p.Load.FailedReads == 0, fmt.Sprintf("%d failed reads", p.Load.FailedReads))
	target(w, "writes unavailable ≤ upgrade commands + 1s", p.Load.WriteDowntime <= p.Upgrade+time.Second,
		fmt.Sprintf("%s vs %s + 1s", secs(p.Load.WriteDowntime), secs(p.Upgrade)))
	target(w, "switch latency < 250ms", p.SwitchErr == nil && p.Switch < switchLatencyTarget, ms(p.Switch, p.SwitchErr))
	target(w, "rollback latency < 250ms", r.RollbackErr == nil && r.Rollback < switchLatencyTarget, ms(r.Rollback, r.RollbackErr))
}

func target(w io.Writer, name string, met bool, detail string) {
	verdict := "met   "
	if !met {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "  %s  %s (%s)\n", verdict, name, detail)
}

func ratio(a, b float64) string {
	switch {
	case a == 0 && b == 0:
		return "–"
	case a == 0:
		return "(naive 0)"
	}
	return fmt.Sprintf("%.2f", b/a)
}

func secs(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func ms(d time.Duration, err error) string {
	if err != nil {
		return "not measured: " + err.Error()
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// loadAverage is the machine's 1, 5 and 15 minute load averages, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpus() int { return runtime.NumCPU() }
