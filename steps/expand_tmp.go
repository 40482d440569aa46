package steps

import "github.com/pitstop-ops/pitstop/inventory"

// expand is replaced by inventory's Expand once it lands.
func expand(inv *inventory.Inventory, cmd, host string) string { return cmd }
