package lab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/demo/app"
	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/inventory"
)

// Addresses of the lab started by TestLab (port base 16500).
const (
	base        = 16500
	balancer    = "127.0.0.10:16500"
	appProd     = "127.0.0.11:16580"
	appBack     = "127.0.0.12:16580"
	standbyConn = "host=127.0.0.14 port=16533 user=postgres dbname=shop sslmode=disable"
)

// TestLab brings a real lab up and walks what an upgrade rehearsal does with it: traffic through nginx
// to production, writes replicated to the standby, refused writes on the backup side, the inventory's
// migration and upgrade commands, the standby rebuild, and Down.
func TestLab(t *testing.T) {
	dir := labDir(t)
	st := startLab(t, lab.Options{Dir: dir, PortBase: base})
	if !st.Healthy() {
		t.Fatalf("lab not healthy after Up:\n%s", st)
	}
	t.Logf("status after Up:\n%s", st)

	t.Run("traffic goes through nginx to production", func(t *testing.T) {
		r := do(t, "GET", "http://"+balancer+"/items", "")
		if r.status != 200 {
			t.Fatalf("GET /items through nginx: %d %s", r.status, r.body)
		}
		if got := r.header.Get("X-Upstream"); got != appProd {
			t.Errorf("X-Upstream = %q, want %s (app-p1)", got, appProd)
		}
		if got := r.header.Get("X-App-Instance"); got != "app-p1" {
			t.Errorf("X-App-Instance = %q, want app-p1", got)
		}
		if got := r.header.Get("X-App-Version"); got != "v1" {
			t.Errorf("X-App-Version = %q, want v1", got)
		}
	})

	t.Run("a write reaches the standby", func(t *testing.T) {
		name := fmt.Sprintf("lab-%d", time.Now().UnixNano())
		r := do(t, "POST", "http://"+balancer+"/items", `{"name":"`+name+`"}`)
		if r.status != 201 {
			t.Fatalf("POST /items through nginx: %d %s", r.status, r.body)
		}
		eventually(t, 5*time.Second, "row on the standby", func() error {
			return hasItem(standbyConn, name)
		})
		// The backup app reads it from the standby too.
		eventually(t, 5*time.Second, "row through app-b1", func() error {
			r := do(t, "GET", "http://"+appBack+"/items", "")
			if !strings.Contains(r.body, name) {
				return fmt.Errorf("%d %s", r.status, r.body)
			}
			return nil
		})
	})

	t.Run("the backup app refuses writes with 503", func(t *testing.T) {
		r := do(t, "POST", "http://"+appBack+"/items", `{"name":"x"}`)
		if r.status != 503 || r.header.Get("Retry-After") != "1" || !strings.Contains(r.body, "read_only") {
			t.Errorf("POST to app-b1 on the standby: %d Retry-After=%q %s; want 503, Retry-After 1, read_only",
				r.status, r.header.Get("Retry-After"), r.body)
		}
	})

	inv, err := inventory.Load(filepath.Join(dir, "inventory.yaml"))
	if err != nil {
		t.Fatalf("the lab's inventory does not load: %v", err)
	}

	t.Run("inventory matches the lab", func(t *testing.T) {
		if inv.Balancer.File != filepath.Join(dir, "nginx", "upstream.conf") {
			t.Errorf("balancer.file = %s", inv.Balancer.File)
		}
		b, err := os.ReadFile(inv.Balancer.File)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != inv.Upstream(inventory.Production) {
			t.Errorf("upstream file is not inv.Upstream(production):\n%s", b)
		}
		if got := inv.Hosts["app-p1"].Serve; got != appProd {
			t.Errorf("app-p1 serves %s, want %s", got, appProd)
		}
		for _, h := range inv.HostNames() {
			if inv.Hosts[h].SSH != "local" {
				t.Errorf("host %s ssh = %q, want local (no --ssh)", h, inv.Hosts[h].SSH)
			}
		}
		// The lab runs its own copy of the binary: the one that started it may be a `go run` build
		// that is deleted when `lab up` returns.
		own := filepath.Join(dir, "bin", "pitstop")
		if fi, err := os.Stat(own); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s: %v (mode %v); want the lab's executable copy of pitstop", own, err, fi)
		}
		if m := inv.Upgrade.Migrate.Commands; len(m) == 0 || !strings.HasPrefix(m[0], own+" ") {
			t.Errorf("migrate commands %q do not run %s", m, own)
		}
		// The balancer's own test and reload commands work.
		sh(t, inv.Balancer.Test)
		sh(t, inv.Balancer.Reload)
		if r := do(t, "GET", "http://"+balancer+"/items", ""); r.status != 200 {
			t.Errorf("after the inventory's reload: %d %s", r.status, r.body)
		}
	})

	t.Run("a second Up refuses the running lab", func(t *testing.T) {
		_, err := lab.Up(context.Background(), lab.Options{Dir: dir, PortBase: base})
		if !errors.Is(err, lab.ErrRunning) {
			t.Errorf("Up on a running lab: %v, want ErrRunning", err)
		}
	})

	t.Run("migrate and upgrade production to v2", func(t *testing.T) {
		for _, c := range inv.Upgrade.Migrate.Commands {
			t.Logf("%s", sh(t, inv.Expand(c, "app-p1")))
		}
		for _, c := range inv.Upgrade.Commands {
			t.Logf("%s", sh(t, inv.Expand(c, "app-p1")))
		}
		var h app.Health
		r := do(t, "GET", "http://"+appProd+inv.Upgrade.Verify.Path, "")
		r.json(t, &h)
		if r.status != 200 || h.Version != "v2" || r.header.Get("X-App-Version") != "v2" || !h.SchemaReady {
			t.Errorf("app-p1 /health after the upgrade: %d %+v", r.status, h)
		}
		// v2 writes its new column; v1 on the backup still reads after the migration replicated.
		if r := do(t, "POST", "http://"+balancer+"/items", `{"name":"v2-item","note":"hello"}`); r.status != 201 || !strings.Contains(r.body, "hello") {
			t.Errorf("POST to v2 through nginx: %d %s", r.status, r.body)
		}
		eventually(t, 5*time.Second, "v1 on the standby lists the v2 row", func() error {
			r := do(t, "GET", "http://"+appBack+"/items", "")
			if r.status != 200 || !strings.Contains(r.body, "v2-item") {
				return fmt.Errorf("%d %s", r.status, r.body)
			}
			return nil
		})
	})

	t.Run("appctl reports a bad version clearly", func(t *testing.T) {
		out, err := runOut(filepath.Join(dir, "bin", "appctl"), "restart", "app-p1", "v9")
		if err == nil || !strings.Contains(out, "unknown version") {
			t.Errorf("appctl restart app-p1 v9: err=%v out=%s", err, out)
		}
		// It stopped app-p1 first; bring v2 back for the rest of the test.
		sh(t, filepath.Join(dir, "bin", "appctl")+" start app-p1 v2")
	})

	t.Run("rebuild the standby", func(t *testing.T) {
		for _, c := range inv.ReverseSync.Rebuild {
			t.Logf("%s", sh(t, inv.Expand(c, "db-backup")))
		}
		name := fmt.Sprintf("after-rebuild-%d", time.Now().UnixNano())
		if r := do(t, "POST", "http://"+balancer+"/items", `{"name":"`+name+`"}`); r.status != 201 {
			t.Fatalf("POST after rebuild: %d %s", r.status, r.body)
		}
		eventually(t, 5*time.Second, "row on the rebuilt standby", func() error { return hasItem(standbyConn, name) })
		// The backup app reconnects to the new standby by itself.
		eventually(t, 10*time.Second, "app-b1 healthy on the rebuilt standby", func() error {
			var h app.Health
			r := do(t, "GET", "http://"+appBack+"/health", "")
			if r.status != 200 {
				return fmt.Errorf("%d %s", r.status, r.body)
			}
			r.json(t, &h)
			if h.Role != "standby" {
				return fmt.Errorf("role %q", h.Role)
			}
			return nil
		})
	})

	t.Run("down stops everything", func(t *testing.T) {
		before, err := lab.Status(dir)
		if err != nil {
			t.Fatal(err)
		}
		if n := before.Running(); n != 5 {
			t.Errorf("%d processes running before Down, want 5:\n%s", n, before)
		}
		// A lost pid file must not leave its process behind: Down finds it by its port.
		if err := os.Remove(filepath.Join(dir, "run", "app-b1.pid")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := lab.Down(dir); err != nil {
			t.Fatalf("Down: %v", err)
		}
		t.Logf("lab.Down took %s", time.Since(start).Round(time.Millisecond))
		assertGone(t, before)
		assertNoListeners(t, before)
		after, err := lab.Status(dir)
		if err != nil {
			t.Fatal(err)
		}
		if after.Running() != 0 {
			t.Errorf("Status after Down:\n%s", after)
		}
		if err := lab.Down(dir); err != nil {
			t.Errorf("a second Down: %v", err)
		}
	})
}

