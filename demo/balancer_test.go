package demo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

func TestSwitchMovesTraffic(t *testing.T) {
	inv := testInventory()
	w := startWorld(t, inv, Options{})
	b, p := w.Ports().Balancer, w.Ports().Probe
	eventually(t, "probe traffic starts", func() bool { return p.Stats(time.Second).Requests > 0 })
	for _, tc := range []struct {
		to    inventory.Side
		addrs []string
	}{
		{inventory.Backup, []string{"10.9.1.1:8080"}},
		{inventory.Production, []string{"10.9.0.1:8080", "10.9.0.2:8080", "10.9.0.3:8080"}},
	} {
		t.Run(string(tc.to), func(t *testing.T) {
			from, _ := b.Live(context.Background())
			out := &lines{}
			ch, err := b.Switch(context.Background(), tc.to, out.line)
			if err != nil {
				t.Fatalf("Switch: %v\n%s", err, out)
			}
			if ch.From != string(from) || ch.To != string(tc.to) || ch.File != inv.Balancer.File ||
				ch.Before != inv.Upstream(from) || ch.After != inv.Upstream(tc.to) {
				t.Errorf("Change = %+v; want %s→%s with the inventory's upstream blocks", ch, from, tc.to)
			}
			if live, _ := b.Live(context.Background()); live != tc.to {
				t.Errorf("Live = %s, want %s", live, tc.to)
			}
			for _, want := range []string{"renamed /etc/nginx/conf.d/shop-up.conf.pitstop-tmp → /etc/nginx/conf.d/shop-up.conf",
				"$ nginx -t", "syntax is ok", "$ nginx -s reload", "worker pids changed: ", "probes now served by " + tc.addrs[0]} {
				if !contains(out.all(), want) {
					t.Errorf("switch output:\n%s\nwant a line with %q", out, want)
				}
			}
			// Every response over the next simulated second comes from the new side's apps.
			time.Sleep(w.clock.real(1100 * time.Millisecond))
			s := p.Stats(time.Second)
			if s.Requests < 10 || s.Failed != 0 {
				t.Fatalf("probe after the switch: %d requests, %d failed; want ~20, none failed", s.Requests, s.Failed)
			}
			for addr, n := range s.Upstreams {
				if !contains(tc.addrs, addr) {
					t.Errorf("%d responses from %s, which is not on %s", n, addr, tc.to)
				}
			}
			if len(s.Upstreams) != len(tc.addrs) || !contains(tc.addrs, s.LastUpstream) {
				t.Errorf("upstreams %v (last %s); want round robin over %v", s.Upstreams, s.LastUpstream, tc.addrs)
			}
		})
	}
}

func TestSwitchPidsChangeEachReload(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	var pids []string
	for _, to := range []inventory.Side{inventory.Backup, inventory.Production, inventory.Backup} {
		out := &lines{}
		if _, err := w.Ports().Balancer.Switch(context.Background(), to, out.line); err != nil {
			t.Fatal(err)
		}
		for _, l := range out.all() {
			if _, after, ok := strings.Cut(l, "worker pids changed: "); ok {
				pids = append(pids, after)
			}
		}
	}
	if len(pids) != 3 {
		t.Fatalf("got %d pid lines, want 3", len(pids))
	}
	for i := 1; i < len(pids); i++ {
		prevNew := strings.Split(pids[i-1], " → ")[1]
		if old := strings.Split(pids[i], " → ")[0]; old != prevNew {
			t.Errorf("reload %d replaced workers %s, but the previous reload started %s", i+1, old, prevNew)
		}
	}
}

func TestSwitchErrors(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	b := w.Ports().Balancer
	if _, err := b.Switch(context.Background(), "staging", nil); err == nil || !strings.Contains(err.Error(), `"staging"`) {
		t.Errorf("Switch to an unknown side = %v; want an error naming it", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Switch(ctx, inventory.Backup, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Switch with a cancelled context = %v; want context.Canceled", err)
	}
	if live, _ := b.Live(context.Background()); live != inventory.Production {
		t.Errorf("Live after a cancelled switch = %s, want production", live)
	}
	if _, err := b.Live(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Live with a cancelled context = %v", err)
	}
}
