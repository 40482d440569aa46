package probe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/nginx"
	"github.com/pitstop-ops/pitstop/internal/nginx/nginxtest"
	"github.com/pitstop-ops/pitstop/internal/probe"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Port bases of this package's tests (18500–18999; the nginx package uses 18000–18499).
const (
	baseThrough  = 18500
	baseFailures = 18510
	baseRefused  = 18520
	baseStopped  = 18530
	baseVariant  = 18540
)

const rate = 50

func startProbe(t *testing.T, lab *nginxtest.Lab) *probe.Prober {
	t.Helper()
	p := probe.New(lab.Inv, probe.Options{Rate: rate, HostEvery: 100 * time.Millisecond})
	p.Start(context.Background())
	t.Cleanup(p.Stop)
	return p
}

// waitFor polls cond until it holds, or fails the test after timeout saying what.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProbeThroughNginx(t *testing.T) {
	lab := nginxtest.NewLab(t, baseThrough)
	p := startProbe(t, lab)
	waitFor(t, 5*time.Second, "25 probe requests and 3 writes", func() bool {
		st := p.Stats(time.Minute)
		return st.Requests >= 25 && st.Writes >= 3 && len(st.Hosts) == 2
	})
	st := p.Stats(time.Minute)
	if st.Failed != 0 || st.Success() != 100 {
		t.Errorf("%d of %d requests failed through a healthy nginx", st.Failed, st.Requests)
	}
	if len(st.Upstreams) != 1 || st.Upstreams[lab.Prod.Addr] != st.Requests || st.LastUpstream != lab.Prod.Addr || st.Version != "1.0" {
		t.Errorf("before the switch: upstreams %v, last %q, version %q; want all from %s at 1.0", st.Upstreams, st.LastUpstream, st.Version, lab.Prod.Addr)
	}
	if st.P50 <= 0 || st.P50 > st.P99 || st.P99 >= lab.Inv.Probe.Timeout {
		t.Errorf("latency p50 %v, p99 %v: want 0 < p50 ≤ p99 < %v", st.P50, st.P99, lab.Inv.Probe.Timeout)
	}
	if st.WritesRefused != 0 || st.WritesFailed != 0 {
		t.Errorf("writes: %d, %d refused, %d failed; want none refused or failed", st.Writes, st.WritesRefused, st.WritesFailed)
	}
	if n := p.Stats(time.Second).Requests; n > rate+2 {
		t.Errorf("%d requests within one second at %d/s", n, rate)
	}
	wantHosts := []steps.HostCheck{{Host: "app-backup", OK: true, Status: 200, Version: "2.0"}, {Host: "app-prod", OK: true, Status: 200, Version: "1.0"}}
	for i, h := range st.Hosts {
		h.Latency = 0
		if h != wantHosts[i] {
			t.Errorf("host check %d = %+v, want %+v", i, h, wantHosts[i])
		}
	}

	// Switch, proven by the probe itself; from then on it sees the backup.
	b := nginx.New(lab.Inv, lab.Runner, p)
	if _, err := b.Switch(context.Background(), inventory.Backup, func(string) {}); err != nil {
		t.Fatal(err)
	}
	switched := time.Now()
	time.Sleep(300 * time.Millisecond)
	after := p.Stats(time.Since(switched))
	if after.Requests < 5 || len(after.Upstreams) != 1 || after.Upstreams[lab.Backup.Addr] != after.Requests || after.Version != "2.0" {
		t.Errorf("after the switch: %d requests, upstreams %v, version %q; want all from %s at 2.0", after.Requests, after.Upstreams, after.Version, lab.Backup.Addr)
	}
	all := p.Stats(time.Minute)
	if all.Failed != 0 || all.WritesFailed != 0 || all.Upstreams[lab.Prod.Addr] == 0 || all.Upstreams[lab.Backup.Addr] == 0 {
		t.Errorf("across the switch: %d failed, %d writes failed, upstreams %v; want both sides and no failure", all.Failed, all.WritesFailed, all.Upstreams)
	}
}

