package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/live"
)

// check runs `pitstop check` against the lab (live.Check, which cmdCheck calls after parsing -i) and
// returns its output and verdict.
func check(t *testing.T, l *testLab) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	start := time.Now()
	ok := live.Check(ctx, l.Inv, &out)
	t.Logf("check took %s:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	return out.String(), ok
}

// runAs runs a program as user (runuser, since the tests run as root).
func runAs(user, prog string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "runuser", append([]string{"-u", user, "--", prog}, args...)...).CombinedOutput()
	return string(out), err
}
