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

	"github.com/pitstop-ops/pitstop/internal/live"
	"github.com/pitstop-ops/pitstop/inventory"
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
	inv := checkInventory(t, users.URL, "local")
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

// checkInventory is a small topology for the check: every host local but db-p, reached with dbSSH;
// the probe reads (and would write to) usersURL; the databases listen nowhere.
func checkInventory(t *testing.T, usersURL, dbSSH string) *inventory.Inventory {
	t.Helper()
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
  db-p: {ssh: "%[3]s", postgres: "postgres://pitstop@127.0.0.1:1/shop?connect_timeout=2"}
  db-b: {ssh: local, postgres: "postgres://pitstop@127.0.0.1:2/shop?connect_timeout=2"}
sides:
  production: {apps: [app-p], database: db-p}
  backup: {apps: [app-b], database: db-b}
upgrade:
  version: "2"
  commands: ["true"]
`, usersURL, file, dbSSH)
	inv, err := inventory.Parse("check.yaml", []byte(src))
	noErr(t, err)
	return inv
}

// TestCheckOverSSH: over real SSH, check reports a host whose key is known as reachable, and one whose
// key is not in known_hosts as a FAIL line with the exact ssh-keyscan line to run.
func TestCheckOverSSH(t *testing.T) {
	users := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "127.0.0.1:15546")
	}))
	defer users.Close()
	s := newTestSSHD(t, "127.0.0.1:2301")
	s.Start()
	t.Setenv("HOME", s.Home)
	t.Setenv("SSH_AUTH_SOCK", "")
	inv := checkInventory(t, users.URL, s.Target())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	live.Check(ctx, inv, &out)
	if !strings.Contains(out.String(), "ok    db-p: reachable, host key known") {
		t.Errorf("check over SSH with the key known:\n%s", out.String())
	}
	noErr(t, os.Remove(filepath.Join(s.Home, ".ssh", "known_hosts")))
	out.Reset()
	live.Check(ctx, inv, &out)
	var fail string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "FAIL  db-p: reachable") {
			fail = l
		}
	}
	if !strings.Contains(fail, "ssh-keyscan") || !strings.Contains(fail, "2301") {
		t.Errorf("check with db-p's host key unknown: no FAIL line for db-p with the ssh-keyscan line:\n%s", out.String())
	}
}
