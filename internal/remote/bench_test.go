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
// the lab's sshd), all hosts in parallel: once with a fresh Pool per iteration (connections are part of
// the cost, as in a real run), once with plain OpenSSH `ssh -F cfg alias cmd` (no ControlMaster).
//
//	go test ./remote/ -run '^$' -bench BenchmarkRun10Hosts -benchtime 10x -count 3
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
}
