package remote

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pitstop-ops/pitstop/steps"
)

const (
	benchHosts    = 10
	benchCommands = 5
	benchCommand  = "echo hello"
)

// BenchmarkRun10Hosts runs 5 commands one after another on each of 10 hosts (10 ssh_config aliases of
// the lab's sshd), all hosts in parallel: with a fresh Pool per iteration (connections are part of the
// cost, as in a real run); with plain OpenSSH `ssh -F cfg alias cmd`, first opening a connection per
// command (ControlMaster off), then sharing one per host (ControlMaster auto + ControlPersist, the fair
// baseline: the master is closed at the end of each iteration so its cost is counted as Pitstop's is);
// and with Ansible (ansible-core, pipelining on, the same ssh_config, forks 10), one playbook of 5 tasks.
//
//	go test ./internal/remote/ -run '^$' -bench BenchmarkRun10Hosts -benchtime 10x -count 3
func BenchmarkRun10Hosts(b *testing.B) {
	h := newHome(b, homeOpts{})
	var cfg strings.Builder
	hosts := map[string]string{}
	for i := range benchHosts {
		alias := fmt.Sprintf("h%d", i)
		hosts[alias] = alias
		fmt.Fprintf(&cfg, "Host %s\n  HostName %s\n  Port %d\n", alias, targetIP, targetPort)
	}
	fmt.Fprintf(&cfg, "Host *\n  User root\n  IdentityFile %s\n  UserKnownHostsFile %s\n"+
		"  GlobalKnownHostsFile /dev/null\n  BatchMode yes\n  StrictHostKeyChecking yes\n  ControlMaster no\n  ControlPath none\n",
		filepath.Join(h.ssh, "id_ed25519"), filepath.Join(h.ssh, "known_hosts"))
	cfgFile := filepath.Join(h.dir, "bench_ssh_config")
	must(b, os.WriteFile(cfgFile, []byte(cfg.String()), 0o600))
	inv := testInventory(hosts)

	// Each host runs its commands in sequence; hosts run in parallel.
	perHost := func(b *testing.B, runOne func(host string) error) {
		var wg sync.WaitGroup
		errs := make(chan error, benchHosts)
		for host := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range benchCommands {
					if err := runOne(host); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}

	b.Run("pitstop", func(b *testing.B) {
		for b.Loop() {
			p := New(inv, Options{ConfigFile: cfgFile, Home: h.dir})
			perHost(b, func(host string) error {
				var got string
				err := p.Run(context.Background(), host, benchCommand, func(s steps.Stream, line string) {
					if s == steps.Stdout {
						got = line
					}
				})
				if err == nil && got != "hello" {
					err = fmt.Errorf("%s printed %q", host, got)
				}
				return err
			})
			p.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
	})
	// OpenSSH 9.2 picks the post-quantum sntrup761x25519 key exchange, which costs more CPU than the
	// curve25519 one Go's client negotiates; the second run compares like with like.
	for _, variant := range []struct{ name, kex string }{
		{"openssh", ""},
		{"openssh-curve25519", "curve25519-sha256"},
	} {
		b.Run(variant.name, func(b *testing.B) {
			args := []string{"-F", cfgFile}
			if variant.kex != "" {
				args = append(args, "-o", "KexAlgorithms="+variant.kex)
			}
			for b.Loop() {
				perHost(b, func(host string) error {
					out, err := exec.Command("ssh", append(args, host, benchCommand)...).Output()
					if err != nil || string(out) != "hello\n" {
						return fmt.Errorf("ssh %s: %v: %s", host, err, out)
					}
					return nil
				})
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
		})
	}

	// With connection sharing: "openssh-controlmaster" opens and closes one master per host each
	// iteration (connections counted, as with a fresh Pool), with the curve25519 key exchange Go uses;
	// "-warm" keeps the masters from one iteration to the next (connections not counted at all).
	for _, variant := range []struct {
		name string
		warm bool
	}{{"openssh-controlmaster", false}, {"openssh-controlmaster-warm", true}} {
		b.Run(variant.name, func(b *testing.B) {
			// %n (the alias) gives each of the 10 aliases of the one test sshd its own master, as each
			// real host would have; %C would hash them all to one.
			control := filepath.Join(h.dir, variant.name+"-%n")
			args := []string{"-F", cfgFile, "-o", "KexAlgorithms=curve25519-sha256", "-o", "ControlMaster=auto",
				"-o", "ControlPath=" + control, "-o", "ControlPersist=60"}
			closeAll := func() {
				for host := range hosts {
					if out, err := exec.Command("ssh", append(args, "-O", "exit", host)...).CombinedOutput(); err != nil {
						b.Fatalf("ssh -O exit %s: %v: %s", host, err, out)
					}
				}
			}
			for b.Loop() {
				perHost(b, func(host string) error {
					out, err := exec.Command("ssh", append(args, host, benchCommand)...).Output()
					if err != nil || string(out) != "hello\n" {
						return fmt.Errorf("ssh %s: %v: %s", host, err, out)
					}
					return nil
				})
				if !variant.warm {
					closeAll()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
			if variant.warm {
				closeAll()
			}
		})
	}

	b.Run("ansible", func(b *testing.B) {
		if _, err := exec.LookPath("ansible-playbook"); err != nil {
			b.Skip("ansible-playbook is not installed (apt-get install ansible-core)")
		}
		playbook, env := ansibleBench(b, h.dir, cfgFile, hosts)
		for b.Loop() {
			cmd := exec.Command("ansible-playbook", "-i", filepath.Join(h.dir, "ansible-hosts"), playbook)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("ansible-playbook: %v\n%s", err, out)
			}
			// Every host ran all 5 tasks: the recap says ok=5 for each.
			if n := strings.Count(string(out), "ok=5 "); n != benchHosts {
				b.Fatalf("ansible-playbook: %d of %d hosts ran all %d tasks:\n%s", n, benchHosts, benchCommands, out)
			}
			// Close Ansible's masters too, so every iteration pays for its connections.
			for host := range hosts {
				exit := exec.Command("ssh", "-F", cfgFile, "-o", "ControlPath="+filepath.Join(h.dir, "ans-"+host), "-O", "exit", host)
				if out, err := exit.CombinedOutput(); err != nil {
					b.Fatalf("ssh -O exit %s (Ansible's master): %v: %s", host, err, out)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
	})
}

// ansibleBench writes an inventory of the hosts, a playbook of benchCommands shell tasks that each check
// the output, and an ansible.cfg (pipelining on, no fact gathering, forks = hosts, OpenSSH's own
// ControlMaster/ControlPersist as Ansible uses by default, the bench's ssh_config), and returns the
// playbook's path and the environment to run it in.
func ansibleBench(b *testing.B, dir, sshConfig string, hosts map[string]string) (string, []string) {
	b.Helper()
	var inv strings.Builder
	inv.WriteString("[bench]\n")
	for alias := range hosts {
		inv.WriteString(alias + "\n")
	}
	must(b, os.WriteFile(filepath.Join(dir, "ansible-hosts"), []byte(inv.String()), 0o600))
	var play strings.Builder
	play.WriteString("- hosts: bench\n  gather_facts: false\n  tasks:\n")
	for i := range benchCommands {
		fmt.Fprintf(&play, "    - name: c%d\n      ansible.builtin.command: %s\n      register: r%d\n      failed_when: r%d.stdout != 'hello'\n      changed_when: false\n", i, benchCommand, i, i)
	}
	playbook := filepath.Join(dir, "bench.yml")
	must(b, os.WriteFile(playbook, []byte(play.String()), 0o600))
	cfg := fmt.Sprintf("[defaults]\nforks = %d\nhost_key_checking = True\nretry_files_enabled = False\n"+
		"interpreter_python = /usr/bin/python3\nlocal_tmp = %s\n\n[ssh_connection]\npipelining = True\n"+
		"ssh_args = -F %s -o ControlMaster=auto -o ControlPersist=60s\ncontrol_path = %s\n",
		len(hosts), filepath.Join(dir, "ansible-tmp"), sshConfig, filepath.Join(dir, "ans-%%n"))
	cfgFile := filepath.Join(dir, "ansible.cfg")
	must(b, os.WriteFile(cfgFile, []byte(cfg), 0o600))
	return playbook, append(os.Environ(), "ANSIBLE_CONFIG="+cfgFile, "HOME="+dir)
}
