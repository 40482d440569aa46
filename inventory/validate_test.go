package inventory

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// marker shows, inside a test's YAML, where the one expected error must point. It is removed before
// parsing.
const marker = "‸"

// base reads testdata/valid.yaml, the valid inventory every case changes.
func base(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// edit applies old→new replacements to src; each old must occur exactly once.
func edit(t testing.TB, src string, pairs ...string) string {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatalf("edit needs old/new pairs, got %d strings", len(pairs))
	}
	for i := 0; i < len(pairs); i += 2 {
		if n := strings.Count(src, pairs[i]); n != 1 {
			t.Fatalf("edit: %q occurs %d times in the YAML, want once", pairs[i], n)
		}
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	return src
}

// unmark removes the marker and returns the position it marked as "LINE:COL".
func unmark(t testing.TB, src string) (string, string) {
	t.Helper()
	i := strings.Index(src, marker)
	if i < 0 {
		return src, ""
	}
	if strings.Count(src, marker) != 1 {
		t.Fatalf("more than one marker in the YAML")
	}
	before := src[:i]
	line := strings.Count(before, "\n") + 1
	col := i - strings.LastIndex(before, "\n")
	return before + src[i+len(marker):], fmt.Sprintf("%d:%d", line, col)
}

func TestParseRules(t *testing.T) {
	cases := []struct {
		name  string
		edits []string
		// at is the expected position when the YAML has no marker.
		at   string
		want string
	}{
		// Top level.
		{"name missing", []string{"name: shop\n", ""}, "1:1",
			`name is missing; add name: followed by the application's name, e.g. name: shop`},
		{"name blank", []string{"name: shop", `name: ‸""`}, "",
			`name is missing; add name: followed by the application's name, e.g. name: shop`},

		// Probe.
		{"probe url missing", []string{"probe:\n  url: http://127.0.0.1:8080/\n", "‸probe:\n  rate: 5\n"}, "",
			`probe.url is missing; add the URL users reach the application at through the balancer, e.g. url: http://shop.example.com/`},
		{"probe url scheme", []string{"url: http://127.0.0.1:8080/", "url: ‸ftp://u:s3cret@127.0.0.1/"}, "",
			`probe.url must start with http:// or https://; write it as http://host[:port]/path`},
		{"probe url no host", []string{"url: http://127.0.0.1:8080/", "url: ‸http:///health"}, "",
			`probe.url has no host; write it as http://host[:port]/path`},
		{"probe url unparsable", []string{"url: http://127.0.0.1:8080/", "url: ‸http://[::1/"}, "",
			`probe.url is not a valid URL; write it as http://host[:port]/path`},
		{"write url", []string{"  url: http://127.0.0.1:8080/\n", "  url: http://127.0.0.1:8080/\n  write_url: ‸localhost:8080/w\n"}, "",
			`probe.write_url must start with http:// or https://; write it as http://host[:port]/path`},
		{"rate negative", []string{"  url: http://127.0.0.1:8080/\n", "  url: http://127.0.0.1:8080/\n  rate: ‸-1\n"}, "",
			`probe.rate is -1; give the number of probe requests per second, more than 0 (default 20)`},
		{"probe timeout negative", []string{"  url: http://127.0.0.1:8080/\n", "  url: http://127.0.0.1:8080/\n  timeout: ‸-2s\n"}, "",
			`probe.timeout is -2s; give a positive duration such as 2s (the default)`},
		{"upstream header", []string{"  url: http://127.0.0.1:8080/\n", "  url: http://127.0.0.1:8080/\n  upstream_header: ‸X Up\n"}, "",
			`probe.upstream_header "X Up" is not an HTTP header name; use letters, digits and -, e.g. X-Upstream`},

		// Balancer.
		{"balancer missing", []string{"balancer:\n  host: lb\n  upstream: shop_backend\n  file: /etc/nginx/conf.d/shop.conf\n", ""}, "1:1",
			`balancer is missing; add balancer: with host (the nginx host), upstream (the upstream's name) and file (the upstream file Pitstop rewrites)`},
		{"balancer empty", []string{"balancer:\n  host: lb\n  upstream: shop_backend\n  file: /etc/nginx/conf.d/shop.conf\n", "‸balancer:\n"}, "",
			`balancer is missing; add balancer: with host (the nginx host), upstream (the upstream's name) and file (the upstream file Pitstop rewrites)`},
		{"balancer host missing", []string{"balancer:\n  host: lb\n", "‸balancer:\n"}, "",
			`balancer.host is missing; name the nginx host, as listed under hosts:`},
		{"balancer host unknown", []string{"host: lb", "host: ‸lbx"}, "",
			`balancer.host names host "lbx", which is not in hosts; add it under hosts: or fix the name`},
		{"balancer host is an app", []string{"host: lb", "host: ‸app-p1"}, "",
			`balancer.host "app-p1" is also named at sides.production.apps[0]; the balancer must be a host of its own, not an app or database host`},
		{"upstream invalid", []string{"upstream: shop_backend", "upstream: ‸shop backend"}, "",
			`balancer.upstream "shop backend" is not a valid nginx upstream name; use letters, digits, _, - and ., e.g. shop_backend`},
		{"upstream missing", []string{"balancer:\n  host: lb\n  upstream: shop_backend\n", "‸balancer:\n  host: lb\n"}, "",
			`balancer.upstream is missing; give the name of the nginx upstream that proxy_pass refers to, e.g. upstream: shop_backend`},
		{"file relative", []string{"file: /etc/nginx/conf.d/shop.conf", "file: ‸conf.d/shop.conf"}, "",
			`balancer.file "conf.d/shop.conf" is not an absolute path; give the full path on the balancer host, e.g. /etc/nginx/conf.d/shop-upstream.conf`},
		{"file missing", []string{"balancer:\n  host: lb\n  upstream: shop_backend\n  file: /etc/nginx/conf.d/shop.conf\n", "‸balancer:\n  host: lb\n  upstream: shop_backend\n"}, "",
			`balancer.file is missing; give the absolute path of the upstream file on the balancer host, e.g. /etc/nginx/conf.d/shop-upstream.conf`},
		{"test blank", []string{"  file: /etc/nginx/conf.d/shop.conf\n", "  file: /etc/nginx/conf.d/shop.conf\n  test: ‸\" \"\n"}, "",
			`balancer.test is blank; give the command that checks nginx's configuration, or leave it out for "nginx -t"`},
		{"reload blank", []string{"  file: /etc/nginx/conf.d/shop.conf\n", "  file: /etc/nginx/conf.d/shop.conf\n  reload: ‸\"\t\"\n"}, "",
			`balancer.reload is blank; give the command that reloads nginx, or leave it out for "nginx -s reload"`},
		{"pid file relative", []string{"  file: /etc/nginx/conf.d/shop.conf\n", "  file: /etc/nginx/conf.d/shop.conf\n  pid_file: ‸nginx.pid\n"}, "",
			`balancer.pid_file "nginx.pid" is not an absolute path; give nginx's pid file, or leave it out for /run/nginx.pid`},

		// Hosts.
		{"host without settings", []string{"  lb:\n    ssh: ops@lb\n", "  ‸lb:\n"}, "",
			`hosts.lb has no settings; give it at least ssh: user@address (or ssh: local)`},
		{"host name", []string{"sides:\n", "  ‸bad name!:\n    ssh: x@y\nsides:\n"}, "",
			`host name "bad name!" is not allowed; use letters, digits, _, - and ., starting with a letter or digit`},
		{"ssh missing", []string{"  lb:\n    ssh: ops@lb\n", "  ‸lb: {}\n"}, "",
			`hosts.lb.ssh is missing; say how to reach the host: user@address[:port], an alias from your ssh config, or local`},
		{"ssh bad port", []string{"ssh: ops@lb", "ssh: ‸ops@lb:99999"}, "",
			`hosts.lb.ssh: ssh target "ops@lb:99999" has port "99999"; a port is a number from 1 to 65535; write user@address[:port], an alias from your ssh config, or local`},
		{"ssh empty user", []string{"ssh: ops@lb", "ssh: ‸\"@lb\""}, "",
			`hosts.lb.ssh: ssh target "@lb" has an empty user before @; write user@address[:port], an alias from your ssh config, or local`},
		{"serve missing", []string{"  app-p1:\n    ssh: deploy@10.0.1.11\n    serve: 10.0.1.11:8080\n", "  ‸app-p1:\n    ssh: deploy@10.0.1.11\n"}, "",
			`hosts.app-p1.serve is missing; an app host needs the host:port its application listens on, e.g. serve: 10.0.1.11:8080`},
		{"serve without port", []string{"serve: 10.0.1.11:8080", "serve: ‸10.0.1.11"}, "",
			`hosts.app-p1.serve "10.0.1.11" is not host:port; write the address nginx reaches the application at, e.g. 10.0.1.11:8080`},
		{"serve named port", []string{"serve: 10.0.1.11:8080", "serve: ‸10.0.1.11:http"}, "",
			`hosts.app-p1.serve "10.0.1.11:http" has port "http"; a port is a number from 1 to 65535`},
		{"serve duplicate", []string{"serve: 10.0.2.11:8080", "serve: 10.0.1.11:8080", "    serve: 10.0.1.11:8080\n  app-b1", "    serve: ‸10.0.1.11:8080\n  app-b1"}, "",
			`hosts.app-p1.serve "10.0.1.11:8080" is also the serve address of host "app-b1"; each app host needs its own address`},
		{"direct field beats merge key", []string{"  app-p1:\n", "  app-p1: &app\n", "    ssh: deploy@10.0.2.11:2222\n    serve: 10.0.2.11:8080\n", "    <<: *app\n    serve: ‸10.0.2.11\n"}, "",
			`hosts.app-b1.serve "10.0.2.11" is not host:port; write the address nginx reaches the application at, e.g. 10.0.1.11:8080`},
		{"merge key after fields", []string{"  app-p1:\n", "  app-p1: &app\n", "    serve: 10.0.2.11:8080\n", "    serve: 10.0.2.11:8080\n    ‸<<: *app\n"}, "",
			`the merge key << in hosts.app-b1 must come first, before the fields it may be overridden by; move it up`},
		{"merge key with a list", []string{"  app-p1:\n", "  app-p1: &app\n", "  app-b1:\n", "  app-b1:\n    ‸<<: [*app]\n"}, "",
			`the merge key << in hosts.app-b1 merges a list; merge one anchor (<<: *name) and write the other fields directly`},
		{"postgres missing", []string{"  db-p:\n    ssh: deploy@10.0.1.20\n    postgres: postgres://pitstop@10.0.1.20/shop\n", "  ‸db-p:\n    ssh: deploy@10.0.1.20\n"}, "",
			`hosts.db-p.postgres is missing; a database host needs a libpq connection string, e.g. postgres: postgres://pitstop@10.0.1.20:5432/shop`},
		{"postgres bad port", []string{"postgres: postgres://pitstop@10.0.1.20/shop", "postgres: ‸postgres://pitstop:s3cret@10.0.1.20:99999/shop"}, "",
			`hosts.db-p.postgres is not a valid PostgreSQL connection string (invalid port); write a postgres:// URL or key=value pairs, e.g. host=10.0.1.20 user=pitstop dbname=shop`},
		{"postgres keyword", []string{"postgres: host=10.0.2.20 user=pitstop dbname=shop", "postgres: ‸host=10.0.2.20 password=s3cret user"}, "",
			`hosts.db-b.postgres is not a valid PostgreSQL connection string (failed to parse as keyword/value); write a postgres:// URL or key=value pairs, e.g. host=10.0.1.20 user=pitstop dbname=shop`},
		{"postgres duplicate", []string{"postgres: postgres://pitstop@10.0.1.20/shop", "postgres: ‸host=10.0.2.20 user=pitstop dbname=shop"}, "",
			`hosts.db-p.postgres is the same connection string as host "db-b"'s; each database host needs its own server`},
		{"postgres via ssh without postgres", []string{"    ssh: ops@lb\n", "    ssh: ops@lb\n    postgres_via_ssh: ‸true\n"}, "",
			`hosts.lb.postgres_via_ssh is set, but the host has no postgres connection string to reach through SSH; remove postgres_via_ssh, or add postgres: if the host runs the database`},
		{"postgres via ssh not a bool", []string{"    postgres: postgres://pitstop@10.0.1.20/shop\n", "    postgres: postgres://pitstop@10.0.1.20/shop\n    postgres_via_ssh: ‸1\n"}, "",
			`hosts.db-p.postgres_via_ssh must be true or false, found the number 1`},

		// Sides.
		{"backup missing", []string{"sides:\n", "‸sides:\n", "  backup:\n    apps:\n      - app-b1\n    database: db-b\n", ""}, "",
			`sides.backup is missing; add it with apps: (its app hosts) and database: (its PostgreSQL host)`},
		{"apps empty", []string{"apps: [app-p1]", "‸apps: []"}, "",
			`sides.production.apps is empty; list the side's app hosts (at least one)`},
		{"database missing", []string{"  production:\n    apps: [app-p1]\n    database: db-p\n", "  ‸production:\n    apps: [app-p1]\n"}, "",
			`sides.production.database is missing; name the side's PostgreSQL host (exactly one; extra read-only ones go under replicas:)`},
		{"two databases", []string{"database: db-p", "‸database: [db-p, db-b]"}, "",
			`sides.production.database must be a single value, found a list; a side has exactly one database, and extra read-only ones go under replicas:`},
		{"unknown app", []string{"      - app-b1\n", "      - app-b1\n      - ‸app-b9\n"}, "",
			`sides.backup.apps[1] names host "app-b9", which is not in hosts; add it under hosts: or fix the name`},
		{"host in both sides", []string{"      - app-b1\n", "      - app-b1\n      - ‸app-p1\n"}, "",
			`sides.backup.apps[1] names host "app-p1", which is already in the production side (sides.production.apps[0]); a host belongs to one side only`},
		{"host twice in a side", []string{"apps: [app-p1]", "apps: [app-p1, ‸app-p1]"}, "",
			`sides.production.apps[1] names host "app-p1" a second time (also sides.production.apps[0]); a host has one role: to run two on one machine, list it twice under hosts: with different names and the same ssh`},
		{"app as database", []string{"database: db-p", "database: ‸app-p1"}, "",
			`sides.production.database names host "app-p1" a second time (also sides.production.apps[0]); a host has one role: to run two on one machine, list it twice under hosts: with different names and the same ssh`},
		{"unknown replica", []string{"    database: db-b\n", "    database: db-b\n    replicas: [‸cdn-9]\n"}, "",
			`sides.backup.replicas[0] names host "cdn-9", which is not in hosts; add it under hosts: or fix the name`},
		{"replica needs postgres", []string{"    database: db-b\n", "    database: db-b\n    replicas: [lb2]\n", "  lb:\n", "  ‸lb2:\n    ssh: x@lb2\n  lb:\n"}, "",
			`hosts.lb2.postgres is missing; a database host needs a libpq connection string, e.g. postgres: postgres://pitstop@10.0.1.20:5432/shop`},
		{"blank app", []string{"apps: [app-p1]", `apps: [app-p1, ‸""]`}, "",
			`sides.production.apps[1] is blank; name a host from hosts: or remove the entry`},

		// Upgrade.
		{"version missing", []string{"upgrade:\n  version: \"2.4.0\"\n", "‸upgrade:\n"}, "",
			`upgrade.version is missing; give the version being installed, e.g. version: "2.4.0"`},
		{"version read as a number", []string{`version: "2.4.0"`, "version: ‸2.10"}, "",
			`upgrade.version is 2.10, which YAML reads as a number and changes to "2.1"; quote it: "2.10"`},
		{"commands empty", []string{"  commands:\n    - sudo apt-get install -y shop={version}\n", "  ‸commands: []\n"}, "",
			`upgrade.commands is empty; list the commands that install the new version on an app host, e.g. - sudo apt-get install -y shop={version}`},
		{"command blank", []string{"    - sudo apt-get install -y shop={version}\n", "    - sudo apt-get install -y shop={version}\n    - ‸\"  \"\n"}, "",
			`upgrade.commands[1] is blank; write the command or remove the entry`},
		{"placeholder typo", []string{"- sudo apt-get install -y shop={version}", "- ‸sudo apt-get install -y shop={versoin}"}, "",
			`upgrade.commands[0] uses {versoin}, which is not a placeholder (did you mean {version}?); the placeholders are {host}, {serve}, {addr}, {version}, {database_url} and the names under vars:, and a literal {versoin} is written {{versoin}}`},
		{"placeholder unknown", []string{"commands: [shop-migrate up]", "commands: [‸\"shop-migrate {target}\"]"}, "",
			`upgrade.migrate.commands[0] uses {target}, which is not a placeholder; the placeholders are {host}, {serve}, {addr}, {version}, {database_url} and the names under vars:, and a literal {target} is written {{target}}`},
		{"migrate blank", []string{"commands: [shop-migrate up]", "commands: [shop-migrate up, ‸'']"}, "",
			`upgrade.migrate.commands[1] is blank; write the command or remove the entry`},
		{"verify path", []string{"path: /health", "path: ‸health"}, "",
			`upgrade.verify.path "health" must start with /, e.g. /health`},

		// Thresholds.
		{"success above 100", []string{"reverse_sync:", "thresholds:\n  success: ‸150\nreverse_sync:"}, "",
			`thresholds.success is 150; give a percentage above 0 and at most 100, e.g. 99`},
		{"success negative", []string{"reverse_sync:", "thresholds:\n  success: ‸-1.5\nreverse_sync:"}, "",
			`thresholds.success is -1.5; give a percentage above 0 and at most 100, e.g. 99`},
		{"success nan", []string{"reverse_sync:", "thresholds:\n  success: ‸.nan\nreverse_sync:"}, "",
			`thresholds.success is NaN; give a percentage above 0 and at most 100, e.g. 99`},
		{"readings negative", []string{"reverse_sync:", "thresholds:\n  readings: ‸-3\nreverse_sync:"}, "",
			`thresholds.readings is -3; give how many readings in a row must be under max_lag, at least 1`},
		{"max lag negative", []string{"reverse_sync:", "thresholds:\n  max_lag: ‸-1\nreverse_sync:"}, "",
			`thresholds.max_lag is -1; give the replay backlog in bytes, 0 or more`},
		{"window negative", []string{"reverse_sync:", "thresholds:\n  window: ‸-5s\nreverse_sync:"}, "",
			`thresholds.window is -5s; give a duration of 0 or more, e.g. 5s`},
		{"timeout negative", []string{"reverse_sync:", "thresholds:\n  timeout: ‸-1m\nreverse_sync:"}, "",
			`thresholds.timeout is -1m0s; give a duration of 0 or more, e.g. 10m`},

		// Reverse sync.
		{"rebuild blank", []string{"    - pg_basebackup -h 10.0.1.20 -D /data -R\n", "    - pg_basebackup -h 10.0.1.20 -D /data -R\n    - ‸''\n"}, "",
			`reverse_sync.rebuild[1] is blank; write the command or remove the entry`},
		{"rebuild serve", []string{"- pg_basebackup -h 10.0.1.20", "- ‸pg_basebackup -h {addr}"}, "",
			`reverse_sync.rebuild[0] uses {addr}, but it runs on the backup database host, which serves no application; use {host} or write the address`},

		// Shape: unknown fields and values of the wrong kind.
		{"unknown field with suggestion", []string{"  url: http", "  ‸ulr: http"}, "",
			`unknown field "ulr" in probe; did you mean "url"?`},
		{"unknown top-level field", []string{"name: shop\n", "name: shop\n‸hsots: {}\n"}, "",
			`unknown field "hsots" at the top level; did you mean "hosts"?`},
		{"unknown field listing", []string{"    ssh: ops@lb\n", "    ssh: ops@lb\n    ‸user: ops\n"}, "",
			`unknown field "user" in hosts.lb; known fields there: postgres, postgres_via_ssh, serve, server_params, ssh`},
		{"unknown field in a side", []string{"    database: db-p\n", "    database: db-p\n    ‸replica: [db-b]\n"}, "",
			`unknown field "replica" in sides.production; did you mean "replicas"?`},
		{"rate not a number", []string{"  url: http://127.0.0.1:8080/\n", "  url: http://127.0.0.1:8080/\n  rate: ‸fast\n"}, "",
			`probe.rate must be a whole number, found "fast"`},
		{"duration without unit", []string{"  url: http://127.0.0.1:8080/\n", "  url: http://127.0.0.1:8080/\n  timeout: ‸5\n"}, "",
			`probe.timeout must be a duration such as 500ms, 5s, 2m or 1h30m, found the number 5; write a number with its unit`},
		{"duration garbage", []string{"reverse_sync:", "thresholds:\n  window: ‸soon\nreverse_sync:"}, "",
			`thresholds.window must be a duration such as 500ms, 5s, 2m or 1h30m, found "soon"; write a number with its unit`},
		{"bool", []string{"  version: \"2.4.0\"\n", "  version: \"2.4.0\"\n  one_at_a_time: ‸1\n"}, "",
			`upgrade.one_at_a_time must be true or false, found the number 1`},
		{"apps not a list", []string{"apps: [app-p1]", "apps: ‸app-p1"}, "",
			`sides.production.apps must be a list, found a text value; write [a, b] or one "- item" per line`},
		{"probe not a mapping", []string{"probe:\n  url: http://127.0.0.1:8080/\n", "probe: ‸http://127.0.0.1:8080/\n"}, "",
			`probe must be a mapping of fields (field: value, one per line), found a text value`},

		// Syntax and documents.
		{"syntax", []string{"  url: http://127.0.0.1:8080/\n", "  url: ‸'http://127.0.0.1:8080/\n"}, "",
			`invalid YAML: could not find end character of single-quoted text; fix the syntax here`},
		{"duplicate key", []string{"probe:\n", "‸name: again\nprobe:\n"}, "",
			`invalid YAML: mapping key "name" already defined at [2:1]; fix the syntax here`},
		{"second document", []string{"reverse_sync:", "‸---\nname: other\n---\nreverse_sync:"}, "",
			`a second YAML document starts here; an inventory file holds one document: remove the --- separator or split the file`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, at := unmark(t, edit(t, base(t), tc.edits...))
			if at == "" {
				at = tc.at
			}
			if at == "" {
				t.Fatal("case has neither a marker nor an expected position")
			}
			_, err := Parse("shop.yaml", []byte(src))
			want := "shop.yaml:" + at + ": " + tc.want
			if err == nil {
				t.Fatalf("Parse succeeded, want error\n%s", want)
			}
			if err.Error() != want {
				t.Errorf("error\n got: %s\nwant: %s", err, want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %s", err)
			}
		})
	}
}

// TestPostgresViaSSH: the flag is read per host, false where it is left out, and allowed (though
// off) on a host without a database.
func TestPostgresViaSSH(t *testing.T) {
	src := edit(t, base(t),
		"    postgres: postgres://pitstop@10.0.1.20/shop\n", "    postgres: postgres://pitstop@10.0.1.20/shop\n    postgres_via_ssh: true\n",
		"    ssh: ops@lb\n", "    ssh: ops@lb\n    postgres_via_ssh: false\n")
	inv, err := Parse("shop.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"db-p": true, "db-b": false, "lb": false} {
		if got := inv.Hosts[host].PostgresViaSSH; got != want {
			t.Errorf("hosts.%s.postgres_via_ssh = %v, want %v", host, got, want)
		}
	}
}

// TestSharedValuesNameFirstHost: the hosts are checked in map order, yet when several hosts share a
// serve address or a connection string, every one but the first by name is reported against that
// first, the same on every run (map order changes from run to run).
func TestSharedValuesNameFirstHost(t *testing.T) {
	src := edit(t, base(t),
		"  db-p:\n", "  app-p3:\n    ssh: deploy@10.0.1.13\n    serve: 10.0.1.11:08080\n  app-p2:\n    ssh: deploy@10.0.1.12\n    serve: 10.0.1.11:8080\n  db-p:\n",
		"apps: [app-p1]", "apps: [app-p1, app-p2, app-p3]",
		"postgres: host=10.0.2.20 user=pitstop dbname=shop", "postgres: postgres://pitstop@10.0.1.20/shop")
	want := strings.Join([]string{
		`shop.yaml:20:12: hosts.app-p3.serve "10.0.1.11:08080" is also the serve address of host "app-p1"; each app host needs its own address`,
		`shop.yaml:23:12: hosts.app-p2.serve "10.0.1.11:8080" is also the serve address of host "app-p1"; each app host needs its own address`,
		`shop.yaml:26:15: hosts.db-p.postgres is the same connection string as host "db-b"'s; each database host needs its own server`,
	}, "\n")
	for range 20 {
		_, err := Parse("shop.yaml", []byte(src))
		if err == nil {
			t.Fatalf("Parse succeeded, want\n%s", want)
		}
		if err.Error() != want {
			t.Fatalf("errors\n got: %s\nwant: %s", err, want)
		}
	}
}
