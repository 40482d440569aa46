package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/demo/app"
	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// The JSON variant of the application says its version only in GET /status ({"release":…}) and
// refuses writes with a plain-text 503 "read-only maintenance": an operator's own app, as issue 11
// met it. Both plans run headless to the end with the inventory as written (verify.json: release,
// no refusal rule), users see no failed read, and refused writes are counted as such.

// startVariantLoad is startLoad counting any 503 to a write as refused, as Pitstop's probe does.
func startVariantLoad(t *testing.T, l *testLab) *lab.Load {
	t.Helper()
	load, err := lab.StartLoad(context.Background(), lab.LoadOptions{
		ReadURL: l.Inv.Probe.URL, WriteURL: l.Inv.Probe.WriteURL, Timeout: 5 * time.Second, AnyRefusal: true,
		NamePrefix: "e2e-" + strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { load.Stop() })
	return load
}

// assertRelease checks the release host's /status reports.
func (l *testLab) assertRelease(t *testing.T, host, version string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + l.Inv.Hosts[host].Serve + "/status")
	if err != nil {
		t.Errorf("GET /status on %s: %v", host, err)
		return
	}
	defer resp.Body.Close()
	var s app.Status
	err = json.NewDecoder(resp.Body).Decode(&s)
	if err != nil || resp.StatusCode != 200 || s.Release != version || resp.Header.Get("X-App-Version") != "" {
		t.Errorf("GET /status on %s: %d, release %q, X-App-Version %q, err %v; want 200, release %s and no header",
			host, resp.StatusCode, s.Release, resp.Header.Get("X-App-Version"), err, version)
	}
}

// checkVariantRun checks what every variant run must show: done with production live, the
// summary's users line with refused writes apart, and the check reading the version from JSON.
func checkVariantRun(t *testing.T, l *testLab, r *run, s lab.LoadSummary) {
	t.Helper()
	sum := r.summary()
	if sum.Status != steps.StatusDone || sum.Live != inventory.Production {
		t.Errorf("summary: %+v, want done with production live", sum)
	}
	u := sum.Users
	t.Logf("summary: %s (load: %s)", u.UsersSaw(), s.UsersSaw())
	if u.FailedReads != 0 || u.FailedWrites != 0 {
		t.Errorf("Pitstop's probe saw %d failed reads and %d failed writes; want 0 and 0 (%s)", u.FailedReads, u.FailedWrites, u.UsersSaw())
	}
	if u.Writes == 0 || (s.RefusedWrites > 0 && u.RefusedWrites == 0) {
		t.Errorf("the summary counts %d probe writes, %d refused, while the load saw %d refused: %s", u.Writes, u.RefusedWrites, s.RefusedWrites, u.UsersSaw())
	}
	if u.RefusedWrites > 0 && u.RefusedFor <= 0 {
		t.Errorf("writes were refused but the refused window is %s", u.RefusedFor)
	}
	l.assertRelease(t, "app-p1", "v2")
	l.assertRelease(t, "app-b1", "v2")
}

