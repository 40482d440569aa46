package steps

import (
	"context"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// UpstreamPreviewer is implemented by a Balancer that can show what a switch will write: the
// upstream file as it is on the balancer now, and as a switch to side would leave it (only its
// server lines change). The gate's diff is then against the live file.
type UpstreamPreviewer interface {
	Preview(ctx context.Context, to inventory.Side) (before, after string, err error)
}

// RenderedLabel heads a diff that was rendered from the inventory because the live file could not be
// read: the real file may hold more (keepalive, zone, comments) that the switch keeps.
const RenderedLabel = "(rendered from the inventory, not read from the balancer: the live file's own lines are not shown)"

// upstreamDiff is the diff a switch to side makes to the balancer's upstream file: against the live
// file when the balancer can read it, else rendered from the inventory and labelled so.
func (e *Engine) upstreamDiff(ctx context.Context, to inventory.Side) []string {
	var why string
	if p, ok := e.world.Balancer.(UpstreamPreviewer); ok {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		before, after, err := p.Preview(ctx, to)
		cancel()
		if err == nil {
			return diffLines(before, after)
		}
		why = "(the live upstream file could not be read: " + err.Error() + ")"
	}
	out := []string{RenderedLabel}
	if why != "" {
		out = append(out, why)
	}
	return append(out, diffLines(e.inv.Upstream(to.Other()), e.inv.Upstream(to))...)
}

// UseLiveUpstream makes each switch's diff start from the balancer's upstream file as it is now
// (live, read from host): the first switch rewrites it, each later switch what the one before wrote.
func (p *Plan) UseLiveUpstream(inv *inventory.Inventory, live, host string) error {
	cur := live
	for _, st := range p.Steps() {
		if st.Action != ActSwitch || st.Config == nil {
			continue
		}
		after, err := inv.RewriteUpstream(cur, st.Side)
		if err != nil {
			return err
		}
		st.Config.Before, st.Config.After = cur, after
		st.ConfigSource = "diff against the live file on " + host + ", read now"
		cur = after
	}
	return nil
}

// MarkRendered labels every switch's diff as rendered from the inventory, saying why the live file
// was not read.
func (p *Plan) MarkRendered(why string) {
	for _, st := range p.Steps() {
		if st.Action == ActSwitch {
			st.ConfigSource = RenderedLabel
			if why != "" {
				st.ConfigSource += " — " + why
			}
		}
	}
}
