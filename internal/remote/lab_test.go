package remote

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/pitstop-ops/pitstop/inventory"

	"github.com/pitstop-ops/pitstop/internal/remote/sshdtest"
)

// The lab: real OpenSSH sshd processes on loopback, started by TestMain (shared ones) or by a test
// (ones it breaks), and stopped even when a test fails or panics. Ports 2200-2299 belong to this package.
const (
	targetIP, targetPort   = "127.0.0.1", 2201
	bastionIP, bastionPort = "127.0.0.2", 2202
	dropIP, dropPort       = "127.0.0.3", 2203
	noForwardPort          = 2204 // a bastion that refuses to forward
	silentPort             = 2209 // a TCP listener that never speaks SSH
)

// lab holds what the shared fixtures are made of.
type lab struct {
	dir       string
	clientKey ed25519.PrivateKey
	clientPEM []byte
	clientPub ssh.PublicKey
	target    *sshd
	bastion   *sshd
}

var theLab *lab

func TestMain(m *testing.M) {
	if os.Getenv(detachChildEnv) != "" {
		os.Exit(detachChild())
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	// A real agent of whoever runs the tests must not help (or hinder) a login.
	os.Unsetenv("SSH_AUTH_SOCK")
	defer stopAllSSHD()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintln(os.Stderr, "panic:", r)
			code = 2
		}
	}()
	l, err := newLab()
	if err != nil {
		fmt.Fprintln(os.Stderr, "remote tests: cannot start the sshd lab:", err)
		return 1
	}
	theLab = l
	defer os.RemoveAll(l.dir)
	return m.Run()
}

