package live

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// SwitchOptions tune `pitstop switch`.
type SwitchOptions struct {
	// Force sends users to a side whose app hosts fail their direct checks. It needs Confirm.
	Force bool
	// Operator names who switched, for the record of a forced switch.
	Operator string
	// Confirm asks the operator, in a terminal, to type want; it reports whether they did. Without
	// it a forced switch is refused: nobody could confirm it.
	Confirm func(prompt, want string) bool
	// Record receives one line for the record (the journal) when a switch is forced.
	Record func(line string)
	// DiscardBackupWrites lets a switch take users away from a promoted backup that holds writes
	// production lacks, after the operator typed the phrase naming how much (Confirm); it is recorded.
	DiscardBackupWrites bool
	// ConfirmTakeover and Note are passed to OpenLocked (see Options).
	ConfirmTakeover func(question string) bool
	Note            func(line string)
}

// Switch is SwitchWith without force.
func Switch(ctx context.Context, inv *inventory.Inventory, side inventory.Side, out io.Writer) error {
	return SwitchWith(ctx, inv, side, out, SwitchOptions{})
}

// SwitchWith makes side live on the balancer outside a plan — to put users back where they belong
// after a run that ended half-way — through the same proven path as a plan's switch and rollback:
// atomic write, the config test, the reload, new workers, probes served by side, and on any failure
// the previous file restored. Before it changes anything it acts on what the world shows now: it
// refuses when the upstream file disagrees with the side users are served by (unless side is the one
// serving them: that only makes the file true), and when side's app hosts fail their direct checks
// (unless forced and confirmed). It holds Pitstop's lock, so it cannot race a cockpit driving the
// same inventory. Each stage is written to out as a line.
func SwitchWith(ctx context.Context, inv *inventory.Inventory, side inventory.Side, out io.Writer, opt SwitchOptions) error {
	w, err := OpenLocked(ctx, withoutWrites(inv), Options{Operator: opt.Operator, ConfirmTakeover: opt.ConfirmTakeover, Note: opt.Note})
	if err != nil {
		return err
	}
	defer w.Close()
	what := "switch to " + string(side)
	file, err := w.Balancers.Live(ctx)
	if err != nil {
		return err
	}
	served := servedSide(ctx, w, 3*time.Second)
	switch {
	case served == "":
		fmt.Fprintf(out, "%s names %s; no probe through the balancer has answered yet, so the traffic could not be compared with it\n", inv.Balancer.File, file)
	case served != file && served != side:
		return &steps.RefusedError{What: what, Why: fmt.Sprintf("the upstream file %s on %s names %s but users are served by %s (a reload was lost or is still pending)", inv.Balancer.File, inv.Balancer.Host, file, served),
			Fix: fmt.Sprintf("make the file agree with the traffic first: pitstop switch -i %s --to %s; then switch to %s", inv.Source, served, side)}
	case served != file:
		fmt.Fprintf(out, "%s names %s but users are served by %s: writing %s makes the file agree with the traffic\n", inv.Balancer.File, file, served, side)
	default:
		fmt.Fprintf(out, "users are served by %s, as %s says\n", served, inv.Balancer.File)
	}
	on := served
	if on == "" {
		on = file
	}
	if err := backupAhead(ctx, w, inv, side, on, opt, out); err != nil {
		return err
	}
	checks := steps.CheckSide(ctx, w.Probe, inv, side)
	var bad []string
	for _, c := range checks {
		if c.OK {
			fmt.Fprintf(out, "%s answers directly: HTTP %d, version %s\n", c.Host, c.Status, c.Version)
			continue
		}
		why := c.Err
		if why == "" {
			why = fmt.Sprintf("HTTP %d", c.Status)
		}
		bad = append(bad, c.Host+": "+why)
	}
	forced := false
	if len(bad) > 0 {
		down := fmt.Sprintf("%s is down: %s", side, strings.Join(bad, "; "))
		if !opt.Force {
			return &steps.RefusedError{What: what, Why: down,
				Fix: fmt.Sprintf("start the app and check it answers %s, then switch again; to send users there anyway: pitstop switch -i %s --to %s --force (asks you to type %q)", inv.Upgrade.Verify.Path, inv.Source, side, side)}
		}
		if opt.Confirm == nil {
			return &steps.RefusedError{What: what, Why: down + "; --force needs a terminal to confirm in", Fix: "run it in a terminal"}
		}
		if !opt.Confirm(fmt.Sprintf("%s. Users sent there will get errors. Type %q to switch anyway: ", down, side), string(side)) {
			return &steps.RefusedError{What: what, Why: down + "; the confirmation was not typed", Fix: "nothing was changed"}
		}
		forced = true
		if opt.Record != nil {
			opt.Record(fmt.Sprintf("forced switch to %s by %s although %s", side, opt.Operator, down))
		}
	}
	_, err = w.Balancers.Switch(ctx, side, func(line string) { fmt.Fprintln(out, line) })
	if forced && opt.Record != nil {
		result := "done"
		if err != nil {
			result = "failed: " + err.Error()
		}
		opt.Record(fmt.Sprintf("forced switch to %s by %s %s", side, opt.Operator, result))
	}
	return err
}

