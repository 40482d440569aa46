package lab_test

import (
	"os"
	"testing"

	"github.com/pitstop-ops/pitstop/internal/lab"
)

// TestMain: the lab runs this test binary as its pitstop binary (see lab.StandIn).
func TestMain(m *testing.M) {
	lab.StandIn()
	os.Exit(m.Run())
}
