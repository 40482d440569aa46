package inventory

// MaxUpstreamBytes is the largest upstream file the switch writes: the file's content travels to the
// balancer as one command-line argument, and Linux caps one argument at 128 KiB. internal/nginx
// refuses anything larger; the inventory is checked against it at load, so that a side too large to
// switch to is found before the run, not in the middle of one.
const MaxUpstreamBytes = 100 << 10

// upstreamSize adds up len(inv.Upstream(side)) while checkSides looks each app host up anyway,
// from the same pieces Upstream writes, without a second look-up per app or the file itself.
type upstreamSize struct {
	bytes int
	line  []byte // scratch for one server line
}

// add counts the server line of app host h, named app (nil when app is not in hosts: no line).
func (u *upstreamSize) add(h *Host, app string) {
	if h != nil {
		u.line = appendUpstreamServer(u.line[:0], h, app)
		u.bytes += len(u.line)
	}
}

// checkUpstreamSize checks the size of side's rendered upstream file, counted by u, against
// MaxUpstreamBytes.
func (c *checker) checkUpstreamSize(side Side, u *upstreamSize) {
	apps := c.inv.Sides.Get(side).Apps
	if len(apps) == 0 {
		return
	}
	if n := u.bytes + len(appendUpstreamTail(c.inv.appendUpstreamHead(u.line[:0]))); n > MaxUpstreamBytes {
		path := "sides." + string(side) + ".apps"
		c.errorf(path, "the rendered upstream of the %s side is %d bytes for %d app hosts; the switch writes at most %d (100 KiB): list fewer app hosts, or split the application into several inventories",
			side, n, len(apps), MaxUpstreamBytes)
	}
}
