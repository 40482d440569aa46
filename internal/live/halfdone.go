package live

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// checkApps reports what `pitstop check` must fail on about users and app hosts: users on the
// backup, an app host that does not answer its direct check, and app hosts of one side that report
// different versions. live is the side the upstream file names ("" when it could not be read).
func checkApps(ctx context.Context, w *World, inv *inventory.Inventory, live inventory.Side, ck *checker) {
	down := map[inventory.Side][]string{}
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		checks := steps.CheckSide(ctx, w.Probe, inv, side)
		for _, c := range checks {
			what := fmt.Sprintf("%s (%s app): answers directly", c.Host, side)
			if c.OK {
				what += fmt.Sprintf(", HTTP %d, version %s", c.Status, c.Version)
				ck.report(what, nil)
				continue
			}
			why := c.Err
			if why == "" {
				why = fmt.Sprintf("HTTP %d", c.Status)
			}
			down[side] = append(down[side], c.Host+": "+why)
			ck.report(c.Host+" ("+string(side)+" app)", fmt.Errorf("down: %s; start it, and check it answers %s directly", why, inv.Upgrade.Verify.Path))
		}
		if split := steps.VersionSplit(checks); split != "" {
			ck.report(string(side)+" app versions", fmt.Errorf("the %s app hosts run different versions (%s): finish or undo the upgrade on that side so that all run one version", side, split))
		}
	}
	if live == inventory.Backup {
		fix := fmt.Sprintf("send them back, verified by probes: pitstop switch -i %s --to production", inv.Source)
		if len(down[inventory.Production]) > 0 {
			fix = fmt.Sprintf("production is down (%s): start it first, then: pitstop switch -i %s --to production", strings.Join(down[inventory.Production], "; "), inv.Source)
		}
		ck.report("users", errors.New("users are on the backup (read-only or a promoted copy), not on production; "+fix))
	}
}

// checkLock reports a stale pitstop lock (its owner is gone) as a failure, and a held one as a note.
func checkLock(ctx context.Context, w *World, ck *checker) {
	held, err := w.Nginx.ReadLock(ctx)
	switch {
	case err != nil:
		ck.report("pitstop lock", err)
	case held == nil:
		ck.report(fmt.Sprintf("pitstop lock: free (%s on %s)", w.Nginx.LockFile(), w.inv.Balancer.Host), nil)
	case held.Stale != "":
		ck.report("pitstop lock", fmt.Errorf("%s on %s names %s, and it looks stale (%s): the next pitstop run or switch in a terminal asks to take it over", held.File, held.Host, held.Owner, held.Stale))
	default:
		ck.noteLine(fmt.Sprintf("a pitstop run holds the lock: %s (%s on %s)", held.Owner, held.File, held.Host))
	}
}
