package lab_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kevinburke/ssh_config"

	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/inventory"
)

// TestLabSSH brings a lab up with its own sshd and runs the inventory's commands through real SSH with
// checked host keys.
func TestLabSSH(t *testing.T) {
	dir := labDir(t)
	st := startLab(t, lab.Options{Dir: dir, PortBase: 16700, SSH: true})
	sshd := st.Component("sshd")
	if sshd == nil || !sshd.Running || !sshd.Listening || sshd.Addr != "127.0.0.1:16722" {
		t.Fatalf("sshd after Up: %+v\n%s", sshd, st)
	}
	cfgFile := filepath.Join(dir, "ssh", "config")
	if st.SSHConfig != cfgFile {
		t.Errorf("Report.SSHConfig = %q, want %s", st.SSHConfig, cfgFile)
	}

	inv, err := inventory.Load(filepath.Join(dir, "inventory.yaml"))
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	if inv.SSHConfig != cfgFile {
		t.Errorf("inventory ssh_config resolves to %q, want %s", inv.SSHConfig, cfgFile)
	}

	// Go's ssh_config reader (the SSH runner's) sees every alias at the lab's sshd.
	f, err := os.Open(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ssh_config.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("decode %s: %v", cfgFile, err)
	}
	for _, h := range inv.HostNames() {
		if inv.Hosts[h].SSH != h {
			t.Errorf("host %s: ssh %q, want the alias %s", h, inv.Hosts[h].SSH, h)
		}
		host, _ := cfg.Get(h, "HostName")
		port, _ := cfg.Get(h, "Port")
		kh, _ := cfg.Get(h, "UserKnownHostsFile")
		if host != "127.0.0.1" || port != strconv.Itoa(16722) || kh != filepath.Join(dir, "ssh", "known_hosts") {
			t.Errorf("alias %s: HostName %q Port %q UserKnownHostsFile %q", h, host, port, kh)
		}
	}

	ssh := func(host, command string) (string, error) {
		return runOut("ssh", "-F", cfgFile, host, command)
	}

	t.Run("commands run through sshd", func(t *testing.T) {
		out, err := ssh("lb", inv.Balancer.Test)
		if err != nil {
			t.Errorf("balancer test over ssh: %v\n%s", err, out)
		}
		out, err = ssh("app-b1", filepath.Join(dir, "bin", "appctl")+" status app-b1")
		if err != nil || !strings.Contains(out, "version v1") {
			t.Errorf("appctl status over ssh: %v\n%s", err, out)
		}
	})

	t.Run("an upgrade over ssh returns and leaves v2 running", func(t *testing.T) {
		// The new instance must not hold the SSH session open: ssh returns once appctl is done.
		out, err := ssh("app-b1", inv.Expand(inv.Upgrade.Commands[0], "app-b1"))
		if err != nil {
			t.Fatalf("upgrade over ssh: %v\n%s", err, out)
		}
		r := do(t, "GET", "http://127.0.0.12:16780/health", "")
		if r.status != 200 || r.header.Get("X-App-Version") != "v2" {
			t.Errorf("app-b1 after the upgrade over ssh: %d %s", r.status, r.body)
		}
	})

	t.Run("host keys are checked", func(t *testing.T) {
		out, err := runOut("ssh", "-F", cfgFile, "-o", "UserKnownHostsFile=/dev/null", "app-p1", "true")
		if err == nil || !strings.Contains(out, "Host key verification failed") {
			t.Errorf("ssh without the lab's known_hosts: err=%v\n%s", err, out)
		}
	})

	if err := lab.Down(dir); err != nil {
		t.Fatalf("Down: %v", err)
	}
	assertGone(t, st)
	assertNoListeners(t, st)
}
