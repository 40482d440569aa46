package inventory

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	inv, err := Parse("shop.yaml", []byte(base(t)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"source", inv.Source, "shop.yaml"},
		{"name", inv.Name, "shop"},
		{"host name filled", inv.Hosts["app-b1"].Name, "app-b1"},
		{"ssh", inv.Hosts["app-b1"].SSH, "deploy@10.0.2.11:2222"},
		{"backup database", inv.Sides.Backup.Database, "db-b"},
		{"version", inv.Upgrade.Version, "2.4.0"},
		{"verify version defaults to version", inv.Upgrade.Verify.Version, "2.4.0"},
		{"rate default", inv.Probe.Rate, 20},
		{"probe timeout default", inv.Probe.Timeout, 2 * time.Second},
		{"balancer test default", inv.Balancer.Test, "nginx -t"},
		{"readings default", inv.Thresholds.Readings, 5},
		{"migrate", strings.Join(inv.Upgrade.Migrate.Commands, "|"), "shop-migrate up"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseWholeFile(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"empty", "", "x.yaml:1:1: the inventory is empty; write at least name, probe, balancer, hosts, sides and upgrade (docs/inventory.md has a full example; demo/inventory.yaml is a working one)"},
		{"comments only", "# nothing yet\n\n# still nothing\n", "x.yaml:1:1: the inventory is empty; write at least name, probe, balancer, hosts, sides and upgrade (docs/inventory.md has a full example; demo/inventory.yaml is a working one)"},
		{"null", "~\n", "x.yaml:1:1: the inventory is empty; write at least name, probe, balancer, hosts, sides and upgrade (docs/inventory.md has a full example; demo/inventory.yaml is a working one)"},
		{"list", "- name: shop\n", "x.yaml:1:1: the inventory must be a mapping of fields (field: value, one per line), found a list"},
		{"text", "\n\nshop\n", "x.yaml:3:1: the inventory must be a mapping of fields (field: value, one per line), found a text value"},
		{"tab indentation", "probe:\n\turl: http://x/\n", "x.yaml:2:1: invalid YAML: found character '\t' that cannot start any token; fix the syntax here"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := Parse("x.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse succeeded with %+v, want %s", inv, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

// TestParseSeveralErrors checks that semantic problems all come back at once, sorted by position.
func TestParseSeveralErrors(t *testing.T) {
	src := edit(t, base(t),
		"  url: http://127.0.0.1:8080/\n", "  url: http://127.0.0.1:8080/\n  rate: -5\n",
		"host: lb", "host: nginx-1",
		"serve: 10.0.1.11:8080", "serve: 10.0.1.11",
		"      - app-b1\n", "      - app-b1\n      - app-b9\n",
		"path: /health", "path: health",
	)
	_, err := Parse("shop.yaml", []byte(src))
	want := strings.Join([]string{
		`shop.yaml:5:9: probe.rate is -5; give the number of probe requests per second, more than 0 (default 20)`,
		`shop.yaml:7:9: balancer.host names host "nginx-1", which is not in hosts; add it under hosts: or fix the name`,
		`shop.yaml:15:12: hosts.app-p1.serve "10.0.1.11" is not host:port; write the address nginx reaches the application at, e.g. 10.0.1.11:8080`,
		`shop.yaml:32:9: sides.backup.apps[1] names host "app-b9", which is not in hosts; add it under hosts: or fix the name`,
		`shop.yaml:41:11: upgrade.verify.path "health" must start with /, e.g. /health`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got: %v\nwant: %s", err, want)
	}
	es := AsErrors(err)
	if len(es) != 5 {
		t.Fatalf("AsErrors gave %d errors, want 5", len(es))
	}
	if es[3].File != "shop.yaml" || es[3].Line != 32 || es[3].Col != 9 {
		t.Errorf("fourth error at %s:%d:%d, want shop.yaml:32:9", es[3].File, es[3].Line, es[3].Col)
	}
	var one *Error
	if !errors.As(err, &one) || one != es[0] {
		t.Errorf("errors.As(*Error) did not find the first error")
	}
}

// TestParseSeveralUnknownFields checks that every unknown field and wrong kind is listed at once.
func TestParseSeveralUnknownFields(t *testing.T) {
	src := edit(t, base(t),
		"name: shop\n", "nmae: shop\n",
		"    ssh: ops@lb\n", "    sssh: ops@lb\n",
		"  verify:\n", "  verfy:\n",
		"apps: [app-p1]", "apps: app-p1",
	)
	_, err := Parse("shop.yaml", []byte(src))
	want := strings.Join([]string{
		`shop.yaml:2:1: unknown field "nmae" at the top level; did you mean "name"?`,
		`shop.yaml:11:5: unknown field "sssh" in hosts.lb; did you mean "ssh"?`,
		`shop.yaml:26:11: sides.production.apps must be a list, found a text value; write [a, b] or one "- item" per line`,
		`shop.yaml:38:3: unknown field "verfy" in upgrade; did you mean "verify"?`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got: %v\nwant: %s", err, want)
	}
}

func TestParseYAMLFeatures(t *testing.T) {
	// Anchors, aliases, merge keys and quoted keys decode as YAML says; a host name with a dot is
	// quoted in paths.
	src := edit(t, base(t),
		"  app-p1:\n    ssh: deploy@10.0.1.11\n", "  app-p1:\n    <<: &deploy\n      ssh: deploy@10.0.1.11\n",
		"  db-p:\n    ssh: deploy@10.0.1.20\n", "  db-p:\n    <<: *deploy\n",
		"    ssh: ops@lb\n", "    ssh: ops@lb\n  \"lb.old\":\n    serve: nope\n",
	)
	_, err := Parse("shop.yaml", []byte(src))
	want := `shop.yaml:12:3: hosts["lb.old"].ssh is missing; say how to reach the host: user@address[:port], an alias from your ssh config, or local` + "\n" +
		`shop.yaml:13:12: hosts["lb.old"].serve "nope" is not host:port; write the address nginx reaches the application at, e.g. 10.0.1.11:8080`
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got: %v\nwant: %s", err, want)
	}
	src = strings.Replace(src, "    serve: nope\n", "    ssh: ops@old\n", 1)
	inv, err := Parse("shop.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Hosts["db-p"].SSH; got != "deploy@10.0.1.11" {
		t.Errorf("db-p ssh from the merge key = %q, want deploy@10.0.1.11", got)
	}
}

func TestValidateInCode(t *testing.T) {
	inv, err := Parse("shop.yaml", []byte(base(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Validate(); err != nil {
		t.Fatalf("Validate of a parsed inventory: %v", err)
	}
	inv.Source = ""
	inv.Sides.Backup.Apps = append(inv.Sides.Backup.Apps, "app-p1")
	inv.Hosts["db-b"].Postgres = ""
	want := strings.Join([]string{
		`inventory: hosts.db-b.postgres is missing; a database host needs a libpq connection string, e.g. postgres: postgres://pitstop@10.0.1.20:5432/shop`,
		`inventory: sides.backup.apps[1] names host "app-p1", which is already in the production side (sides.production.apps[0]); a host belongs to one side only`,
	}, "\n")
	if err := inv.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate\n got: %v\nwant: %s", err, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ssh", "config"), []byte("Host *\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, sshConfig string) string {
		t.Helper()
		src := base(t) + "ssh_config: " + sshConfig + "\n"
		p := filepath.Join(dir, "shop.yaml")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("relative ssh_config", func(t *testing.T) {
		inv, err := Load(write(t, "ssh/config"))
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "ssh", "config"); inv.SSHConfig != want {
			t.Errorf("SSHConfig = %q, want %q", inv.SSHConfig, want)
		}
	})
	t.Run("relative to the file, not the working directory", func(t *testing.T) {
		p := write(t, "./ssh/../ssh/config")
		t.Chdir(t.TempDir())
		inv, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "ssh", "config"); inv.SSHConfig != want {
			t.Errorf("SSHConfig = %q, want %q", inv.SSHConfig, want)
		}
	})
	t.Run("home", func(t *testing.T) {
		t.Setenv("HOME", dir)
		inv, err := Load(write(t, "~/ssh/config"))
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "ssh", "config"); inv.SSHConfig != want {
			t.Errorf("SSHConfig = %q, want %q", inv.SSHConfig, want)
		}
	})
	t.Run("missing ssh_config", func(t *testing.T) {
		p := write(t, "ssh/nope")
		_, err := Load(p)
		want := p + `:43:13: ssh_config "ssh/nope" resolves to ` + filepath.Join(dir, "ssh", "nope") +
			`, which does not exist; a relative path starts from the inventory file's directory`
		if err == nil || err.Error() != want {
			t.Fatalf("error\n got: %v\nwant: %s", err, want)
		}
	})
	t.Run("ssh_config is a directory", func(t *testing.T) {
		p := write(t, "ssh")
		_, err := Load(p)
		want := p + `:43:13: ssh_config "ssh" resolves to ` + filepath.Join(dir, "ssh") + `, which is a directory; name the ssh_config file itself`
		if err == nil || err.Error() != want {
			t.Fatalf("error\n got: %v\nwant: %s", err, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "nope.yaml"))
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
			t.Fatalf("error = %v, want a not-exist error naming the file", err)
		}
	})
	t.Run("Parse leaves ssh_config alone", func(t *testing.T) {
		inv, err := Parse("shop.yaml", []byte(base(t)+"ssh_config: ssh/config\n"))
		if err != nil {
			t.Fatal(err)
		}
		if inv.SSHConfig != "ssh/config" {
			t.Errorf("SSHConfig = %q, want it as written", inv.SSHConfig)
		}
	})
}

func TestErrorFormat(t *testing.T) {
	es := sortErrors(Errors{
		{File: "a.yaml", Line: 9, Col: 3, Msg: "last"},
		{File: "a.yaml", Line: 2, Col: 7, Msg: "second"},
		{File: "a.yaml", Line: 2, Col: 1, Msg: "first"},
		{File: "a.yaml", Line: 9, Col: 3, Msg: "last"},
	})
	want := "a.yaml:2:1: first\na.yaml:2:7: second\na.yaml:9:3: last"
	if es.Error() != want {
		t.Errorf("Errors\n got: %s\nwant: %s", es, want)
	}
	if got := (&Error{File: "demo", Msg: "no position"}).Error(); got != "demo: no position" {
		t.Errorf("Error without position = %q", got)
	}
}

func TestParseSectionWithoutRequiredFields(t *testing.T) {
	src := edit(t, base(t), "balancer:\n  host: lb\n  upstream: shop_backend\n  file: /etc/nginx/conf.d/shop.conf\n",
		"balancer:\n  test: nginx -t -q\n")
	_, err := Parse("shop.yaml", []byte(src))
	want := strings.Join([]string{
		`shop.yaml:5:1: balancer.file is missing; give the absolute path of the upstream file on the balancer host, e.g. /etc/nginx/conf.d/shop-upstream.conf`,
		`shop.yaml:5:1: balancer.host is missing; name the nginx host, as listed under hosts:`,
		`shop.yaml:5:1: balancer.upstream is missing; give the name of the nginx upstream that proxy_pass refers to, e.g. upstream: shop_backend`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got: %v\nwant: %s", err, want)
	}
}

// TestTestdataValid checks that every inventory in testdata parses: they seed the fuzzer as valid inputs.
func TestTestdataValid(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("testdata: %v, %d files", err, len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data); err != nil {
			t.Errorf("%s:\n%v", f, err)
		}
	}
}

func TestParseShorthands(t *testing.T) {
	data, err := os.ReadFile("testdata/anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Parse("anchors.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if h := inv.Hosts["app-b1"]; h.SSH != "deploy@[::1]:2222" || h.Serve != "127.0.0.12:8080" {
		t.Errorf("merged host = %+v, want ssh from the anchor and its own serve", *h)
	}
	if got, want := inv.Expand(inv.Upgrade.Commands[0], "app.p1"),
		"set -e\nsystemctl stop shop\ninstall-shop --version 10.0 --listen '[::1]:8080' --name app.p1 --addr ::1\n"; got != want {
		t.Errorf("block command expanded\n got: %q\nwant: %q", got, want)
	}
	if got, want := inv.Upgrade.Commands[1], "awk '{print $1}' /etc/hosts | grep -q ${HOSTNAME}"; got != want {
		t.Errorf("folded command = %q, want %q", got, want)
	}
	if inv.Probe.Timeout != 1500*time.Millisecond || !inv.Upgrade.OneAtATime || inv.Thresholds.Timeout != time.Hour {
		t.Errorf("probe timeout %s, one_at_a_time %v, gate timeout %s", inv.Probe.Timeout, inv.Upgrade.OneAtATime, inv.Thresholds.Timeout)
	}
	if got := inv.Hosts["db-p"].Postgres; got != "host=127.0.0.13 port=5432 user=pitstop dbname=shop sslmode=disable" {
		t.Errorf("tagged postgres = %q", got)
	}
}
