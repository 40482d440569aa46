package steps

import (
	"strings"
	"testing"
)

// TestDescribeNamesEveryCommand: the printed plan shows the balancer's exact test and reload commands
// for each switch and the SQL of each database step, not only the step's name.
func TestDescribeNamesEveryCommand(t *testing.T) {
	inv := testInventory()
	inv.Balancer.Test, inv.Balancer.Reload = "sudo nginx -t", "sudo nginx -s reload"
	for plan, wants := range map[string][]string{
		PlanReadonly: {"lb$ sudo nginx -t", "lb$ sudo nginx -s reload", "pg_wal_replay_pause()", "pg_wal_replay_resume()",
			"app-p1$ install shop", "reach app-b1, app-p1, app-p2, db-b, db-p, lb;"},
		PlanReverseSync: {"lb$ sudo nginx -t", "default_transaction_read_only = on", "pg_promote(wait => true)",
			"CREATE PUBLICATION pitstop_reverse", "CREATE SUBSCRIPTION pitstop_reverse", "setval", "DROP SUBSCRIPTION pitstop_reverse",
			"RESET default_transaction_read_only", "db-b$ rebuild-standby"},
	} {
		p, err := Build(inv, plan)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		p.Describe(&b)
		for _, want := range wants {
			if !strings.Contains(b.String(), want) {
				t.Errorf("plan %s does not show %q:\n%s", plan, want, b.String())
			}
		}
	}
}
