// Package testenv decides what a test does when the machine lacks what it needs (a program, root):
// it skips, so `go test ./...` works anywhere, unless PITSTOP_REQUIRE_ALL is set — as scripts/test
// and so CI do — where a skipped test would hide a missing install step behind a green run.
package testenv

import (
	"os"
	"testing"
)

// RequireAll is the environment variable that turns these skips into failures.
const RequireAll = "PITSTOP_REQUIRE_ALL"

// Missing skips t, saying why, or fails it when RequireAll is set.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(RequireAll) != "" {
		t.Fatalf("%s (%s is set, so every test must run here: install what is missing, or run as root)", why, RequireAll)
	}
	t.Skip(why)
}
