package steps

import (
	"slices"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/inventory"
)

// TestSwitchGateDiffAgainstLiveFile: the switch gate shows the diff against the balancer's live
// upstream file — its own directives unchanged, only server lines moved — and, when the file cannot
// be read, a diff rendered from the inventory that says so.
func TestSwitchGateDiffAgainstLiveFile(t *testing.T) {
	f := newFakeWorld(testInventory())
	f.liveFile = "upstream shop {\n    least_conn;\n    server 10.0.0.1:80 weight=3; # app-p1\n    server 10.0.0.2:80; # app-p2\n    keepalive 16;\n}\n"
	r := startRun(t, f, PlanReadonly, false)
	g := r.confirmUntil("switch-to-backup")
	for _, want := range []string{"  upstream shop {", "      least_conn;", "-     server 10.0.0.1:80 weight=3; # app-p1", "+     server 10.0.1.1:80; # app-b1", "      keepalive 16;"} {
		if !slices.Contains(g.Changes, want) {
			t.Errorf("switch gate lacks %q:\n%s", want, strings.Join(g.Changes, "\n"))
		}
	}
	for _, c := range g.Changes {
		if strings.Contains(c, "Pitstop switches") || c == RenderedLabel {
			t.Errorf("switch gate shows a line the live file does not have: %q", c)
		}
	}
	r.decide("switch-to-backup", Abort)
	r.finished()

	f = newFakeWorld(testInventory())
	r = startRun(t, f, PlanReadonly, false)
	g = r.confirmUntil("switch-to-backup")
	if len(g.Changes) < 2 || g.Changes[0] != RenderedLabel || !strings.Contains(g.Changes[1], "connection refused") {
		t.Errorf("switch gate without a readable file:\n%s", strings.Join(g.Changes, "\n"))
	}
	r.decide("switch-to-backup", Abort)
	r.finished()
}

// TestSeveralBalancersInPlan: with balancer.hosts, each switch acts on every balancer, each with its
// test and reload.
func TestSeveralBalancersInPlan(t *testing.T) {
	inv := testInventory()
	inv.Hosts["lb2"] = &inventory.Host{Name: "lb2", SSH: "local"}
	inv.Balancer.Hosts = []string{"lb", "lb2"}
	p, err := Build(inv, PlanReadonly)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	p.Describe(&b)
	for _, w := range []string{"on lb,lb2: write /etc/nginx/conf.d/shop.conf atomically", "lb2$ nginx -t"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("plan lacks %q:\n%s", w, b.String())
		}
	}
}
