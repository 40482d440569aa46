package live_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/live"
)

// TestCheckUpstreamHeaderAndVersion: answers through the balancer that do not name their upstream
// fail the check with the exact add_header line to add; an app host whose answer lacks the version
// where upgrade.verify reads it fails with the fix, one that has it is printed with its version.
func TestCheckUpstreamHeaderAndVersion(t *testing.T) {
	users := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok") // no X-Upstream
	}))
	defer users.Close()
	inv := checkInventory(t, users.URL, "local")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	live.Check(ctx, inv, &out)
	if !strings.Contains(out.String(), "FAIL  users: answers name the upstream that served them") ||
		!strings.Contains(out.String(), "add `add_header X-Upstream $upstream_addr always;` to the nginx location that proxies to upstream check") {
		t.Errorf("check without the upstream header:\n%s", out.String())
	}

	// The production app answers its status in JSON, with the release under another name.
	l, err := net.Listen("tcp", "127.0.0.1:15546")
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"status":"ok","build":{"tag":"v7"}}`)
	}))
	app.Listener.Close()
	app.Listener = l
	app.Start()
	defer app.Close()
	inv.Upgrade.Verify.JSON, inv.Upgrade.Verify.Header = "release", ""
	out.Reset()
	live.Check(ctx, inv, &out)
	if !strings.Contains(out.String(), "FAIL  app-p /health json release: GET http://127.0.0.1:15546/health: the JSON body has no field release (it has build, status); point upgrade.verify at") {
		t.Errorf("check with the version missing from the JSON:\n%s", out.String())
	}
	inv.Upgrade.Verify.JSON = "build.tag"
	out.Reset()
	live.Check(ctx, inv, &out)
	if !strings.Contains(out.String(), "ok    app-p /health json build.tag = v7") {
		t.Errorf("check with the version in the JSON:\n%s", out.String())
	}
}

// TestCheckNotesParamsOnlyInFile: check notes a server line whose parameters only the file gives.
func TestCheckNotesParamsOnlyInFile(t *testing.T) {
	users := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "127.0.0.1:15546")
	}))
	defer users.Close()
	inv := checkInventory(t, users.URL, "local")
	noErr(t, os.WriteFile(inv.Balancer.File, []byte("upstream check {\n    server 127.0.0.1:15546 weight=3;\n    keepalive 8;\n}\n"), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	live.Check(ctx, inv, &out)
	if !strings.Contains(out.String(), `note  app-p: its server line in `+inv.Balancer.File+` has "weight=3", which hosts.app-p.server_params does not give`) {
		t.Errorf("check does not note the parameters only the file gives:\n%s", out.String())
	}
	inv.Hosts["app-p"].ServerParams = "weight=3"
	out.Reset()
	live.Check(ctx, inv, &out)
	if strings.Contains(out.String(), "server_params does not give") {
		t.Errorf("check notes parameters the inventory gives:\n%s", out.String())
	}
}
