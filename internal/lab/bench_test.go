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
		"1. naive: stop app-p1", "2. plain shell script", "3. pitstop run --plan readonly", "4. readonly plan again, rolled back",
		"naive  plain script  pitstop readonly  pitstop/naive  pitstop/script",
		"switch latency (confirm → all reads on backup)", "rollback latency (last run, readonly",
		"read-only window of plain script:", "read-only window of pitstop readonly:", "switch-to-backup",
		"zero failed reads", "no acknowledged write lost (checked by name)", "writes unavailable ≤ upgrade commands + 300ms",
		"writes unavailable shorter than the plain script's", "switch latency ≤ 100ms", "rollback latency ≤ 100ms",
		"rollback run (readonly plan): acknowledged writes missing from production's database: 0 of",
		"naive, per second:", "plain script, per second:", "pitstop readonly, per second:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bench output lacks %q", want)
		}
	}
	if strings.Contains(got, "not measured") || strings.Contains(got, "not checked") {
		t.Errorf("a latency was not measured or the writes were not checked")
	}
	// Every procedure's acknowledged writes are in production's database.
	if strings.Count(got, "acknowledged writes missing from production's database (by name)") != 1 {
		t.Errorf("the table lacks the row of lost writes")
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "acknowledged writes missing") && strings.Count(line, " 0 of ") != 3 {
			t.Errorf("acknowledged writes were lost: %s", line)
		}
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

// TestBenchReverseSync runs `pitstop lab bench --plan reverse-sync` for real: the table shows the plan's
// two fence-to-switch windows step by step, and every write users saw acknowledged — some by the
// promoted backup — is in production's database afterwards.
func TestBenchReverseSync(t *testing.T) {
	if testing.Short() {
		t.Skip("the downtime benchmark runs a lab through four procedures (about 40s)")
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the lab bench runs PostgreSQL via runuser: run the test as root, as CI does")
	}
	dir := labDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, errs strings.Builder
	err := lab.Main(ctx, []string{"bench", "--dir", dir, "--port-base", "17800", "--settle", "500ms", "--plan", "reverse-sync"}, &out, &errs)
	t.Logf("output:\n%s%s", out.String(), errs.String())
	if err != nil {
		t.Fatalf("lab bench --plan reverse-sync: %v", err)
	}
	got := out.String()
	for _, want := range []string{
		"3. pitstop run --plan reverse-sync", "naive  plain script  pitstop reverse-sync",
		"write windows of pitstop reverse-sync:", "fence-production", "drain", "promote-backup", "fence-backup", "reverse-drain",
		"fence-to-switch window 1 ≤ 500ms", "fence-to-switch window 2 ≤ 500ms", "writes unavailable ≤ upgrade commands + 1s",
		"met     no acknowledged write lost (checked by name)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bench output lacks %q", want)
		}
	}
	if strings.Contains(got, "two fence-to-switch windows") || strings.Contains(got, "not checked") {
		t.Errorf("the windows or the writes were not measured")
	}
}
