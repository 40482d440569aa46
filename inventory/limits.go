package inventory

// MaxUpstreamBytes is the largest upstream file the switch writes: the file's content travels to the
// balancer as one command-line argument, and Linux caps one argument at 128 KiB. internal/nginx
// refuses anything larger; the inventory is checked against it at load, so that a side too large to
// switch to is found before the run, not in the middle of one.
const MaxUpstreamBytes = 100 << 10

// checkUpstreamSize renders each side's upstream file and checks it against MaxUpstreamBytes.
func (c *checker) checkUpstreamSize() {
	for _, side := range []Side{Production, Backup} {
		apps := c.inv.Sides.Get(side).Apps
		if len(apps) == 0 {
			continue
		}
		if n := len(c.inv.Upstream(side)); n > MaxUpstreamBytes {
			path := "sides." + string(side) + ".apps"
			c.errorf(path, "the rendered upstream of the %s side is %d bytes for %d app hosts; the switch writes at most %d (100 KiB): list fewer app hosts, or split the application into several inventories",
				side, n, len(apps), MaxUpstreamBytes)
		}
	}
}
