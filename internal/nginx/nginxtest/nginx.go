package nginxtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
)

// Nginx is a real nginx master (with one worker) running in its own prefix directory: its
// configuration, pid file, logs and temp directories all live there.
type Nginx struct {
	// Dir is the prefix directory.
	Dir string
	// Listen is the host:port nginx serves on.
	Listen string
	// UpstreamFile is the file nginx.conf includes for the upstream block.
	UpstreamFile string

	cmd  *exec.Cmd
	done chan struct{}
}

// nginxConf is the lab's nginx.conf: one server proxying to upstream "app", naming the upstream that
// served in X-Upstream (also on errors), and an include directory for extra configuration.
const nginxConf = `worker_processes 1;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log notice;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path {{dir}}/tmp/body;
    proxy_temp_path {{dir}}/tmp/proxy;
    fastcgi_temp_path {{dir}}/tmp/fastcgi;
    uwsgi_temp_path {{dir}}/tmp/uwsgi;
    scgi_temp_path {{dir}}/tmp/scgi;
    include {{upstream}};
    server {
        listen {{listen}};
        location / {
            proxy_pass http://app;
            proxy_connect_timeout 1s;
            proxy_next_upstream off;
            add_header X-Upstream $upstream_addr always;
        }
    }
    include {{dir}}/conf.d/*.conf;
}
`

// StartNginx writes nginx.conf into dir and starts nginx on listen with upstreamFile (which must exist)
// included. It waits until nginx answers and stops it when the test ends.
func StartNginx(t testing.TB, dir, listen, upstreamFile string) *Nginx {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Fatalf("nginx is not installed (apt-get install -y nginx-light): %v", err)
	}
	for _, d := range []string{"tmp", "conf.d"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{upstream}}", upstreamFile, "{{listen}}", listen).Replace(nginxConf)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &Nginx{Dir: dir, Listen: listen, UpstreamFile: upstreamFile, done: make(chan struct{})}
	args := append(n.baseArgs(), "-g", "daemon off;")
	n.cmd = exec.Command("nginx", args...)
	// Its own process group so the whole of it (master and workers) can be killed; and killed with
	// the test binary should that die first.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start nginx: %v", err)
	}
	go func() { n.cmd.Wait(); logf.Close(); close(n.done) }()
	t.Cleanup(n.Stop)

	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", listen, 200*time.Millisecond)
		if err == nil {
			c.Close()
			// The master creates its pid file, then writes its pid: wait for the pid itself.
			if b, err := os.ReadFile(n.PidFile()); err == nil && strings.TrimSpace(string(b)) != "" {
				return n
			}
		}
		select {
		case <-n.done:
			t.Fatalf("nginx exited at start:\n%s", n.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not answer on %s after 5s:\n%s", listen, n.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *Nginx) baseArgs() []string {
	return []string{"-p", n.Dir + "/", "-c", filepath.Join(n.Dir, "nginx.conf"), "-e", filepath.Join(n.Dir, "error.log")}
}

// Command returns the shell command running nginx on this lab's configuration with extra arguments,
// e.g. Command("-t") or Command("-s", "reload").
func (n *Nginx) Command(extra ...string) string {
	return shell.Join(append(append([]string{"nginx"}, n.baseArgs()...), extra...)...)
}

// PidFile is where the master writes its pid.
func (n *Nginx) PidFile() string { return filepath.Join(n.Dir, "nginx.pid") }

// Master is the master process id.
func (n *Nginx) Master() int { return n.cmd.Process.Pid }

// AddConf writes name into the conf.d directory nginx.conf includes (picked up at the next reload).
func (n *Nginx) AddConf(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(n.Dir, "conf.d", name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Logs returns nginx's error log and stderr, for failure messages.
func (n *Nginx) Logs() string {
	var b strings.Builder
	for _, f := range []string{"error.log", "stderr.log"} {
		data, _ := os.ReadFile(filepath.Join(n.Dir, f))
		fmt.Fprintf(&b, "--- %s\n%s", f, data)
	}
	return b.String()
}

// Stop shuts nginx down fast (SIGTERM), and kills its process group if it has not exited after 5s.
func (n *Nginx) Stop() {
	select {
	case <-n.done:
		return
	default:
	}
	pid := n.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-n.done
	}
	// Workers of a killed master may outlive it for a moment; the group kill catches them.
	syscall.Kill(-pid, syscall.SIGKILL)
}
