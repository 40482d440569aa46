package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
)

// Files of the balancer, under DIR/nginx (nginx's prefix) and DIR/logs.
func (l *layout) nginxConf() string     { return filepath.Join(l.nginxDir(), "nginx.conf") }
func (l *layout) nginxUpstream() string { return filepath.Join(l.nginxDir(), "upstream.conf") }
func (l *layout) nginxPID() string      { return filepath.Join(l.nginxDir(), "nginx.pid") }
func (l *layout) nginxErrorLog() string { return l.logFile("nginx-error") }

// nginxBin finds nginx on PATH or where Debian installs it.
func nginxBin() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	return "/usr/sbin/nginx"
}

// nginxArgs are the arguments that point nginx at the lab's prefix, configuration and error log; the
// balancer's test and reload commands in the inventory use the same.
func (l *layout) nginxArgs(extra ...string) []string {
	return append([]string{"-p", l.nginxDir() + "/", "-c", l.nginxConf(), "-e", l.nginxErrorLog()}, extra...)
}

// nginxCommand is the shell command line of nginx with the lab's arguments and extra.
func (l *layout) nginxCommand(extra ...string) string {
	return shell.Join(append([]string{nginxBin()}, l.nginxArgs(extra...)...)...)
}

// renderNginxConf is the balancer's nginx.conf.
func (l *layout) renderNginxConf() string {
	workerUser := ""
	if os.Geteuid() == 0 {
		// Workers must not run as root; nginx's default user "nobody nobody" lacks a group on Debian.
		workerUser = "user nobody nogroup;\n"
		if _, err := user.Lookup("www-data"); err == nil {
			workerUser = "user www-data www-data;\n"
		}
	}
	q := func(s string) string { return `"` + s + `"` }
	return fmt.Sprintf(`# Written by pitstop lab: the balancer in front of both sides.
%[1]sworker_processes 1;
pid %[2]s;
error_log %[3]s notice;

events {
    worker_connections 1024;
}

http {
    log_format pitstop '$remote_addr [$time_local] "$request" $status upstream=$upstream_addr '
                       'upstream_status=$upstream_status time=$request_time';
    access_log %[4]s pitstop;
    server_tokens off;
    keepalive_timeout 15s;
    client_body_temp_path %[5]s;
    proxy_temp_path %[6]s;
    fastcgi_temp_path %[7]s;
    uwsgi_temp_path %[8]s;
    scgi_temp_path %[9]s;

    # The upstream block Pitstop rewrites to switch sides (upstream %[10]s).
    include %[11]s;

    server {
        listen %[12]s;

        location / {
            proxy_pass http://%[10]s;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 1s;
            proxy_read_timeout 10s;
            # nginx's default, kept on purpose so the lab behaves like a stock balancer: a request that
            # cannot reach a server (refused, timed out) goes to the next server of the upstream, but a
            # POST is never retried once it was sent. With one app per side there is no next server,
            # so stopping the live app shows up as 502s: that is what switching sides avoids.
            proxy_next_upstream error timeout;
            add_header X-Upstream $upstream_addr always;
        }
    }
}
`, workerUser, q(l.nginxPID()), q(l.nginxErrorLog()), q(l.logFile("nginx-access")),
		q(filepath.Join(l.nginxDir(), "client_body_temp")), q(filepath.Join(l.nginxDir(), "proxy_temp")),
		q(filepath.Join(l.nginxDir(), "fastcgi_temp")), q(filepath.Join(l.nginxDir(), "uwsgi_temp")),
		q(filepath.Join(l.nginxDir(), "scgi_temp")), upstreamName, q(l.nginxUpstream()), l.balancerAddr())
}

// startNginx writes the balancer's configuration with upstream as its upstream file, tests it and
// starts nginx, which daemonizes and writes DIR/nginx/nginx.pid.
func startNginx(ctx context.Context, l *layout, upstream string) error {
	if err := writeFile(l.nginxConf(), []byte(l.renderNginxConf()), 0o644); err != nil {
		return err
	}
	if err := writeFile(l.nginxUpstream(), []byte(upstream), 0o644); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, nginxBin(), l.nginxArgs("-t")...).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -t rejects %s: %w\n%s", l.nginxConf(), err, lastLines(out, 10))
	}
	if out, err := exec.CommandContext(ctx, nginxBin(), l.nginxArgs()...).CombinedOutput(); err != nil {
		return fmt.Errorf("start nginx (%s): %w\n%s\nlast lines of %s:\n%s", l.nginxCommand(), err,
			lastLines(out, 5), l.nginxErrorLog(), tailFile(l.nginxErrorLog(), 10))
	}
	if err := waitPIDFile(l.nginxPID(), "nginx", 5*time.Second); err != nil {
		return fmt.Errorf("nginx started but %w; see %s", err, l.nginxErrorLog())
	}
	if !waitListening(l.balancerAddr(), 5*time.Second) {
		return fmt.Errorf("nginx started but does not accept connections on %s after 5s; see %s", l.balancerAddr(), l.nginxErrorLog())
	}
	return nil
}
