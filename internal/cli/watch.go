package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/pitstop-ops/pitstop/demo"
	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/steps"
)

func cmdWatch(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("watch", "watch -i FILE [--every D] [--count N] [--json]", stderr)
	file := inventoryFlag(fs, "", "inventory `FILE` (\"demo\" for the built-in demo shop)")
	every := fs.Duration("every", time.Second, "how often to print a reading")
	count := fs.Int("count", 0, "stop after N readings (0: until interrupted)")
	asJSON := fs.Bool("json", false, "print each reading as one JSON object, a journal readings event (see docs/pairing-and-scripting.md)")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	if *every <= 0 {
		fmt.Fprintf(stderr, "pitstop watch: --every %s: give a positive interval between readings, e.g. 1s or 500ms\n", *every)
		return exitBadInput
	}
	if *count < 0 {
		fmt.Fprintf(stderr, "pitstop watch: --count %d: give how many readings to print, or 0 to print until interrupted\n", *count)
		return exitBadInput
	}
	inv, code := loadInventory("watch", *file, stderr)
	if inv == nil {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	var world steps.World
	if inv.Source == "demo" {
		w := demo.NewWorld(inv, demo.Options{Speed: 1, Seed: time.Now().UnixNano()})
		w.Start(ctx)
		defer w.Close()
		world = w.Ports()
	} else {
		w, err := live.Open(ctx, inv, live.Options{})
		if err != nil {
			fmt.Fprintln(stderr, "pitstop watch:", err)
			return exitCode(ctx, exitFailed)
		}
		defer w.Close()
		world = w.Ports()
	}
	for n := 0; *count == 0 || n < *count; n++ {
		select {
		case <-ctx.Done():
			return exitCode(ctx, exitOK)
		case <-world.Clock.After(*every):
		}
		r := steps.TakeReadings(ctx, world, inv, *every)
		if *asJSON {
			(&jsonLines{w: stdout}).event(steps.Event{Seq: int64(n + 1), Time: world.Clock.Now(), Kind: steps.EvReadings, Readings: &r})
			continue
		}
		fmt.Fprintf(stdout, "%s %s\n", world.Clock.Now().Format("15:04:05"), steps.FormatReadings(&r))
	}
	return exitCode(ctx, exitOK)
}

// loadReal is loadInventory for commands that act on real hosts only: the demo inventory is refused,
// saying why with why.
