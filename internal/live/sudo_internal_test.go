package live

import (
	"testing"

	"github.com/pitstop-ops/pitstop/inventory"
)

// TestUsesSudo: each host is asked for sudo only when a command that runs on it uses sudo.
func TestUsesSudo(t *testing.T) {
	inv := &inventory.Inventory{
		Balancer: inventory.Balancer{Host: "lb", Test: "sudo nginx -t", Reload: "sudo nginx -s reload"},
		Sides: inventory.Sides{
			Production: inventory.SideSpec{Apps: []string{"app-p"}, Database: "db-p"},
			Backup:     inventory.SideSpec{Apps: []string{"app-b"}, Database: "db-b", Replicas: []string{"cdn"}},
		},
		Upgrade:     inventory.Upgrade{Commands: []string{"sudo systemctl restart shop"}},
		ReverseSync: inventory.ReverseSync{Rebuild: []string{"sudo -u postgres pg_basebackup -D /x"}},
	}
	for host, want := range map[string]bool{"lb": true, "app-p": true, "app-b": true, "db-p": false, "db-b": true, "cdn": false} {
		if got := usesSudo(inv, host); got != want {
			t.Errorf("usesSudo(%s) = %v, want %v", host, got, want)
		}
	}
	inv.Upgrade.Commands = []string{"systemctl restart shop"}
	if usesSudo(inv, "app-p") {
		t.Error("usesSudo(app-p) with no sudo in the upgrade commands")
	}
}
