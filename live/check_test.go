package live_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/live"
)

// TestCheckWritesNothing: `pitstop check` changes nothing, so its probe must not send the
// inventory's writes even though write_url is set; and a database that cannot be reached is
// reported with a FAIL line naming it.
func TestCheckWritesNothing(t *testing.T) {
	var reads, writes atomic.Int64
	users := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			writes.Add(1)
		} else {
			reads.Add(1)
		}
		w.Header().Set("X-Upstream", "127.0.0.1:15546")
		fmt.Fprintln(w, "ok")
	}))
	defer users.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "upstream.conf")
	noErr(t, os.WriteFile(file, []byte("upstream check {\n    server 127.0.0.1:15546;\n}\n"), 0o644))
	src := fmt.Sprintf(`name: check
probe:
  url: %[1]s/
  write_url: %[1]s/items
  write_every: 10ms
  rate: 20
balancer:
  host: lb
  upstream: check
  file: %[2]s
  test: sleep 0.5
hosts:
  lb: {ssh: local}
  app-p: {ssh: local, serve: "127.0.0.1:15546"}
  app-b: {ssh: local, serve: "127.0.0.1:15547"}
  db-p: {ssh: local, postgres: "postgres://pitstop@127.0.0.1:1/shop?connect_timeout=2"}
  db-b: {ssh: local, postgres: "postgres://pitstop@127.0.0.1:2/shop?connect_timeout=2"}
sides:
  production: {apps: [app-p], database: db-p}
  backup: {apps: [app-b], database: db-b}
upgrade:
  version: "2"
  commands: ["true"]
`, users.URL, file)
	inv, err := inventory.Parse("check.yaml", []byte(src))
	noErr(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	if live.Check(ctx, inv, &out) {
		t.Errorf("check passed with both databases unreachable:\n%s", out.String())
	}
	t.Logf("check output:\n%s", out.String())
	if n := writes.Load(); n != 0 {
		t.Errorf("check sent %d writes to %s; it must change nothing", n, inv.Probe.WriteURL)
	}
	if reads.Load() == 0 {
		t.Errorf("check's probe read nothing in %s: the test proves nothing", "0.5s")
	}
	if inv.Probe.WriteURL == "" {
		t.Error("check cleared the caller's inventory's write_url")
	}
	if !strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "db-p") {
		t.Errorf("no FAIL line names db-p:\n%s", out.String())
	}
}