func TestProbeCountsFailures(t *testing.T) {
	lab := nginxtest.NewLab(t, baseFailures)
	p := startProbe(t, lab)
	ctx := context.Background()
	if ev, err := p.ServedBy(ctx, inventory.Production, 3*time.Second); err != nil {
		t.Fatalf("ServedBy(production) on a healthy lab: %v", err)
	} else if !strings.Contains(ev, "were all served by production") || !strings.Contains(ev, lab.Prod.Addr) {
		t.Errorf("ServedBy account: %s", ev)
	}
	if _, err := p.ServedBy(ctx, inventory.Backup, 500*time.Millisecond); err == nil || !strings.Contains(err.Error(), lab.Prod.Addr+" (production)") {
		t.Errorf("ServedBy(backup) while production serves: %v", err)
	}

	// ServedNow makes its own requests, one after another: no running probe needed, and it is quick.
	if ev, err := p.ServedNow(ctx, inventory.Production, 5, 3*time.Second); err != nil {
		t.Fatalf("ServedNow(production) on a healthy lab: %v", err)
	} else if !strings.Contains(ev, "5 requests through") || !strings.Contains(ev, "5× "+lab.Prod.Addr+" (production)") {
		t.Errorf("ServedNow account: %s", ev)
	}
	if _, err := p.ServedNow(ctx, inventory.Backup, 5, 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "not 5 in a row served by backup") ||
		!strings.Contains(err.Error(), lab.Prod.Addr+" (production)") {
		t.Errorf("ServedNow(backup) while production serves: %v", err)
	}

	lab.Prod.Stop() // nginx now answers 502
	down := time.Now()
	waitFor(t, 5*time.Second, "10 failed requests and 2 failed writes", func() bool {
		st := p.Stats(time.Since(down))
		return st.Failed >= 10 && st.WritesFailed >= 2
	})
	st := p.Stats(time.Since(down))
	if st.Success() >= 100 || st.WritesRefused != 0 {
		t.Errorf("with production down: success %.1f%%, writes refused %d; want < 100%% and 502s counted as failed", st.Success(), st.WritesRefused)
	}
	_, err := p.ServedBy(ctx, inventory.Production, 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "HTTP 502 via "+lab.Prod.Addr+" (production)") {
		t.Errorf("ServedBy(production) while it is down: %v", err)
	}
	_, err = p.ServedNow(ctx, inventory.Production, 5, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "HTTP 502 via "+lab.Prod.Addr+" (production)") {
		t.Errorf("ServedNow(production) while it is down: %v", err)
	}
	c, err := p.Check(ctx, "app-prod")
	if err != nil || c.OK || !strings.Contains(c.Err, "connection refused") || !strings.Contains(c.Err, "http://"+lab.Prod.Addr+"/health") {
		t.Errorf("Check(app-prod) while down = %+v, %v", c, err)
	}

	if err := lab.Prod.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ServedBy(ctx, inventory.Production, 3*time.Second); err != nil {
		t.Errorf("ServedBy(production) after it came back: %v", err)
	}
	if c, _ := p.Check(ctx, "app-prod"); !c.OK || c.Version != "1.0" || c.Status != 200 {
		t.Errorf("Check(app-prod) after it came back = %+v", c)
	}
}

// TestProbeCountsRefusedWrites: through nginx, the application's read-only answer counts as a
// refused write (any 503 by default), a 500 as a failed one; the totals keep the refused window.
func TestProbeCountsRefusedWrites(t *testing.T) {
	lab := nginxtest.NewLab(t, baseRefused)
	// Production becomes an app that answers writes as demo/app does, on the same address.
	lab.Prod.Stop()
	app := probe.StartFakeApp(t, lab.Prod.Addr, "")
	app.SetWrite(probe.WriteReadOnly)
	p := startProbe(t, lab)
	waitFor(t, 5*time.Second, "3 refused writes", func() bool { return p.Stats(time.Minute).WritesRefused >= 3 })
	st := p.Stats(time.Minute)
	if st.WritesFailed != 0 || st.WritesRefused != st.Writes || st.Failed != 0 {
		t.Errorf("read-only app: %d writes, %d refused, %d failed, %d failed reads; want every write refused, reads fine", st.Writes, st.WritesRefused, st.WritesFailed, st.Failed)
	}

	app.SetWrite(probe.WriteServerError)
	plain := time.Now()
	waitFor(t, 5*time.Second, "3 failed writes after 500s", func() bool { return p.Stats(time.Since(plain)).WritesFailed >= 3 })
	if st := p.Stats(time.Since(plain)); st.WritesRefused != 0 || st.WritesFailed != st.Writes {
		t.Errorf("500s: %d writes, %d refused, %d failed; want every write failed", st.Writes, st.WritesRefused, st.WritesFailed)
	}
	tot := p.Stats(time.Minute).Totals
	if tot.RefusedWrites < 3 || tot.RefusedFor < 200*time.Millisecond || tot.RefusedFor > time.Since(plain)+5*time.Second {
		t.Errorf("totals after the refusals ended: %+v; want the refused writes and their window", tot)
	}

	app.SetWrite(probe.WriteStored)
	writable := time.Now()
	waitFor(t, 5*time.Second, "3 accepted writes", func() bool {
		st := p.Stats(time.Since(writable))
		return st.Writes-st.WritesRefused-st.WritesFailed >= 3
	})
	if again := p.Stats(time.Minute).Totals; again.RefusedFor != tot.RefusedFor || again.RefusedWrites != tot.RefusedWrites {
		t.Errorf("refused window moved after the refusals ended: %+v, then %+v", tot, again)
	}
}

