package nginxtest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// Addresses of the lab: nginx, the production app and the backup app each have their own loopback
// address; ports are base, base+1 and base+2. Ports base+3 … base+9 are free for the test's own use.
const (
	NginxIP  = "127.0.0.21"
	ProdIP   = "127.0.0.22"
	BackupIP = "127.0.0.23"
)

// Lab is nginx in front of one production and one backup app, and the inventory describing them.
// Production is live at start.
type Lab struct {
	Inv    *inventory.Inventory
	Nginx  *Nginx
	Prod   *Backend
	Backup *Backend
	Runner LocalRunner
	// Base is the first of the lab's ten ports.
	Base int
}

// NewLab starts the lab on ports base … base+9 (base should be a multiple of 10, unique per test
// within a package). Everything is stopped when the test ends.
func NewLab(t testing.TB, base int) *Lab {
	t.Helper()
	dir := t.TempDir()
	l := &Lab{Base: base}
	l.Prod = StartBackend(t, "app-prod", l.Addr(ProdIP, 1), "1.0")
	l.Backup = StartBackend(t, "app-backup", l.Addr(BackupIP, 2), "2.0")
	upstream := filepath.Join(dir, "upstream.conf")
	l.Inv = &inventory.Inventory{
		Name:   "lab",
		Source: "nginxtest",
		Probe: inventory.Probe{
			URL:        "http://" + l.Addr(NginxIP, 0) + "/",
			WriteURL:   "http://" + l.Addr(NginxIP, 0) + "/write",
			WriteEvery: 100 * time.Millisecond,
			Timeout:    2 * time.Second,
		},
		Balancer: inventory.Balancer{Host: "lb", Upstream: "app", File: upstream},
		Hosts: map[string]*inventory.Host{
			"lb":         {SSH: "local"},
			"app-prod":   {SSH: "local", Serve: l.Prod.Addr},
			"app-backup": {SSH: "local", Serve: l.Backup.Addr},
		},
		Sides: inventory.Sides{
			Production: inventory.SideSpec{Apps: []string{"app-prod"}},
			Backup:     inventory.SideSpec{Apps: []string{"app-backup"}},
		},
		Upgrade: inventory.Upgrade{Version: "2.0", Verify: inventory.Verify{Path: "/health"}},
	}
	if err := os.WriteFile(upstream, []byte(l.Inv.Upstream(inventory.Production)), 0o644); err != nil {
		t.Fatal(err)
	}
	l.Nginx = StartNginx(t, dir, l.Addr(NginxIP, 0), upstream)
	l.Inv.Balancer.Test = l.Nginx.Command("-t")
	l.Inv.Balancer.Reload = l.Nginx.Command("-s", "reload")
	l.Inv.Balancer.PidFile = l.Nginx.PidFile()
	l.Inv.Defaults()
	return l
}

// Addr returns ip:(base+off).
func (l *Lab) Addr(ip string, off int) string { return fmt.Sprintf("%s:%d", ip, l.Base+off) }

// ReadUpstream returns the upstream file's content.
func (l *Lab) ReadUpstream(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(l.Inv.Balancer.File)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Response is one answer through nginx.
type Response struct {
	Status   int
	Upstream string
	Version  string
}

// Get makes one request through nginx on a fresh connection.
func (l *Lab) Get(t testing.TB) Response {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := c.Get(l.Inv.Probe.URL)
	if err != nil {
		t.Fatalf("GET %s: %v", l.Inv.Probe.URL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return Response{Status: resp.StatusCode, Upstream: resp.Header.Get("X-Upstream"), Version: resp.Header.Get("X-App-Version")}
}

// RequireServedBy makes n requests through nginx on fresh connections and fails the test unless
// every one was answered 200 by addr.
func (l *Lab) RequireServedBy(t testing.TB, addr string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		r := l.Get(t)
		if r.Status != http.StatusOK || r.Upstream != addr {
			t.Fatalf("request %d through nginx: HTTP %d from upstream %q, want 200 from %s", i+1, r.Status, r.Upstream, addr)
		}
	}
}

// AwaitServedBy makes requests through nginx on fresh connections until every one for 200ms was
// answered 200 by addr, and fails the test if that does not happen within timeout. Right after a
// reload, old workers still accept connections with the old configuration for some 60–80ms here.
func (l *Lab) AwaitServedBy(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var r Response
	var good time.Time // start of the current run of answers from addr
	for time.Now().Before(deadline) {
		r = l.Get(t)
		switch {
		case r.Status != http.StatusOK || r.Upstream != addr:
			good = time.Time{}
		case good.IsZero():
			good = time.Now()
		case time.Since(good) >= 200*time.Millisecond:
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("requests through nginx were not all served by %s for 200ms within %s; the last: HTTP %d from %q", addr, timeout, r.Status, r.Upstream)
}
