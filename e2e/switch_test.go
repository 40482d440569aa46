package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/inventory"
)

// TestSwitchCommand: `pitstop switch` (live.Switch) moves users to a side and back outside a plan,
// each time proven by requests through nginx, and says what it did.
func TestSwitchCommand(t *testing.T) {
	l := startLab(t, baseSwitch, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, side := range []inventory.Side{inventory.Backup, inventory.Production} {
		var out strings.Builder
		if err := live.Switch(ctx, l.Inv, side, &out); err != nil {
			t.Fatalf("switch to %s: %v\n%s", side, err, out.String())
		}
		if !strings.Contains(out.String(), string(side)+" is live") {
			t.Errorf("switch to %s did not say so:\n%s", side, out.String())
		}
		if got := upstreamFile(t, l); got != l.Inv.Upstream(side) {
			t.Errorf("after the switch to %s the upstream file is:\n%s", side, got)
		}
		app := l.Inv.Hosts[l.Inv.Sides.Get(side).Apps[0]].Serve
		if got := l.servedBy(t); got != app {
			t.Errorf("after the switch to %s a read was served by %s, want %s", side, got, app)
		}
	}
}

// servedBy makes one read through nginx, as a user would, and returns the upstream that served it.
func (l *testLab) servedBy(t *testing.T) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(l.Inv.Probe.URL)
	if err != nil {
		t.Fatalf("GET %s: %v", l.Inv.Probe.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", l.Inv.Probe.URL, resp.Status)
	}
	return resp.Header.Get(l.Inv.Probe.UpstreamHeader)
}
