package lab_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/pitstop-ops/pitstop/lab"
)

// TestMain lets the test binary stand in for the pitstop binary: the lab starts its applications as
// `PITSTOP lab app …` and its inventory migrates with `PITSTOP lab migrate …`, and Options.Pitstop
// defaults to the running executable, which in a test is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "lab" {
		if err := lab.Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