// TestProbeVariantApp: an application that reports its version only in the JSON body of /status
// and refuses writes with a plain-text 503 "read-only maintenance" is read and counted as it says.
func TestProbeVariantApp(t *testing.T) {
	lab := nginxtest.NewLab(t, baseVariant)
	lab.Prod.SetJSONOnly(true)
	lab.Backup.SetJSONOnly(true)
	lab.Inv.Upgrade.Verify = inventory.Verify{Path: "/status", JSON: "release", Version: "2.0"}
	lab.Inv.Probe.URL += "status"
	p := startProbe(t, lab)
	ctx := context.Background()
	for host, want := range map[string]string{"app-prod": "1.0", "app-backup": "2.0"} {
		c, err := p.Check(ctx, host)
		if err != nil || !c.OK || c.Version != want || c.VersionNote != "" {
			t.Errorf("Check(%s) = %+v, %v; want version %s from the JSON body", host, c, err, want)
		}
	}
	waitFor(t, 5*time.Second, "10 reads", func() bool { return p.Stats(time.Minute).Requests >= 10 })
	if st := p.Stats(time.Minute); st.Version != "1.0" {
		t.Errorf("probe readout version %q, want 1.0 from the JSON body through nginx", st.Version)
	}

	lab.Prod.SetReadOnly(true)
	ro := time.Now()
	waitFor(t, 5*time.Second, "5 refused writes", func() bool { return p.Stats(time.Since(ro)).WritesRefused >= 5 })
	lab.Prod.SetReadOnly(false)
	st := p.Stats(time.Minute)
	if st.WritesFailed != 0 || st.Failed != 0 {
		t.Errorf("plain-text 503s: %d writes failed, %d reads failed; want them refused, not failed", st.WritesFailed, st.Failed)
	}

	// A source that yields nothing says why.
	lab.Inv.Upgrade.Verify.JSON = "build.tag"
	c, _ := probe.New(lab.Inv, probe.Options{}).Check(ctx, "app-prod")
	if c.Version != "" || !strings.Contains(c.VersionNote, "the JSON body has no field build.tag (it has version)") {
		t.Errorf("missing JSON field: %+v", c)
	}
	lab.Inv.Upgrade.Verify = inventory.Verify{Path: "/status", Header: "X-App-Version"}
	c, _ = probe.New(lab.Inv, probe.Options{}).Check(ctx, "app-prod")
	if c.Version != "" || !strings.Contains(c.VersionNote, "no X-App-Version header") {
		t.Errorf("missing header: %+v", c)
	}
}

func TestProbeNotRunning(t *testing.T) {
	lab := nginxtest.NewLab(t, baseStopped)
	p := probe.New(lab.Inv, probe.Options{})
	if _, err := p.ServedBy(context.Background(), inventory.Production, time.Second); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("ServedBy before Start: %v", err)
	}
	p.Start(context.Background())
	p.Stop()
	p.Stop() // twice is fine
	if _, err := p.ServedBy(context.Background(), inventory.Production, time.Second); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("ServedBy after Stop: %v", err)
	}
	if _, err := p.Check(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), `"nope": no such host`) {
		t.Errorf("Check(nope): %v", err)
	}
	if _, err := p.Check(context.Background(), "lb"); err == nil || !strings.Contains(err.Error(), "no serve address") {
		t.Errorf("Check(lb): %v", err)
	}
	if c, err := p.Check(context.Background(), "app-backup"); err != nil || !c.OK || c.Version != "2.0" {
		t.Errorf("Check(app-backup) with the probe stopped = %+v, %v", c, err)
	}
}
