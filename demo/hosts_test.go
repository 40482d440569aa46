package demo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// TestUpgradeTakesHostDown upgrades web-1 with traffic on each side: on production, requests to
// web-1 fail while it upgrades; on backup, users see 100% success throughout.
func TestUpgradeTakesHostDown(t *testing.T) {
	for _, tc := range []struct {
		live       inventory.Side
		wantFailed bool
	}{
		{inventory.Production, true},
		{inventory.Backup, false},
	} {
		t.Run("live "+string(tc.live), func(t *testing.T) {
			w := startWorld(t, testInventory(), Options{})
			ports := w.Ports()
			if tc.live != inventory.Production {
				if _, err := ports.Balancer.Switch(context.Background(), tc.live, nil); err != nil {
					t.Fatal(err)
				}
			}
			start := w.Clock().Now()
			done := make(chan []string, 1)
			go func() { done <- run(t, w, "web-1", upgradeCmds...) }()
			eventually(t, "web-1 is down", func() bool {
				c, err := ports.Probe.Check(context.Background(), "web-1")
				return err == nil && !c.OK && c.Err == "connection refused"
			})
			if c, _ := ports.Probe.Check(context.Background(), "web-2"); !c.OK {
				t.Errorf("Check(web-2) while web-1 upgrades = %+v; want OK", c)
			}
			out := <-done
			took := w.Clock().Now().Sub(start)
			if took < 4*time.Second {
				t.Errorf("the upgrade took %s of simulated time; want 4–8 s", took)
			}
			s := ports.Probe.Stats(took)
			if s.Requests < 40 {
				t.Fatalf("only %d probe requests during a %s upgrade", s.Requests, took)
			}
			if got := s.Failed > 0; got != tc.wantFailed {
				t.Errorf("with %s live, %d of %d requests failed during web-1's upgrade; want failures: %v",
					tc.live, s.Failed, s.Requests, tc.wantFailed)
			}
			if tc.wantFailed && s.Failed > s.Requests/2 {
				t.Errorf("%d of %d requests failed; only web-1 of 3 hosts was down", s.Failed, s.Requests)
			}
			c, err := ports.Probe.Check(context.Background(), "web-1")
			if err != nil || !c.OK || c.Version != "2.4.0" {
				t.Errorf("Check(web-1) after the upgrade = %+v, %v; want OK on 2.4.0", c, err)
			}
			for _, want := range []string{"Stopped shop.service", "Unpacking shop (2.4.0) over (2.3.1) ...",
				"Setting up shop (2.4.0)", "listening on 10.9.0.1:8080", "Started shop.service"} {
				if !contains(out, want) {
					t.Errorf("upgrade output:\n%s\nwant a line with %q", strings.Join(out, "\n"), want)
				}
			}
		})
	}
}

// TestMigration runs the migration on production and checks where the new schema arrives.
func TestMigration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(steps.Database) error
		wantErr string
		paused  bool
	}{
		{name: "reaches the streaming standby"},
		{name: "waits on a paused standby", paused: true,
			prepare: func(db steps.Database) error { return db.PauseReplay(context.Background(), "db-standby") }},
		{name: "is refused on a fenced primary", wantErr: "read-only transaction",
			prepare: func(db steps.Database) error { return db.Fence(context.Background(), "db-main") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startWorld(t, testInventory(), Options{})
			db := w.Ports().DB
			if tc.prepare != nil {
				if err := tc.prepare(db); err != nil {
					t.Fatal(err)
				}
			}
			out := &lines{}
			err := w.Ports().Hosts.Run(context.Background(), "web-1", "shop-migrate up", out.add)
			if tc.wantErr != "" {
				var exit *steps.ExitError
				if !errors.As(err, &exit) || !contains(out.all(), "stderr: ERROR:  cannot execute") || !contains(out.all(), tc.wantErr) {
					t.Fatalf("migration = %v, output:\n%s\nwant exit status 1 and %q on stderr", err, out, tc.wantErr)
				}
				if s := schemaOf(w, "db-main"); s != 41 {
					t.Errorf("refused migration left db-main at %04d", s)
				}
				return
			}
			if err != nil {
				t.Fatalf("migration: %v\n%s", err, out)
			}
			for _, want := range []string{"schema at 0041, 3 pending", "applying 0042_add_items_note … ok", "applying 0044_index_orders_created_at … ok"} {
				if !contains(out.all(), want) {
					t.Errorf("migration output:\n%s\nwant %q", out, want)
				}
			}
			if s := schemaOf(w, "db-main"); s != 44 {
				t.Fatalf("db-main schema = %04d after the migration, want 0044", s)
			}
			eventually(t, "replica ro-1 replays the migration", func() bool { return schemaOf(w, "ro-1") == 44 })
			if !tc.paused {
				eventually(t, "db-standby replays the migration", func() bool { return schemaOf(w, "db-standby") == 44 })
				return
			}
			time.Sleep(w.clock.real(3 * time.Second))
			if s := schemaOf(w, "db-standby"); s != 41 {
				t.Fatalf("paused db-standby has schema %04d; want 0041 until replay resumes", s)
			}
			if err := db.ResumeReplay(context.Background(), "db-standby"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "db-standby replays the migration after resuming", func() bool { return schemaOf(w, "db-standby") == 44 })
			again := run(t, w, "web-2", "shop-migrate up")
			if !contains(again, "no pending migrations") {
				t.Errorf("second migration output:\n%s\nwant no pending migrations", strings.Join(again, "\n"))
			}
		})
	}
}

