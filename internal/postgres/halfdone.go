package postgres

import (
	"context"
	"fmt"
)

// Fenced tells whether host is fenced now: a primary whose new sessions start read-only
// (default_transaction_read_only = on, which Fence sets with ALTER SYSTEM). A standby is read-only by
// nature, not fenced. It makes *Cluster a steps.FenceReader.
func (c *Cluster) Fenced(ctx context.Context, host string) (bool, error) {
	n, err := c.node(host)
	if err != nil {
		return false, err
	}
	var fenced bool
	if err := n.queryRow(ctx, c.opt.QueryTimeout, `SELECT current_setting('default_transaction_read_only') = 'on' AND NOT pg_is_in_recovery()`, nil, &fenced); err != nil {
		return false, n.fail("read whether it is fenced", err)
	}
	return fenced, nil
}

// HalfDone lists, one line each with its fix, every state of the databases that an upgrade leaves
// only half-way: a fence set (on any database), a backup database that was promoted, and a reverse
// sync left behind (production's subscription, the backup's slot or publication). Paused replay is
// in Replication's readings. A database that cannot be read is reported too: nothing proves it clean.
func (c *Cluster) HalfDone(ctx context.Context) []string {
	prod, back := c.inv.Sides.Production.Database, c.inv.Sides.Backup.Database
	var out []string
	hosts := []string{prod}
	if back != "" && back != prod {
		hosts = append(hosts, back)
	}
	for _, h := range hosts {
		n, err := c.node(h)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", h, err))
			continue
		}
		var readOnly string
		var rec, sub, slot, pub bool
		err = n.queryRow(ctx, c.opt.QueryTimeout, `SELECT current_setting('default_transaction_read_only'), pg_is_in_recovery(),
			EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1),
			EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),
			EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, []any{reverseName}, &readOnly, &rec, &sub, &slot, &pub)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: cannot tell whether it is fenced or holds a reverse sync: %v", h, n.fail("read its state", err)))
			continue
		}
		if readOnly == "on" && !rec {
			out = append(out, fmt.Sprintf("%s is fenced read-only (default_transaction_read_only = on): once users should write there, in psql on %s run %s", h, h, UnfenceSQL))
		}
		if h == back && !rec {
			out = append(out, fmt.Sprintf("%s is a primary, no longer a standby of %s (promoted by a reverse-sync run): make sure %s has every write it took, then rebuild it as a standby (reverse_sync.rebuild)", h, prod, prod))
		}
		if sub {
			out = append(out, fmt.Sprintf("%s still subscribes to the reverse sync (subscription %s): once it has every write of %s, in psql on %s run %s", h, reverseName, back, h, dropSubscriptionSQL))
		}
		if slot || pub {
			what := "publication"
			switch {
			case slot && pub:
				what = "slot and publication"
			case slot:
				what = "slot"
			}
			out = append(out, fmt.Sprintf("%s still has the reverse sync's %s %s (a slot keeps WAL forever): after the subscription is gone, in psql on %s run %s", h, what, reverseName, h, dropCaptureSQL))
		}
	}
	return out
}
