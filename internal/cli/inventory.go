package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/pitstop-ops/pitstop/demo"
	"github.com/pitstop-ops/pitstop/inventory"
)

func loadReal(cmd, file, why string, stderr io.Writer) (*inventory.Inventory, int) {
	inv, code := loadInventory(cmd, file, stderr)
	if inv != nil && inv.Source == "demo" {
		fmt.Fprintf(stderr, "pitstop %s: the demo inventory is simulated; %s\n", cmd, why)
		return nil, exitBadInput
	}
	return inv, code
}

// loadInventory loads FILE, or the demo inventory for "demo". On failure it prints the errors and
// returns a nil inventory with the exit code.
func loadInventory(cmd, file string, stderr io.Writer) (*inventory.Inventory, int) {
	if file == "" {
		fmt.Fprintf(stderr, "pitstop %s: -i FILE is required (or --inventory FILE: an inventory YAML file, or \"demo\")\n", cmd)
		return nil, exitBadInput
	}
	var inv *inventory.Inventory
	var err error
	if file == "demo" {
		inv, err = demo.Inventory()
	} else {
		inv, err = inventory.Load(file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pitstop %s: %v\n", cmd, err)
		return nil, exitBadInput
	}
	return inv, exitOK
}

// faultNames lists the demo's faults for --fault's help, one per line with what it does.
func faultNames() string {
	var b strings.Builder
	for _, f := range demo.Faults() {
		fmt.Fprintf(&b, "\n  %-13s %s", f.Fault, f.Description)
	}
	return b.String()
}
