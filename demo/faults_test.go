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

func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Fault
		wantErr bool
	}{
		{"", FaultNone, false},
		{"none", FaultNone, false},
		{"nginx-test", FaultNginxTest, false},
		{" Upgrade-Fail ", FaultUpgradeFail, false},
		{"ssh-drop", FaultSSHDrop, false},
		{"lag-spike", FaultLagSpike, false},
		{"standby-down", FaultStandbyDown, false},
		{"disk-full", FaultNone, true},
	} {
		got, err := ParseFault(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseFault(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil {
			for _, f := range Faults() {
				if !strings.Contains(err.Error(), string(f.Fault)) {
					t.Errorf("ParseFault(%q) error %q does not list %s", tc.in, err, f.Fault)
				}
			}
		}
	}
}

func TestFaultsDescribed(t *testing.T) {
	if len(Faults()) != 5 {
		t.Errorf("Faults() lists %d faults, want 5", len(Faults()))
	}
	for _, f := range Faults() {
		if f.Description == "" || strings.Contains(f.Description, "\n") {
			t.Errorf("fault %s: description %q is not one line", f.Fault, f.Description)
		}
		if got, err := ParseFault(string(f.Fault)); err != nil || got != f.Fault {
			t.Errorf("ParseFault(%q) = %q, %v", f.Fault, got, err)
		}
	}
}

func TestFaultNginxTest(t *testing.T) {
	inv := testInventory()
	w := startWorld(t, inv, Options{Fault: FaultNginxTest})
	b := w.Ports().Balancer
	out := &lines{}
	ch, err := b.Switch(context.Background(), inventory.Backup, out.line)
	if err == nil {
		t.Fatalf("Switch with the nginx-test fault succeeded: %+v", ch)
	}
	var exit *steps.ExitError
	if !errors.As(err, &exit) || exit.Status != 1 || exit.Host != "edge" {
		t.Errorf("Switch error %v does not wrap nginx -t's exit status on edge", err)
	}
	if !strings.Contains(err.Error(), "previous upstream (production) was restored and stays live") {
		t.Errorf("Switch error %q does not say the previous upstream stays live", err)
	}
	emerg := `nginx: [emerg] host not found in upstream "10.9.1.1:8080" in /etc/nginx/conf.d/shop-up.conf:3`
	if !contains(out.all(), emerg) || contains(out.all(), "worker pids changed") {
		t.Errorf("switch output:\n%s\nwant %q and no reload", out, emerg)
	}
	if live, _ := b.Live(context.Background()); live != inventory.Production {
		t.Errorf("live side after the failed switch = %s, want production", live)
	}
	if _, err := b.Switch(context.Background(), inventory.Backup, nil); err != nil {
		t.Fatalf("retried Switch: %v", err)
	}
	if live, _ := b.Live(context.Background()); live != inventory.Backup {
		t.Errorf("live side after the retry = %s, want backup", live)
	}
}

func TestFaultUpgradeFail(t *testing.T) {
	t.Run("install after stop leaves the host down", func(t *testing.T) {
		w := startWorld(t, testInventory(), Options{Fault: FaultUpgradeFail})
		ports := w.Ports()
		run(t, w, "web-1", upgradeCmds[0])
		out := &lines{}
		err := ports.Hosts.Run(context.Background(), "web-1", upgradeCmds[1], out.add)
		var exit *steps.ExitError
		if !errors.As(err, &exit) || exit.Status != 100 || exit.Host != "web-1" || exit.Command != upgradeCmds[1] {
			t.Fatalf("install = %v; want exit status 100 on web-1", err)
		}
		if !contains(out.all(), "stderr: E: Could not get lock /var/lib/dpkg/lock-frontend") {
			t.Errorf("install output:\n%s\nwant apt's lock error on stderr", out)
		}
		if c, _ := ports.Probe.Check(context.Background(), "web-1"); c.OK || c.Err != "connection refused" {
			t.Errorf("Check(web-1) after the failed install = %+v; want down (it was stopped)", c)
		}
		run(t, w, "web-2", upgradeCmds...) // only the first production host fails
		run(t, w, "web-1", upgradeCmds[1:]...)
		if c, _ := ports.Probe.Check(context.Background(), "web-1"); !c.OK || c.Version != "2.4.0" {
			t.Errorf("Check(web-1) after the retry = %+v; want OK on 2.4.0", c)
		}
	})
	t.Run("failing first command leaves the host up", func(t *testing.T) {
		inv := testInventory()
		inv.Upgrade.Commands = []string{"apt-get install -y shop", "systemctl restart shop"}
		w := startWorld(t, inv, Options{Fault: FaultUpgradeFail})
		err := w.Ports().Hosts.Run(context.Background(), "web-1", "apt-get install -y shop", nil)
		var exit *steps.ExitError
		if !errors.As(err, &exit) || exit.Status != 100 {
			t.Fatalf("install = %v; want exit status 100", err)
		}
		if c, _ := w.Ports().Probe.Check(context.Background(), "web-1"); !c.OK || c.Version != "2.3.1" {
			t.Errorf("Check(web-1) = %+v; want still up on 2.3.1", c)
		}
	})
}

func TestFaultSSHDrop(t *testing.T) {
	w := startWorld(t, testInventory(), Options{Fault: FaultSSHDrop})
	ports := w.Ports()
	full := run(t, w, "web-2", upgradeCmds[1]) // another host: no drop
	run(t, w, "web-1", upgradeCmds[0])
	out := &lines{}
	err := ports.Hosts.Run(context.Background(), "web-1", upgradeCmds[1], out.add)
	if !errors.Is(err, steps.ErrConnectionLost) || !strings.Contains(err.Error(), "web-1") {
		t.Fatalf("second upgrade command = %v; want a lost connection naming web-1", err)
	}
	if n := len(out.all()); n == 0 || n >= len(full) {
		t.Errorf("dropped command printed %d lines (complete: %d); want it cut mid-output", n, len(full))
	}
	run(t, w, "web-1", upgradeCmds[1:]...) // reconnects and works
	if c, _ := ports.Probe.Check(context.Background(), "web-1"); !c.OK || c.Version != "2.4.0" {
		t.Errorf("Check(web-1) after the retry = %+v; want OK on 2.4.0", c)
	}
}

func TestFaultLagSpike(t *testing.T) {
	w := NewWorld(testInventory(), Options{Fault: FaultLagSpike, Speed: 200})
	l := lag(t, w, "db-main", "db-standby") // before Start: nothing has moved yet
	start := w.Clock().Now()
	w.Start(context.Background())
	t.Cleanup(w.Close)
	if l.Replay < 150<<20 || !l.HasDelay || !l.Streaming {
		t.Fatalf("backup link at start = %+v; want streaming ~200 MB behind with a delay", l)
	}
	if r := lag(t, w, "db-main", "ro-1"); r.Replay > 64<<10 {
		t.Errorf("replica ro-1 is %d bytes behind; the spike is on the backup standby only", r.Replay)
	}
	eventually(t, "the backup standby catches up", func() bool { return lag(t, w, "db-main", "db-standby").Replay <= 64<<10 })
	took := w.Clock().Now().Sub(start)
	if took < 15*time.Second {
		t.Errorf("a 200 MB backlog caught up in %s of simulated time; want 20–40 s", took)
	}
	t.Logf("caught up in %s", took.Round(time.Second))
	if l := lag(t, w, "db-main", "db-standby"); l.HasDelay {
		t.Errorf("caught-up link still reports a delay: %+v", l)
	}
}

func TestFaultStandbyDown(t *testing.T) {
	w := startWorld(t, testInventory(), Options{Fault: FaultStandbyDown})
	first := lag(t, w, "db-main", "db-standby")
	want := "standby not connected: walreceiver not running on db-standby"
	if first.Streaming || first.Err != want {
		t.Fatalf("backup link = %+v; want not streaming with Err %q", first, want)
	}
	eventually(t, "the backlog grows", func() bool { return lag(t, w, "db-main", "db-standby").Replay > first.Replay+(64<<10) })
	if l := lag(t, w, "db-main", "db-standby"); l.Streaming {
		t.Errorf("backup link started streaming by itself: %+v", l)
	}
	if l := lag(t, w, "db-main", "ro-1"); !l.Streaming || l.Err != "" {
		t.Errorf("replica link = %+v; want streaming", l)
	}
}
