package cli

import (
	"fmt"
	"io"

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/inventory"
)

func cmdSwitch(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("switch", "switch -i FILE --to production|backup", stderr)
	file := inventoryFlag(fs, "", "inventory `FILE`")
	to := fs.String("to", "", "the `SIDE` to make live: production or backup")
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
	if err := live.Switch(ctx, inv, side, stdout); err != nil {
		fmt.Fprintln(stderr, "pitstop switch:", err)
		return exitFailed
	}
	return exitOK
}