func newLab() (*lab, error) {
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		return nil, fmt.Errorf("%w: apt-get install -y openssh-server", err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pitstop-remote-lab-")
	if err != nil {
		return nil, err
	}
	l := &lab{dir: dir}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	l.clientKey = priv
	l.clientPEM = marshalKey(priv)
	l.clientPub, _ = ssh.NewPublicKey(pub)
	authorized := ssh.MarshalAuthorizedKey(l.clientPub)
	if l.target, err = newSSHD(dir, "target", targetIP, targetPort, authorized); err != nil {
		return nil, err
	}
	if l.bastion, err = newSSHD(dir, "bastion", bastionIP, bastionPort, authorized); err != nil {
		return nil, err
	}
	for _, s := range []*sshd{l.target, l.bastion} {
		if err := s.start(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func marshalKey(key any) []byte {
	block, err := ssh.MarshalPrivateKey(key, "pitstop test")
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(block)
}

// sshd is one OpenSSH server of the lab, with an ed25519 and an ECDSA host key (Go's client prefers
// ECDSA, so a known_hosts holding only the ed25519 key exercises golang/go#49631).
type sshd struct {
	name     string
	ip       string
	port     int
	cfgFile  string
	hostKeys []ssh.Signer
	log      *sshdtest.Log
	cmd      *exec.Cmd
	// exited is closed once the listener has exited and been reaped (its pid may then be reused).
	exited chan struct{}
}

var (
	runningMu sync.Mutex
	running   = map[*sshd]bool{}
)

func stopAllSSHD() {
	runningMu.Lock()
	all := running
	running = map[*sshd]bool{}
	runningMu.Unlock()
	for s := range all {
		s.kill()
	}
}

// newSSHD writes the configuration of an sshd listening on ip:port; extra lines are appended.
func newSSHD(dir, name, ip string, port int, authorized []byte, extra ...string) (*sshd, error) {
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, err
	}
	s := &sshd{name: name, ip: ip, port: port, cfgFile: filepath.Join(d, "sshd_config"), log: &sshdtest.Log{}}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := []string{
		"ListenAddress " + net.JoinHostPort(ip, strconv.Itoa(port)),
		"PidFile " + filepath.Join(d, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(d, "authorized_keys"),
		"StrictModes no", "UsePAM no", "PermitRootLogin yes",
		"PasswordAuthentication no", "KbdInteractiveAuthentication no",
		"MaxStartups 100", "MaxSessions 50", "PrintMotd no", "LogLevel INFO",
		// bash skips ~/.bashrc for ssh commands when SHLVL says it is not the first shell: tests (and the
		// benchmark) then measure SSH, not whatever root's .bashrc on this machine does.
		"SetEnv SHLVL=1",
	}
	for i, k := range []any{edKey, ecKey} {
		f := filepath.Join(d, fmt.Sprintf("host_key_%d", i))
		if err := os.WriteFile(f, marshalKey(k), 0o600); err != nil {
			return nil, err
		}
		signer, err := ssh.NewSignerFromKey(k)
		if err != nil {
			return nil, err
		}
		s.hostKeys = append(s.hostKeys, signer)
		cfg = append(cfg, "HostKey "+f)
	}
	cfg = append(cfg, extra...)
	if err := os.WriteFile(s.cfgFile, []byte(strings.Join(cfg, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d, "authorized_keys"), authorized, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *sshd) addr() string { return net.JoinHostPort(s.ip, strconv.Itoa(s.port)) }

// edKey is the server's ed25519 host key, the one test known_hosts files list.
func (s *sshd) edKey() ssh.PublicKey { return s.hostKeys[0].PublicKey() }

// knownHostsLine is the known_hosts line for the server's ed25519 key.
func (s *sshd) knownHostsLine() string {
	return xknownhosts.Line([]string{xknownhosts.Normalize(s.addr())}, s.edKey())
}

// start runs sshd in the foreground and waits until it accepts connections.
func (s *sshd) start() error {
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", s.cfgFile)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	// The listener dies with the test binary even if nothing else runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sshd %s: %w", s.name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	runningMu.Lock()
	running[s] = true
	runningMu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("sshd %s exited at start: %s", s.name, s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("sshd %s does not listen on %s after 10s: %s", s.name, s.addr(), s.log.String())
		}
	}
}

// kill stops the listener and every sshd process under it (one per connection) with SIGKILL: the
// connections drop without a goodbye, as when a host crashes. Commands those connections started are
// not killed by this; the test decides what should become of them.
func (s *sshd) kill() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
		return // already gone: its pid may belong to another process by now
	default:
	}
	pid := s.cmd.Process.Pid
	for _, p := range sshdtest.Descendants(pid) {
		if sshdtest.Comm(p) == "sshd" {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	s.cmd.Process.Kill()
	<-s.exited
	runningMu.Lock()
	delete(running, s)
	runningMu.Unlock()
	// Wait until the port is free again, so a restart can bind it.
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// signalSessions sends sig to every per-connection sshd process under the listener.
func (s *sshd) signalSessions(sig syscall.Signal) {
	select {
	case <-s.exited:
		return
	default:
	}
	for _, p := range sshdtest.Descendants(s.cmd.Process.Pid) {
		if sshdtest.Comm(p) == "sshd" {
			syscall.Kill(p, sig)
		}
	}
}

// home is a private home directory for the code under test.
type home struct {
	dir string
	ssh string
}

// homeOpts say what a test home holds.
type homeOpts struct {
	noKey      bool     // no ~/.ssh/id_ed25519
	knownHosts []string // known_hosts lines; nil = the target's and the bastion's ed25519 keys
	emptyKnown bool     // known_hosts exists and is empty
	config     string   // ~/.ssh/config
}

func newHome(t testing.TB, o homeOpts) *home {
	t.Helper()
	dir := t.TempDir()
	h := &home{dir: dir, ssh: filepath.Join(dir, ".ssh")}
	must(t, os.MkdirAll(h.ssh, 0o700))
	if !o.noKey {
		must(t, os.WriteFile(filepath.Join(h.ssh, "id_ed25519"), theLab.clientPEM, 0o600))
	}
	lines := o.knownHosts
	if lines == nil && !o.emptyKnown {
		lines = []string{theLab.target.knownHostsLine(), theLab.bastion.knownHostsLine()}
	}
	must(t, os.WriteFile(filepath.Join(h.ssh, "known_hosts"), []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	if o.config != "" {
		must(t, os.WriteFile(filepath.Join(h.ssh, "config"), []byte(o.config), 0o600))
	}
	return h
}

// pool returns a Pool over hosts (name → ssh field) using home h, closed at the end of the test.
func (h *home) pool(t testing.TB, opt Options, hosts map[string]string) *Pool {
	t.Helper()
	opt.Home = h.dir
	p := New(testInventory(hosts), opt)
	t.Cleanup(func() {
		p.Close()
		// The run's detached commands keep their files in the real home (sshd logs in as this user).
		if home, err := os.UserHomeDir(); err == nil && p.RunID() != "" {
			os.RemoveAll(filepath.Join(home, RunsDir, p.RunID()))
		}
	})
	return p
}

func testInventory(hosts map[string]string) *inventory.Inventory {
	inv := &inventory.Inventory{Name: "test", Source: "test.yaml", Hosts: map[string]*inventory.Host{}}
	for name, target := range hosts {
		inv.Hosts[name] = &inventory.Host{SSH: target}
	}
	inv.Defaults()
	return inv
}

// rootAt is the ssh field "root@ip:port".
func rootAt(s *sshd) string { return "root@" + s.addr() }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// showLogs prints the lab's sshd logs when the test fails.
func showLogs(t *testing.T, servers ...*sshd) {
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range append([]*sshd{theLab.target, theLab.bastion}, servers...) {
				t.Logf("sshd %s log:\n%s", s.name, s.log.String())
			}
		}
	})
}

// processGone waits up to 10s for pid to disappear.
func processGone(pid int) bool {
	for i := 0; i < 200; i++ {
		if !alive(pid) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// alive reports whether pid runs. A killed orphan is a zombie until init reaps it: that counts as dead.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	return len(f) == 0 || f[0] != "Z"
}
