package ui

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMeasureIdleCPU logs the CPU an idle cockpit (plan finished, nothing arriving) uses in five
// seconds, through a real program. It measures, it does not judge: UI_MEASURE=1 go test ./ui -run
// TestMeasureIdleCPU -v (numbers in BENCHMARKS.md).
func TestMeasureIdleCPU(t *testing.T) {
	if os.Getenv("UI_MEASURE") == "" {
		t.Skip("set UI_MEASURE=1 to measure")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inv := fixtureInventory(2)
	c := New(Config{Inventory: inv, Plan: fixturePlan(inv), Now: fixedNow})
	in, inW := io.Pipe()
	defer inW.Close()
	out := &syncBuffer{}
	c.testOpts = []tea.ProgramOption{tea.WithInput(in), tea.WithOutput(out), tea.WithWindowSize(100, 30),
		tea.WithoutSignalHandler(), tea.WithColorProfile(colorprofile.Ascii)}
	go func() { _ = c.Run(ctx) }()
	for _, ev := range toFinished(inv).evs {
		c.Emit(ev)
	}
	c.Done(nil)
	waitOutput(t, out, "PLAN FINISHED")
	time.Sleep(time.Second)
	start := cpuTime()
	time.Sleep(5 * time.Second)
	t.Logf("idle cockpit: %v of CPU in 5s", cpuTime()-start)
}
