package lab_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/internal/testenv"
)

// TestBenchCLI runs `pitstop lab bench` for real on one lab (with short settling times) and checks
// that it measured both procedures, the switch and the rollback, and judged every target.
func TestBenchCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("the downtime benchmark runs a lab through three procedures (about 25s)")
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the lab bench runs PostgreSQL via runuser: run the test as root, as CI does")
	}
	dir := labDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errs strings.Builder
	err := lab.Main(ctx, []string{"bench", "--dir", dir, "--port-base", "17800", "--settle", "500ms", "--timeline"}, &out, &errs)
	t.Logf("output:\n%s%s", out.String(), errs.String())
	if err != nil {
		t.Fatalf("lab bench: %v", err)
	}
	got := out.String()
	for _, want := range []string{
		"1. naive: stop app-p1", "2. pitstop run --plan readonly", "3. readonly plan again, rolled back",
		"naive  pitstop readonly  pitstop/naive",
		"switch latency (confirm → all reads on backup)", "rollback latency (third run",
		"read-only window of the plan:", "verify-backup-traffic",
		"zero failed reads", "writes unavailable ≤ upgrade commands + 1s", "switch latency < 250ms", "rollback latency < 250ms",
		"naive, per second:", "pitstop readonly, per second:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bench output lacks %q", want)
		}
	}
	if strings.Contains(got, "not measured") {
		t.Errorf("a latency was not measured")
	}
	// The lab is down afterwards and its files stay in --dir.
	st, err := lab.Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Running() != 0 {
		t.Errorf("%d lab processes still run after the bench:\n%s", st.Running(), st)
	}
}
