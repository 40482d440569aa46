package cli

import (
	"io"

	"github.com/pitstop-ops/pitstop/internal/live"
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "check -i FILE [--json]", stderr)
	file := inventoryFlag(fs, "", "inventory `FILE`")
	asJSON := fs.Bool("json", false, "print one JSON object per check (see docs/pairing-and-scripting.md)")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	inv, code := loadReal("check", *file, "there is nothing real to check (try pitstop plan -i demo)", stderr)
	if inv == nil {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	out := stdout
	if *asJSON {
		cj := &checkJSON{out: &jsonLines{w: stdout}}
		defer cj.flush()
		out = cj
	}
	ok := live.Check(ctx, inv, out)
	if !ok {
		return exitCode(ctx, exitFailed)
	}
	return exitCode(ctx, exitOK)
}