// TestVariantReadonlyUnderLoad: the readonly plan on the JSON variant under load: 0 failed reads,
// writes refused (plain-text 503) only while the read-only backup serves, counted as refused by the
// load and by Pitstop's summary; check reads the version from /status's JSON.
func TestVariantReadonlyUnderLoad(t *testing.T) {
	l := startLabVariant(t, baseVariantReadonly, false, app.VariantJSON)
	if v := l.Inv.Upgrade.Verify; v.JSON != "release" || v.Path != "/status" {
		t.Fatalf("the variant lab's inventory reads the version from %s %s, want /status json release", v.Path, v.VersionSource())
	}
	// The operator's own upstream: zone, least_conn, weights, a backup server of their own,
	// keepalive, comments. After the plan it is byte for byte the same but for the server lines.
	l.Inv.Hosts["app-p1"].ServerParams = "weight=5 max_fails=3 fail_timeout=15s"
	l.Inv.Hosts["app-b1"].ServerParams = "weight=2"
	own := "# shop upstream, owned by ops (OPS-12)\nupstream shop {\n\tzone shop 64k;\n\tleast_conn;\n" +
		"\tserver " + l.Prod + " weight=5 max_fails=3 fail_timeout=15s; # app-p1, the production app\n" +
		"\tserver 127.0.0.1:9 backup; # sorry page\n\tkeepalive 16;\n\tkeepalive_timeout 30s;\n}\n# end, no newline"
	writeUpstream(t, l, own)
	out, _ := check(t, l)
	for _, w := range []string{"ok    app-p1 /status json release = v1", "ok    app-b1 /status json release = v1"} {
		if !strings.Contains(out, w) {
			t.Errorf("check does not say %q:\n%s", w, out)
		}
	}
	load := startVariantLoad(t, l)
	// The read-only window lasts under a second here: the probe writes often enough to meet it.
	l.Inv.Probe.WriteEvery = 100 * time.Millisecond
	settle(time.Second)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly, auto: true})
	if err := r.wait(2 * time.Minute); err != nil {
		t.Fatalf("readonly plan on the JSON variant: %v", err)
	}
	settle(time.Second)
	rep := load.Stop()
	s := logLoad(t, rep)
	from := r.when(steps.EvStepStarted, "switch-to-backup", steps.StatusRunning)
	to := r.when(steps.EvStepFinished, "switch-to-production", steps.StatusDone)
	assertNoFailedReads(t, rep)
	assertWritesRefusedOnlyWithin(t, rep, from, to, l.Back)
	if s.RefusedWrites == 0 {
		t.Error("no write was refused: the read-only window was not exercised")
	}
	checkVariantRun(t, l, r, s)
	want := strings.Replace(own, "# app-p1, the production app", "# app-p1", 1)
	if got := upstreamFile(t, l); got != want {
		t.Errorf("after the plan the upstream file is\n%q\nwant (only the server line rewritten)\n%q", got, want)
	}
	l.assertStored(t, "db-prod", rep.Acked, 0)
	l.assertStreaming(t, 10*time.Second)
}

// writeUpstream replaces the lab's upstream file and reloads nginx with the inventory's command.
func writeUpstream(t *testing.T, l *testLab, content string) {
	t.Helper()
	if err := os.WriteFile(l.Inv.Balancer.File, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-c", l.Inv.Balancer.Test+" && "+l.Inv.Balancer.Reload).CombinedOutput(); err != nil {
		t.Fatalf("reload nginx with the operator's upstream: %v\n%s", err, out)
	}
	time.Sleep(300 * time.Millisecond) // old workers finish; the probe of the check sees the new ones
}

// TestVariantReverseSyncUnderLoad: the reverse-sync plan on the JSON variant under load: 0 failed
// reads, refusals (the fences) counted as refused, not failed; every acknowledged write in production.
func TestVariantReverseSyncUnderLoad(t *testing.T) {
	l := startLabVariant(t, baseVariantReverse, false, app.VariantJSON)
	load := startVariantLoad(t, l)
	l.Inv.Probe.WriteEvery = 100 * time.Millisecond
	settle(time.Second)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReverseSync, auto: true})
	if err := r.wait(2 * time.Minute); err != nil {
		t.Fatalf("reverse-sync plan on the JSON variant: %v", err)
	}
	settle(time.Second)
	rep := load.Stop()
	s := logLoad(t, rep)
	assertNoFailedReads(t, rep)
	if s.FailedWrites > 0 {
		t.Errorf("%d writes failed (not refused): users saw errors", s.FailedWrites)
	}
	checkVariantRun(t, l, r, s)
	l.assertStored(t, "db-prod", rep.Acked, 0)
	l.assertStreaming(t, 10*time.Second)
}
