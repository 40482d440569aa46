package discover

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/internal/testenv"
)

// nginxConf writes an nginx configuration to a temporary prefix and returns the test command that
// checks it. nginx -T only reads and parses: it binds no port.
func nginxConf(t *testing.T, main string, files map[string]string) (dir, test string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			testenv.Missing(t, "nginx is missing: apt-get install -y nginx-light")
		}
	}
	dir = t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(text, "DIR", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(main, "DIR", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, bin + " -t -p " + dir + "/ -c " + conf + " -e " + filepath.Join(dir, "error.log")
}

const mainConf = `pid DIR/nginx.pid;
error_log DIR/error.log;
events { worker_connections 64; }
http {
    access_log off;
    include DIR/upstream.conf;
    server {
        listen 127.0.0.10:8000;
        server_name _;
        location / {
            proxy_pass http://shop; # the app
        }
    }
}
`

func TestDiscoverNginx(t *testing.T) {
	dir, test := nginxConf(t, mainConf, map[string]string{"upstream.conf": "# Managed by pitstop\nupstream shop {\n    server 127.0.0.11:8080; # app-p1\n    server 127.0.0.12:8080 max_fails=3;\n    server 127.0.0.21:8080 backup; # app-b1\n}\n"})
	d, err := Discover(context.Background(), Options{Balancer: "local", Upstream: "shop", NginxTest: test, Command: "pitstop discover"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := d.Render(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		`upstream: "shop" # found: ` + dir + `/upstream.conf:2`,
		`file: "` + dir + `/upstream.conf" # found: holds the upstream block and nothing else`,
		`pid_file: "` + dir + `/nginx.pid" # found: ` + dir + `/nginx.conf:1`,
		`test: "` + test + `" # found: --nginx-test`,
		`reload: "` + strings.Replace(test, " -t", " -s reload", 1) + `"`,
		`  "app-p1":` + "\n" + `    ssh: "TODO: how to reach this app host over SSH, e.g. deploy@127.0.0.11"` + "\n" + `    serve: "127.0.0.11:8080" # found: ` + dir + `/upstream.conf:3`,
		`  "app-2":`,
		`  "app-b1":`,
		"production:\n    apps:\n      - \"app-p1\" # found: server in upstream shop\n      - \"app-2\"",
		"backup:\n    apps:\n      - \"app-b1\" # found: server marked backup in upstream shop",
		`url: "TODO: a page users load through the balancer that answers 200, under http://127.0.0.10:8000/`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("draft lacks %q:\n%s", want, text)
		}
	}
}

func TestDiscoverUpstreamNotAlone(t *testing.T) {
	main := strings.Replace(mainConf, "include DIR/upstream.conf;", "upstream shop { server 127.0.0.11:8080; }", 1)
	_, test := nginxConf(t, main, nil)
	d, err := Discover(context.Background(), Options{Balancer: "local", Upstream: "shop", NginxTest: test})
	if err != nil {
		t.Fatal(err)
	}
	if !d.File.TODO || !strings.Contains(d.File.V, "also holds other directives") {
		t.Errorf("balancer.file = %+v; want a TODO saying the file holds more than the upstream", d.File)
	}
	if len(d.Backup.Apps) != 1 || d.Backup.Apps[0].V != "app-b1" {
		t.Errorf("backup apps %+v; want one placeholder host whose ssh and serve are TODO", d.Backup.Apps)
	}
}

func TestDiscoverErrors(t *testing.T) {
	_, test := nginxConf(t, mainConf, map[string]string{"upstream.conf": "upstream shop { server 127.0.0.11:8080; }\nupstream api { server 127.0.0.31:9000; }\n"})
	_, err := Discover(context.Background(), Options{Balancer: "local", Upstream: "shopp", NginxTest: test})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `has no upstream "shopp"; its upstreams: shop, api`) {
		t.Errorf("unknown upstream: %v", err)
	}
	_, err = Discover(context.Background(), Options{Balancer: "local", Upstream: "shop", NginxTest: "nginx -c x"})
	if err == nil || !strings.Contains(err.Error(), "has no -t") {
		t.Errorf("test command without -t: %v", err)
	}
	_, bad := nginxConf(t, "events {}\nhttp { upstream shop { server 127.0.0.11:8080 }\n", nil)
	_, err = Discover(context.Background(), Options{Balancer: "local", Upstream: "shop", NginxTest: bad})
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "failed") {
		t.Errorf("broken config: %v", err)
	}
	_, err = Discover(context.Background(), Options{Balancer: "ops@lb.shop.invalid", Upstream: "shop", NginxTest: "nginx -t"})
	if err == nil || !strings.Contains(err.Error(), "lb.shop.invalid") {
		t.Errorf("unreachable balancer: %v", err)
	}
}

func TestSplitDumpAndParse(t *testing.T) {
	dump := "# configuration file /etc/nginx/nginx.conf:\nhttp { include /etc/nginx/u.conf; }\n\n# configuration file /etc/nginx/u.conf:\nupstream u {\n  server a:1; # web-1\n  # server b:2;\n  server 'c:3';\n}\n"
	files := splitDump(dump)
	if len(files) != 2 || files[1].Path != "/etc/nginx/u.conf" {
		t.Fatalf("files %+v", files)
	}
	if err := parseConf(files[1]); err != nil {
		t.Fatal(err)
	}
	up := files[1].Directives[0]
	var got []string
	for _, s := range up.Block {
		got = append(got, s.Args[0]+"@"+s.Comment)
	}
	if strings.Join(got, " ") != "a:1@web-1 c:3@" || up.Block[1].Line != 4 {
		t.Errorf("servers %v (line %d)", got, up.Block[1].Line)
	}
}
