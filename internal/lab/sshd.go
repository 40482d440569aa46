package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Files of the lab's SSH setup, under DIR/ssh.
func (l *layout) sshdConfig() string   { return filepath.Join(l.sshDir(), "sshd_config") }
func (l *layout) sshHostKey() string   { return filepath.Join(l.sshDir(), "host_ed25519_key") }
func (l *layout) sshClientKey() string { return filepath.Join(l.sshDir(), "id_ed25519") }
func (l *layout) sshAuthorized() string {
	return filepath.Join(l.sshDir(), "authorized_keys")
}
func (l *layout) sshKnownHosts() string { return filepath.Join(l.sshDir(), "known_hosts") }
func (l *layout) sshClientConfig() string {
	return filepath.Join(l.sshDir(), "config")
}

// sshdBin is where Debian's openssh-server installs sshd; sshd must be started by absolute path.
const sshdBin = "/usr/sbin/sshd"

// startSSH creates the lab's keys, known_hosts and ssh_config and starts an sshd on 127.0.0.1 that
// lets the current user in with the lab's key only.
func startSSH(ctx context.Context, l *layout) error {
	me, err := user.Current()
	if err != nil {
		return fmt.Errorf("ssh: who am I: %w", err)
	}
	if err := os.MkdirAll(l.sshDir(), 0o700); err != nil {
		return fmt.Errorf("ssh: create %s: %w", l.sshDir(), err)
	}
	for _, k := range []struct{ file, comment string }{
		{l.sshHostKey(), "pitstop-lab-host"},
		{l.sshClientKey(), "pitstop-lab"},
	} {
		out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k.comment, "-f", k.file).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ssh: ssh-keygen %s: %w\n%s", k.file, err, lastLines(out, 5))
		}
	}
	clientPub, err := os.ReadFile(l.sshClientKey() + ".pub")
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	hostPub, err := os.ReadFile(l.sshHostKey() + ".pub")
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	// known_hosts names the server as ssh looks it up: [address]:port for a port other than 22.
	fields := strings.Fields(string(hostPub))
	if len(fields) < 2 {
		return fmt.Errorf("ssh: host public key %s.pub is not \"TYPE BASE64 COMMENT\"", l.sshHostKey())
	}
	known := fmt.Sprintf("[%s]:%d %s %s\n", addrSSH, l.port(offSSH), fields[0], fields[1])
	files := map[string]string{
		l.sshAuthorized():   string(clientPub),
		l.sshKnownHosts():   known,
		l.sshdConfig():      l.renderSSHDConfig(me.Username),
		l.sshClientConfig(): l.renderSSHClientConfig(me.Username),
	}
	for f, content := range files {
		if err := writeFile(f, []byte(content), 0o600); err != nil {
			return fmt.Errorf("ssh: %w", err)
		}
	}
	// sshd insists on its privilege-separation directory.
	if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) && os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return fmt.Errorf("ssh: create /run/sshd (sshd's privilege separation directory): %w", err)
		}
	}
	if out, err := exec.CommandContext(ctx, sshdBin, "-t", "-f", l.sshdConfig()).CombinedOutput(); err != nil {
		return fmt.Errorf("ssh: sshd -t rejects %s: %w\n%s", l.sshdConfig(), err, lastLines(out, 10))
	}
	if out, err := exec.CommandContext(ctx, sshdBin, "-f", l.sshdConfig(), "-E", l.logFile("sshd")).CombinedOutput(); err != nil {
		return fmt.Errorf("ssh: start sshd -f %s: %w\n%s\nlast lines of %s:\n%s", l.sshdConfig(), err, lastLines(out, 5),
			l.logFile("sshd"), tailFile(l.logFile("sshd"), 10))
	}
	if err := waitPIDFile(l.pidFile("sshd"), "sshd", 5*time.Second); err != nil {
		return fmt.Errorf("ssh: sshd started but %w; see %s", err, l.logFile("sshd"))
	}
	if !waitListening(l.sshAddr(), 5*time.Second) {
		return fmt.Errorf("ssh: sshd started but does not accept connections on %s after 5s; see %s", l.sshAddr(), l.logFile("sshd"))
	}
	return nil
}

func (l *layout) renderSSHDConfig(login string) string {
	return fmt.Sprintf(`# Written by pitstop lab: an sshd for the lab only, on loopback, keys only.
Port %d
ListenAddress %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
AllowUsers %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
X11Forwarding no
PrintMotd no
LogLevel INFO
# The lab's "hosts" log in to this machine's own account, whose ~/.bashrc is a workstation's (pyenv,
# prompts). Debian's bash reads it for every command sshd starts unless SHLVL is already set, which
# added 150 ms to each command here; a server's account pays its own rc files.
SetEnv SHLVL=1
Subsystem sftp /usr/lib/openssh/sftp-server
`, l.port(offSSH), addrSSH, l.sshHostKey(), l.pidFile("sshd"), l.sshAuthorized(), login)
}

// renderSSHClientConfig is DIR/ssh/config: one alias per lab host, all pointing at the lab's sshd,
// with the lab's key and known_hosts and host keys checked.
func (l *layout) renderSSHClientConfig(login string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by pitstop lab: every lab host through the lab's sshd on %s.\n", l.sshAddr())
	fmt.Fprintf(&b, "# ssh -F %s app-p1 true\n", l.sshClientConfig())
	for _, h := range []string{hostBalancer, hostAppProd, hostAppBack, hostDBProd, hostDBBack, hostDBRehearse, hostAppRehearse} {
		fmt.Fprintf(&b, "\nHost %s\n  HostName %s\n  Port %s\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n"+
			"  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
			h, addrSSH, strconv.Itoa(l.port(offSSH)), login, l.sshClientKey(), l.sshKnownHosts())
	}
	return b.String()
}
