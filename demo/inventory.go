package demo

import (
	_ "embed"

	"github.com/pitstop-ops/pitstop/inventory"
)

// InventoryYAML is the demo shop's inventory as written, comments included (for `pitstop demo` to
// show and for tests to seed from). Treat it as read-only.
//
//go:embed inventory.yaml
var InventoryYAML []byte

// Inventory parses the demo shop's inventory. Its source in error messages is "demo". Every call
// returns a new inventory, so callers may change theirs.
func Inventory() (*inventory.Inventory, error) {
	return inventory.Parse("demo", InventoryYAML)
}
