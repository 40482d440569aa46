package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

const testConfig = `Host web
  HostName 10.0.0.5
  User deploy
  Port 2222
  IdentityFile ~/.ssh/web_key
  IdentityFile %d/.ssh/%r_%h
  UserKnownHostsFile ~/.ssh/kh1 /etc/kh2
  ConnectTimeout 3
Host named
  HostName %h.example.com
Host behind
  HostName 10.0.1.9
  ProxyJump jump
Host chain
  ProxyJump ops@first:2200,jump
Host jump
  HostName 10.0.0.1
  User hop
Host loop
  ProxyJump loop
Host proxied
  ProxyCommand nc %h %p
Host *
  User fallback
`

func TestResolve(t *testing.T) {
	home := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(home, ".ssh"), 0o700))
	must(t, os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(testConfig), 0o600))
	tests := []struct {
		ssh  string
		opt  Options
		want func(e *endpoint) string // "" when right, else what is wrong
		err  string
	}{
		{ssh: "web", want: func(e *endpoint) string {
			return check(e.String() == "alias web = deploy@10.0.0.5:2222", "target "+e.String(),
				e.connectTimeout == 3*time.Second, "timeout",
				strings.Join(e.identityFiles, " ") == home+"/.ssh/web_key "+home+"/.ssh/deploy_10.0.0.5", "identity files "+strings.Join(e.identityFiles, " "),
				!e.defaultKeys, "default keys",
				strings.Join(e.knownHosts, " ") == home+"/.ssh/kh1 /etc/kh2", "known hosts "+strings.Join(e.knownHosts, " "))
		}},
		{ssh: "root@web:22", want: func(e *endpoint) string {
			return check(e.String() == "alias web = root@10.0.0.5:22", "the inventory's user and port win: "+e.String())
		}},
		{ssh: "web", opt: Options{KnownHosts: []string{"/x/kh"}, ConnectTimeout: time.Second}, want: func(e *endpoint) string {
			return check(strings.Join(e.knownHosts, " ") == "/x/kh", "options' known hosts win",
				e.connectTimeout == time.Second, "options' timeout wins")
		}},
		{ssh: "plain.host", want: func(e *endpoint) string {
			return check(e.String() == "fallback@plain.host:22", "target "+e.String(),
				e.defaultKeys, "default keys",
				strings.Join(e.knownHosts, " ") == home+"/.ssh/known_hosts", "known hosts",
				e.connectTimeout == 10*time.Second, "default timeout")
		}},
		{ssh: "named", want: func(e *endpoint) string {
			return check(e.hostname == "named.example.com", "hostname "+e.hostname)
		}},
		{ssh: "behind", want: func(e *endpoint) string {
			return check(e.jump != nil && e.jump.String() == "alias jump = hop@10.0.0.1:22" && e.jump.jump == nil, "jump "+e.String())
		}},
		{ssh: "chain", want: func(e *endpoint) string {
			return check(e.String() == "fallback@chain:22 via hop@10.0.0.1:22 via ops@first:2200", "route "+e.String())
		}},
		{ssh: "loop", err: "longer than 5 hops"},
		{ssh: "proxied", err: "ProxyCommand"},
	}
	for _, tt := range tests {
		t.Run(tt.ssh, func(t *testing.T) {
			tt.opt.Home = home
			cfg, err := loadSSHConfig(nil, tt.opt)
			must(t, err)
			target, err := inventory.ParseTarget(tt.ssh)
			must(t, err)
			e, err := newResolver(cfg, tt.opt).resolve(tt.ssh, target, 0)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			must(t, err)
			if problem := tt.want(e); problem != "" {
				t.Error(problem)
			}
		})
	}
}

// check takes (ok, what) pairs and names the first that is not ok.
func check(pairs ...any) string {
	for i := 0; i < len(pairs); i += 2 {
		if !pairs[i].(bool) {
			return "wrong " + pairs[i+1].(string)
		}
	}
	return ""
}

func TestConfigFileChoice(t *testing.T) {
	home := t.TempDir()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(home, ".ssh"), 0o700))
	write := func(path, hostname string) {
		must(t, os.WriteFile(path, []byte("Host x\n  HostName "+hostname+"\n"), 0o600))
	}
	write(filepath.Join(home, ".ssh", "config"), "from-home")
	write(filepath.Join(dir, "option.cfg"), "from-option")
	write(filepath.Join(dir, "inv.cfg"), "from-inventory")
	tests := []struct {
		name, option, invField, want, err string
	}{
		{name: "default", want: "from-home"},
		{name: "option", option: filepath.Join(dir, "option.cfg"), want: "from-option"},
		{name: "inventory field, relative to the inventory file", option: filepath.Join(dir, "option.cfg"), invField: "inv.cfg", want: "from-inventory"},
		{name: "named file missing", invField: "nope.cfg", err: "the ssh_config field of inventory " + filepath.Join(dir, "inv.yaml")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &inventory.Inventory{Source: filepath.Join(dir, "inv.yaml"), SSHConfig: tt.invField}
			cfg, err := loadSSHConfig(inv, Options{Home: home, ConfigFile: tt.option})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			must(t, err)
			if got, _ := cfg.get("x", "HostName"); got != tt.want {
				t.Errorf("HostName = %q, want %q", got, tt.want)
			}
		})
	}
	// A missing default file is no error: nothing is configured.
	if _, err := loadSSHConfig(nil, Options{Home: t.TempDir()}); err != nil {
		t.Errorf("missing ~/.ssh/config: %v", err)
	}
}
