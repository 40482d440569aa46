package inventory

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestDemoInventory parses the demo shop the way demo.Inventory does (it lives in package demo,
// which builds on this one, so the file is read directly).
func TestDemoInventory(t *testing.T) {
	data, err := os.ReadFile("../demo/inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Parse("demo", data)
	if err != nil {
		t.Fatalf("the demo inventory is invalid:\n%v", err)
	}
	if got, want := inv.HostNames(), []string{"app-b1", "app-b2", "app-p1", "app-p2", "cdn-1", "cdn-2", "db-backup", "db-prod", "lb"}; !slices.Equal(got, want) {
		t.Errorf("hosts = %v, want %v", got, want)
	}
	if got, want := inv.Standbys(), []string{"db-backup", "cdn-1", "cdn-2"}; !slices.Equal(got, want) {
		t.Errorf("standbys = %v, want %v", got, want)
	}
	if inv.Name != "demo-shop" || inv.Balancer.Host != "lb" || inv.Upgrade.Version != "2.4.0" {
		t.Errorf("name %q, balancer %q, version %q", inv.Name, inv.Balancer.Host, inv.Upgrade.Version)
	}
	up := inv.Upstream(Backup)
	for _, want := range []string{"upstream shop_backend {", "server 10.0.2.11:8080; # app-b1", "server 10.0.2.12:8080; # app-b2"} {
		if !strings.Contains(up, want) {
			t.Errorf("backup upstream lacks %q:\n%s", want, up)
		}
	}
	if got, want := inv.Expand(inv.Upgrade.Commands[1], "app-p2"), "sudo apt-get install -y shop=2.4.0"; got != want {
		t.Errorf("install command on app-p2 = %q, want %q", got, want)
	}
	if side := inv.SideOfAddr("10.0.1.12:8080"); side != Production {
		t.Errorf("SideOfAddr(10.0.1.12:8080) = %q, want production", side)
	}
	// Nothing in the demo may point at a routable address: it is simulated only.
	for _, h := range inv.Hosts {
		for _, v := range []string{h.SSH, h.Serve, h.Postgres} {
			if v != "" && !strings.Contains(v, "10.0.") && !strings.Contains(v, ".internal") {
				t.Errorf("host %s has %q, which is neither 10.0.x.x nor *.internal", h.Name, v)
			}
		}
	}
}
