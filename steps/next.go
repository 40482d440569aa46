package steps

import (
	"context"
	"fmt"

	"github.com/pitstop-ops/pitstop/inventory"
)

// The "next" items that name a command: on real hosts the exact command; in the simulated demo, where
// nothing real moved and `pitstop switch` refuses the demo inventory, what to do in the demo instead.

// onBackupNext says how to bring users back from the backup after a run that ended there: first what
// is down on production, if anything is.
func (e *Engine) onBackupNext(ctx context.Context) string {
	if !e.world.Live {
		down := ""
		if bad := SideDown(ctx, e.world.Probe, e.inv, inventory.Production); len(bad) > 0 {
			down = fmt.Sprintf(", and production is down there (%s)", e.describeDown(bad))
		}
		return "users are on the backup in the simulated demo" + down + ": to rehearse sending them back, run pitstop demo again and press R at a gate after the switch"
	}
	return e.backToProduction(ctx)
}

// backupAheadNext says what to do while the promoted backup holds writes production lacks.
func (e *Engine) backupAheadNext(prod, back string) string {
	s := fmt.Sprintf("%s holds users' writes that %s does not have: do NOT send users to production and do NOT rebuild %s until those writes are in %s; keep users on the backup meanwhile. ", back, prod, back, prod)
	if !e.world.Live {
		return s + fmt.Sprintf("In the simulated demo nothing real moved: pitstop plan -i %s --plan reverse-sync shows the reverse sync's SQL you would run by hand", e.inv.Source)
	}
	return s + fmt.Sprintf("A new run cannot pick this up: bring them over by hand with the reverse sync's own SQL (pitstop plan -i %s --plan reverse-sync shows it) and watch it catch up with pitstop watch -i %s", e.inv.Source, e.inv.Source)
}

// forDemo puts, before the items of a simulated run, that nothing real was left half-way: the items
// are what a real run would leave to do, worth reading as a rehearsal, not commands to run now.
func (e *Engine) forDemo(items []string) []string {
	if e.world.Live || len(items) == 0 {
		return items
	}
	return append([]string{"this was the simulated demo: nothing real is left half-way and the demo world ends when you quit; what follows is what a real run would leave you to do"}, items...)
}
