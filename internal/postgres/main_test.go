package postgres

import (
	"fmt"
	"os"
	"testing"

	"github.com/pitstop-ops/pitstop/internal/testenv"
)

// Ports: this package's tests use 15400–15499 on 127.0.0.1.
const (
	portShared  = 15401 // shared pair: 15401 primary, 15402 standby
	portReplica = 15403 // extra replica of the shared primary
	portPromote = 15411 // fresh pair for promotion and the reverse sync
	portDetach  = 15421 // fresh pair for stopping a reverse sync whose publisher is down
)

// shared is one primary and standby for the tests that leave them as they found them. Starting
// servers costs seconds on two cores; tests that promote build a fresh pair instead.
var shared *pair

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) (code int) {
	defer removeTemplate()
	if havePostgres() {
		p, err := startPair("shared-", portShared)
		defer p.destroy()
		if err != nil {
			fmt.Fprintf(os.Stderr, "start the shared primary and standby: %v\n", err)
			if p != nil && p.primary != nil {
				fmt.Fprintf(os.Stderr, "primary log:\n%s\n", p.primary.logTail())
			}
			return 1
		}
		shared = p
	}
	defer func() {
		// Stop the servers even when a test panics, then let the panic through.
		if r := recover(); r != nil {
			shared.destroy()
			panic(r)
		}
	}()
	return m.Run()
}

// sharedPair returns the shared pair, skipping the test when PostgreSQL is not installed.
func sharedPair(t *testing.T) *pair {
	t.Helper()
	if shared == nil {
		testenv.Missing(t, "PostgreSQL 15 is not installed in "+pgBinDir)
	}
	return shared
}
