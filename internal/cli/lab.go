package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/pitstop-ops/pitstop/internal/lab"
)

func cmdLab(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	err := lab.Main(ctx, args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, lab.ErrUsage):
		fmt.Fprintln(stderr, err)
		return exitBadInput
	}
	fmt.Fprintln(stderr, err)
	return exitCode(ctx, exitFailed)
}
