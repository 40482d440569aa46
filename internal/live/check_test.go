package live_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
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

// TestCheckSaysEachCauseOnce: hosts whose names do not resolve (under .invalid) are each reported by
// one FAIL line that lists the checks they block, never once per check; no line has an empty field
// or a doubled prefix; and the last line counts the results.
func TestCheckSaysEachCauseOnce(t *testing.T) {
	dir := t.TempDir()
	src := fmt.Sprintf(`name: unreachable
probe:
  url: http://lb.invalid/
balancer:
  host: lb
  upstream: shop
  file: %s
  test: nginx -t
hosts:
  lb: {ssh: "deploy@lb.invalid"}
  app-p: {ssh: "deploy@app-p.invalid", serve: "app-p.invalid:8080"}
  app-b: {ssh: local, serve: "127.0.0.1:15547"}
  db-p: {ssh: "deploy@db-p.invalid", postgres: "postgres://pitstop@db-p.invalid:5432/shop?connect_timeout=2"}
  db-b: {ssh: local, postgres: "postgres://pitstop@127.0.0.1:2/shop?connect_timeout=2"}
sides:
  production: {apps: [app-p], database: db-p}
  backup: {apps: [app-b], database: db-b}
upgrade:
  version: "2"
  commands: ["true"]
`, filepath.Join(dir, "upstream.conf"))
	inv, err := inventory.Parse("unreachable.yaml", []byte(src))
	noErr(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	if live.Check(ctx, inv, &out) {
		t.Errorf("check passed with unreachable hosts:\n%s", out.String())
	}
	text := out.String()
	t.Logf("check output:\n%s", text)
	for _, name := range []string{"lb.invalid", "app-p.invalid", "db-p.invalid"} {
		if n := strings.Count(text, "lookup "+name); n != 1 {
			t.Errorf("the failure to resolve %s is said %d times, want once:\n%s", name, n, text)
		}
	}
	for _, blocked := range []string{"the proof that nginx -t tests the serving nginx", "the live upstream", "users through the balancer"} {
		if !strings.Contains(text, blocked) {
			t.Errorf("lb's failure does not list %q among the checks it blocks:\n%s", blocked, text)
		}
	}
	for _, hole := range []string{": :", " is :", ": ;", ":\n"} {
		if strings.Contains(text, hole) {
			t.Errorf("output has the hole %q:\n%s", hole, text)
		}
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^\d+ ok, [1-9]\d* failed, [1-9]\d* not run$`).MatchString(last) {
		t.Errorf("last line %q is not a summary like \"3 ok, 1 failed, 2 not run\"", last)
	}
}
