package live_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pitstop-ops/pitstop/internal/remote/sshdtest"
)

// testSSHD is a real OpenSSH sshd on loopback that lets the current user in with one key, and a
// private home directory (~/.ssh with that key and the server's host key) for the code under test.
type testSSHD struct {
	t    *testing.T
	dir  string
	addr string
	user string
	// Home is the directory to give remote.Options.Home.
	Home string
	log  *sshdtest.Log
	cmd  *exec.Cmd
	done chan struct{}
}

// newTestSSHD prepares keys, authorized_keys and the private home; Start runs the server.
func newTestSSHD(t *testing.T, addr string) *testSSHD {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Fatalf("%v: install OpenSSH's server with apt-get install -y openssh-server", err)
	}
	noErr(t, os.MkdirAll("/run/sshd", 0o755))
	me, err := user.Current()
	noErr(t, err)
	dir := t.TempDir()
	s := &testSSHD{t: t, dir: dir, addr: addr, user: me.Username, Home: filepath.Join(dir, "home"), log: &sshdtest.Log{}}
	hostPub, hostKey, err := ed25519.GenerateKey(rand.Reader)
	noErr(t, err)
	clientPub, clientKey, err := ed25519.GenerateKey(rand.Reader)
	noErr(t, err)
	noErr(t, os.WriteFile(filepath.Join(dir, "host_key"), marshalKey(t, hostKey), 0o600))
	cp, err := ssh.NewPublicKey(clientPub)
	noErr(t, err)
	noErr(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(cp), 0o600))
	hp, err := ssh.NewPublicKey(hostPub)
	noErr(t, err)
	sshDir := filepath.Join(s.Home, ".ssh")
	noErr(t, os.MkdirAll(sshDir, 0o700))
	noErr(t, os.WriteFile(filepath.Join(sshDir, "id_ed25519"), marshalKey(t, clientKey), 0o600))
	noErr(t, os.WriteFile(filepath.Join(sshDir, "known_hosts"), []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, hp)+"\n"), 0o600))
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.log.String())
		}
	})
	return s
}

// Target is the inventory's ssh field for this server.
func (s *testSSHD) Target() string { return s.user + "@" + s.addr }

// Start writes the configuration, with extra lines appended, and runs sshd until it accepts
// connections.
func (s *testSSHD) Start(extra ...string) {
	s.t.Helper()
	cfg := append([]string{
		"ListenAddress " + s.addr,
		"HostKey " + filepath.Join(s.dir, "host_key"),
		"PidFile " + filepath.Join(s.dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(s.dir, "authorized_keys"),
		"AllowUsers " + s.user,
		"StrictModes no", "UsePAM no", "PermitRootLogin prohibit-password",
		"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PrintMotd no", "LogLevel INFO",
	}, extra...)
	file := filepath.Join(s.dir, "sshd_config")
	noErr(s.t, os.WriteFile(file, []byte(strings.Join(cfg, "\n")+"\n"), 0o600))
	s.cmd = exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", file)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// The server dies with the test binary, whatever happens to the test.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	noErr(s.t, s.cmd.Start())
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(s.cmd, s.done)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			s.t.Fatalf("sshd on %s exited at start: %s", s.addr, s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("sshd does not listen on %s after 10s: %s", s.addr, s.log.String())
		}
	}
}

// Stop kills the server and every per-connection sshd under it, so established SSH connections drop
// as when the host goes away. It is safe to call when the server is not running.
func (s *testSSHD) Stop() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	for _, p := range sshdtest.Descendants(s.cmd.Process.Pid) {
		syscall.Kill(p, syscall.SIGKILL)
	}
	s.cmd.Process.Kill()
	<-s.done
}

func marshalKey(t *testing.T, key ed25519.PrivateKey) []byte {
	block, err := ssh.MarshalPrivateKey(key, "pitstop live test")
	noErr(t, err)
	return pem.EncodeToMemory(block)
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