func TestRebuildMakesStandby(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	db := w.Ports().DB
	ctx := context.Background()
	if err := db.Promote(ctx, "db-standby"); err != nil {
		t.Fatal(err)
	}
	if _, ok := findLag(t, w, "db-main", "db-standby"); ok {
		t.Fatal("the physical link to db-standby is still there after promotion")
	}
	rebuild := w.inv.ReverseSync.Rebuild
	run(t, w, "db-standby", rebuild[0])
	if l := lag(t, w, "db-main", "db-standby"); l.Streaming || !strings.Contains(l.Err, "being rebuilt") {
		t.Errorf("link during the rebuild = %+v; want not streaming, being rebuilt", l)
	}
	if err := db.Fence(ctx, "db-standby"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Fence on a server being rebuilt = %v; want connection refused", err)
	}
	out := run(t, w, "db-standby", rebuild[1:]...)
	for _, want := range []string{"pg_basebackup: checkpoint completed", "(100%), 1/1 tablespace", "pg_basebackup: base backup completed", "Started postgresql.service"} {
		if !contains(out, want) {
			t.Errorf("rebuild output:\n%s\nwant %q", strings.Join(out, "\n"), want)
		}
	}
	l := lag(t, w, "db-main", "db-standby")
	if !l.Streaming || l.Err != "" || l.Replay > 64<<10 {
		t.Errorf("link after the rebuild = %+v; want streaming and caught up", l)
	}
	if err := db.PauseReplay(ctx, "db-standby"); err != nil {
		t.Errorf("PauseReplay on the rebuilt standby: %v", err)
	}
	if err := w.Ports().Hosts.Run(ctx, "db-main", rebuild[0], nil); err == nil {
		t.Error("rebuilding production's own database succeeded")
	}
}

func TestRunOtherCommands(t *testing.T) {
	w := startWorld(t, testInventory(), Options{})
	for _, tc := range []struct {
		host, cmd string
		want      []string
	}{
		{"web-b1", "true", nil},
		{"db-main", "uptime", nil},
		{"web-2", "hostname", []string{"stdout: web-2"}},
		{"edge", "nginx -t", []string{"stdout: nginx: the configuration file /etc/nginx/nginx.conf syntax is ok",
			"stdout: nginx: configuration file /etc/nginx/nginx.conf test is successful"}},
		{"edge", "nginx -s reload", nil},
	} {
		out := run(t, w, tc.host, tc.cmd)
		if strings.Join(out, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s on %s printed %q, want %q", tc.cmd, tc.host, out, tc.want)
		}
	}
	if c, _ := w.Ports().Probe.Check(context.Background(), "web-1"); !c.OK {
		t.Errorf("a harmless command took web-1 down: %+v", c)
	}
}

func TestRunCancellation(t *testing.T) {
	w := startWorld(t, testInventory(), Options{Speed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	start := time.Now()
	err := w.Ports().Hosts.Run(ctx, "web-1", upgradeCmds[1], nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "web-1") {
		t.Fatalf("cancelled install = %v; want context.Canceled naming web-1", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run returned %s after the cancel; an install takes seconds, so it did not stop early", d)
	}
	if err := w.Ports().Hosts.Run(ctx, "web-1", "true", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context = %v", err)
	}
}

func TestCommandParsing(t *testing.T) {
	for _, tc := range []struct {
		cmd             string
		kind            cmdKind
		unit, pkg, prog string
	}{
		{"sudo systemctl stop shop", kindStop, "shop.service", "app", "systemctl"},
		{"systemctl --no-block restart api.service", kindRestart, "api.service", "app", "systemctl"},
		{"sudo service nginx start", kindStart, "nginx.service", "app", "service"},
		{"sudo apt-get install -y --no-install-recommends shop=2.4.0", kindInstall, "app.service", "shop", "apt-get"},
		{"sudo -u shop /opt/shop/bin/shop-migrate up", kindOther, "app.service", "app", "shop-migrate"},
		{"env RAILS_ENV=production ./bin/deploy", kindOther, "app.service", "app", "deploy"},
	} {
		if k := classify(tc.cmd); k != tc.kind {
			t.Errorf("classify(%q) = %d, want %d", tc.cmd, k, tc.kind)
		}
		if u := unitName(tc.cmd, "app"); u != tc.unit {
			t.Errorf("unitName(%q) = %q, want %q", tc.cmd, u, tc.unit)
		}
		if p := packageName(tc.cmd, "app"); p != tc.pkg {
			t.Errorf("packageName(%q) = %q, want %q", tc.cmd, p, tc.pkg)
		}
		if p := progName(tc.cmd); p != tc.prog {
			t.Errorf("progName(%q) = %q, want %q", tc.cmd, p, tc.prog)
		}
	}
}