// servedSide waits up to d for a probe through the balancer to answer and says which side served
// the newest answer ("" when none answered).
func servedSide(ctx context.Context, w *World, d time.Duration) inventory.Side {
	deadline := time.Now().Add(d)
	for {
		if s := steps.ServedSide(w.inv, w.Probe.Stats(2*time.Second)); s != "" || time.Now().After(deadline) {
			return s
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// backupAhead refuses a switch that takes users (now on side `on`) away from a promoted backup whose
// writes production does not have: the reverse sync's lag is not zero, or there is no reverse sync to
// tell. With DiscardBackupWrites and the typed phrase naming the amount, it lets the switch go on and
// records it.
func backupAhead(ctx context.Context, w *World, inv *inventory.Inventory, to, on inventory.Side, opt SwitchOptions, out io.Writer) error {
	back, prod := inv.Sides.Backup.Database, inv.Sides.Production.Database
	if on != inventory.Backup || to == inventory.Backup || back == "" {
		return nil
	}
	lags, err := w.DB.Replication(ctx)
	if err != nil {
		return nil // nothing proves the backup was promoted; the switch's own checks go on
	}
	promoted := true
	amount := "every write users made on " + back + " since it was promoted"
	for _, l := range lags {
		switch {
		case l.Kind == steps.Physical && l.To == back && l.Err == "":
			promoted = false // still a standby of production: it holds nothing production lacks
		case l.Kind == steps.Logical && l.From == back && l.To == prod && (l.Err == "" || l.Replay > 0):
			if l.Replay == 0 {
				return nil // the reverse sync has drained: production has every write
			}
			amount = fmt.Sprintf("%d bytes of %s's WAL not yet applied on %s", l.Replay, back, prod)
		}
	}
	if !promoted || !standbyPromoted(ctx, w, back) {
		return nil
	}
	what := "switch to " + string(to)
	why := fmt.Sprintf("%s was promoted and holds users' writes that %s does not have (%s)", back, prod, amount)
	phrase := "discard " + amount
	if !opt.DiscardBackupWrites || opt.Confirm == nil {
		return &steps.RefusedError{What: what, Why: why,
			Fix: fmt.Sprintf("let the reverse sync drain into %s first (see docs/safety.md#backup-ahead); to throw those writes away for users: pitstop switch -i %s --to %s --discard-backup-writes (in a terminal; asks you to type %q)", prod, inv.Source, to, phrase)}
	}
	if !opt.Confirm(why+". Type \""+phrase+"\" to switch anyway: ", phrase) {
		return &steps.RefusedError{What: what, Why: why + "; the confirmation was not typed", Fix: "nothing was changed"}
	}
	if opt.Record != nil {
		opt.Record(fmt.Sprintf("%s typed %q: switch to %s away from %s, whose writes %s lacks", opt.Operator, phrase, to, back, prod))
	}
	fmt.Fprintf(out, "discarding for users: %s\n", amount)
	return nil
}

// standbyPromoted asks host directly whether it is out of recovery (a primary).
func standbyPromoted(ctx context.Context, w *World, host string) bool {
	for _, s := range w.DB.HalfDone(ctx) {
		if strings.HasPrefix(s, host+" is a primary") {
			return true
		}
	}
	return false
}
