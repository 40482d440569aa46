package cli

import (
	"io"

	"github.com/pitstop-ops/pitstop/internal/live"
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "check -i FILE", stderr)
	file := inventoryFlag(fs, "", "inventory `FILE`")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	inv, code := loadReal("check", *file, "there is nothing real to check (try pitstop plan -i demo)", stderr)
	if inv == nil {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	ok := live.Check(ctx, inv, stdout)
	if !ok {
		return exitCode(ctx, exitFailed)
	}
	return exitCode(ctx, exitOK)
}