// TestUpPortBusy checks that a taken port stops Up before it starts anything, naming the port, its
// role and the process holding it.
func TestUpPortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.10:16600")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := labDir(t)
	_, err = lab.Up(context.Background(), lab.Options{Dir: dir, PortBase: 16600})
	if !errors.Is(err, lab.ErrPortBusy) {
		t.Fatalf("Up with 127.0.0.10:16600 taken: %v, want ErrPortBusy", err)
	}
	msg := err.Error()
	for _, want := range []string{"127.0.0.10:16600", "balancer", fmt.Sprintf("pid %d", os.Getpid())} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %q: %s", want, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pg", "db-prod")); err == nil {
		t.Errorf("Up created a database although a port was busy")
	}
}

// TestUpRefusesForeignDirectory checks that Up never wipes a directory that is not a lab.
func TestUpRefusesForeignDirectory(t *testing.T) {
	dir := labDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	precious := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(precious, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := lab.Up(context.Background(), lab.Options{Dir: dir, PortBase: 16600})
	if !errors.Is(err, lab.ErrNotLab) {
		t.Fatalf("Up in a foreign directory: %v, want ErrNotLab", err)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Errorf("Up touched the foreign directory: %v", err)
	}
}

// TestDownWithoutLab checks the error for a directory that never held a lab.
func TestDownWithoutLab(t *testing.T) {
	err := lab.Down(labDir(t))
	if err == nil || !strings.Contains(err.Error(), "no lab in") {
		t.Errorf("Down on an empty directory: %v", err)
	}
}

func hasItem(conn, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM items WHERE name = $1`, name).Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%d rows named %s", n, name)
	}
	return nil
}

// TestUpFailsCleanly makes the application fail to start and checks that Up names it and its log,
// and stops the databases it had already started.
func TestUpFailsCleanly(t *testing.T) {
	dir := labDir(t)
	_, err := lab.Up(context.Background(), lab.Options{Dir: dir, PortBase: 16600, Pitstop: "/bin/false"})
	if err == nil {
		lab.Down(dir)
		t.Fatal("Up succeeded with an application that cannot start")
	}
	for _, want := range []string{"app-p1", "127.0.0.11:16680", filepath.Join(dir, "logs", "app-p1.log")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	st, serr := lab.Status(dir)
	if serr != nil {
		t.Fatal(serr)
	}
	if st.Running() != 0 {
		t.Errorf("processes left running after a failed Up:\n%s", st)
	}
	assertNoListeners(t, st)
}
