package inventory

import (
	"os"
	"strings"
	"testing"
)

// TestParamsRules: each new field's mistakes come back at their line and column.
func TestParamsRules(t *testing.T) {
	cases := []struct {
		name  string
		edits []string
		want  string
	}{
		{"two version sources", []string{"  verify:\n", "  ‸verify:\n", "    path: /health\n", "    path: /health\n    json: release\n    body: 'v(.*)'\n"},
			`upgrade.verify names more than one version source; keep exactly one of header:, json: or body: (or version: "" for the health status only)`},
		{"body without a group", []string{"    path: /health\n", "    path: /health\n    body: ‸'version .*'\n"},
			`upgrade.verify.body has 0 groups; give exactly one, around the version, e.g. 'version (\S+)'`},
		{"json empty part", []string{"    path: /health\n", "    path: /health\n    json: ‸build..version\n"},
			`upgrade.verify.json "build..version" has an empty part; write a dotted path into the JSON body, e.g. release or build.version`},
		{"refused status", []string{"  url: http://127.0.0.1:8080/\n", "  url: http://127.0.0.1:8080/\n  refused:\n    status: [503, ‸99]\n"},
			`probe.refused.status lists 99; give HTTP statuses from 100 to 599, e.g. [503]`},
		{"refused body", []string{"  url: http://127.0.0.1:8080/\n", "  url: http://127.0.0.1:8080/\n  refused:\n    body: ‸'read(only'\n"},
			"probe.refused.body is not a regular expression (error parsing regexp: missing closing ): `read(only`); e.g. 'read.only'"},
		{"server params", []string{"    serve: 10.0.1.11:8080\n", "    serve: 10.0.1.11:8080\n    server_params: ‸weight=x backup\n"},
			`hosts.app-p1.server_params: "weight=x" needs a whole number; use weight=N, max_fails=N, fail_timeout=TIME, max_conns=N, slow_start=TIME or backup`},
		{"var shadows", []string{"reverse_sync:", "vars:\n  version: ‸x\nreverse_sync:"},
			`vars name "version" is a built-in placeholder; choose another name ({host}, {serve}, {addr} and {version} are Pitstop's)`},
		{"var typo in command", []string{"reverse_sync:", "vars:\n  channel: stable\nreverse_sync:", "    - sudo apt-get install -y shop={version}", "    - ‸sudo apt-get install -y shop={version}-{chanel}"},
			`upgrade.commands[0] uses {chanel}, which is not a placeholder (did you mean {channel}?); the placeholders are {host}, {serve}, {addr}, {version}, {database_url} and the names under vars:, and a literal {chanel} is written {{chanel}}`},
		{"host and hosts", []string{"  host: lb\n", "  host: lb\n  ‸hosts: [lb]\n"},
			`balancer has both host: and hosts:; keep hosts: [lb1, lb2] for several balancers, or host: for one`},
		{"hosts unknown", []string{"  host: lb\n", "  hosts: [lb, ‸lb9]\n"},
			`balancer.hosts[1] names host "lb9", which is not in hosts; add it under hosts: or fix the name`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, at := unmark(t, edit(t, base(t), tc.edits...))
			_, err := Parse("shop.yaml", []byte(src))
			want := "shop.yaml:" + at + ": " + tc.want
			if err == nil || err.Error() != want {
				t.Errorf("error\n got: %v\nwant: %s", err, want)
			}
		})
	}
}

func TestVersionSource(t *testing.T) {
	cases := []struct {
		edits      []string
		source     string
		version    string
		healthOnly bool
	}{
		{nil, "header X-App-Version", "2.4.0", false},
		{[]string{"    path: /health\n", "    path: /status\n    json: build.version\n"}, "json build.version", "2.4.0", false},
		{[]string{"    path: /health\n", "    path: /health\n    body: 'release (\\S+)'\n"}, `body /release (\S+)/`, "2.4.0", false},
		{[]string{"    path: /health\n", "    path: /health\n    version: \"\"\n"}, "", "", true},
		{[]string{"    path: /health\n", "    path: /health\n    header: X-Build\n"}, "header X-Build", "2.4.0", false},
	}
	for _, tc := range cases {
		inv, err := Parse("shop.yaml", []byte(edit(t, base(t), tc.edits...)))
		if err != nil {
			t.Fatal(err)
		}
		v := inv.Upgrade.Verify
		if v.VersionSource() != tc.source || v.Version != tc.version || v.HealthOnly != tc.healthOnly {
			t.Errorf("%v: source %q version %q healthOnly %v, want %q %q %v", tc.edits, v.VersionSource(), v.Version, v.HealthOnly, tc.source, tc.version, tc.healthOnly)
		}
	}
}

func TestSet(t *testing.T) {
	src := edit(t, base(t), "reverse_sync:", "vars:\n  channel: stable\nreverse_sync:", "shop={version}", "shop={version} --channel {channel}")
	inv, err := Parse("shop.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Set("version", "5.2.0"); err != nil {
		t.Fatal(err)
	}
	if err := inv.Set("channel", "beta"); err != nil {
		t.Fatal(err)
	}
	if inv.Upgrade.Version != "5.2.0" || inv.Upgrade.Verify.Version != "5.2.0" {
		t.Errorf("version %q, verify %q; want both 5.2.0", inv.Upgrade.Version, inv.Upgrade.Verify.Version)
	}
	if got, want := inv.Expand(inv.Upgrade.Commands[0], "app-p1"), "sudo apt-get install -y shop=5.2.0 --channel beta"; got != want {
		t.Errorf("Expand = %q, want %q", got, want)
	}
	err = inv.Set("chanel", "x")
	if err == nil || !strings.Contains(err.Error(), `did you mean "channel"?`) {
		t.Errorf("Set(chanel) = %v, want a did-you-mean error", err)
	}
	if err := inv.Set("version", " "); err == nil {
		t.Error("Set(version, blank) succeeded")
	}
	// A verify version written in the file is not moved by --set version.
	inv, err = Parse("shop.yaml", []byte(edit(t, base(t), "    path: /health\n", "    path: /health\n    version: \"2.4\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	inv.Set("version", "5.2.0")
	if inv.Upgrade.Verify.Version != "2.4" {
		t.Errorf("verify version %q, want the written 2.4", inv.Upgrade.Verify.Version)
	}
}

// operatorUpstream is an upstream file as an operator writes it, with its own directives.
const operatorUpstream = `# shop upstream, owned by ops (ticket OPS-12)
upstream shop_backend {
	zone shop_backend 64k;
	least_conn;
	server 10.0.1.11:8080 weight=5 max_fails=3 fail_timeout=15s;   # app-p1, the big one
	server 10.0.1.12:8080; # app-p2
	server 127.0.0.1:9999 backup; # sorry page
	keepalive 16;
	keepalive_timeout 30s;
}

upstream other { server 10.9.9.9:80; }
map $http_upgrade $connection_upgrade { default upgrade; '' close; }
`

func TestRewriteUpstreamKeepsEverythingButServers(t *testing.T) {
	src := edit(t, base(t),
		"    serve: 10.0.1.11:8080\n", "    serve: 10.0.1.11:8080\n  app-p2:\n    ssh: deploy@10.0.1.12\n    serve: 10.0.1.12:8080\n",
		"apps: [app-p1]", "apps: [app-p1, app-p2]",
		"    serve: 10.0.2.11:8080\n", "    serve: 10.0.2.11:8080\n    server_params: weight=2 max_fails=1\n")
	inv, err := Parse("shop.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	back, err := inv.RewriteUpstream(operatorUpstream, Backup)
	if err != nil {
		t.Fatal(err)
	}
	wantBack := strings.Replace(operatorUpstream,
		"\tserver 10.0.1.11:8080 weight=5 max_fails=3 fail_timeout=15s;   # app-p1, the big one\n\tserver 10.0.1.12:8080; # app-p2\n",
		"\tserver 10.0.2.11:8080 weight=2 max_fails=1; # app-b1\n", 1)
	if back != wantBack {
		t.Errorf("to backup:\n%s\nwant:\n%s", back, wantBack)
	}
	prod, err := inv.RewriteUpstream(back, Production)
	if err != nil {
		t.Fatal(err)
	}
	// The parameters of app-p1 lived only in the file and were gone while the backup served: the
	// way back writes the servers plain, everything else is still byte for byte.
	wantProd := strings.Replace(operatorUpstream,
		"\tserver 10.0.1.11:8080 weight=5 max_fails=3 fail_timeout=15s;   # app-p1, the big one\n\tserver 10.0.1.12:8080; # app-p2\n",
		"\tserver 10.0.1.11:8080; # app-p1\n\tserver 10.0.1.12:8080; # app-p2\n", 1)
	if prod != wantProd {
		t.Errorf("back to production:\n%s\nwant:\n%s", prod, wantProd)
	}
	// A rewrite to the side already there keeps the parameters the file gives.
	same, _ := inv.RewriteUpstream(operatorUpstream, Production)
	if !strings.Contains(same, "server 10.0.1.11:8080 weight=5 max_fails=3 fail_timeout=15s; # app-p1") {
		t.Errorf("same side lost the file's parameters:\n%s", same)
	}
	if _, err := inv.RewriteUpstream("upstream other { server a:1; }\n", Backup); err == nil {
		t.Error("a file without the upstream block was rewritten")
	}
	if got, _ := inv.RewriteUpstream("", Backup); got != inv.Upstream(Backup) {
		t.Errorf("empty file: %q, want the rendered upstream", got)
	}
	oneLine, _ := inv.RewriteUpstream("upstream shop_backend { keepalive 4; server 10.0.1.11:8080; }\n", Backup)
	if want := "upstream shop_backend { keepalive 4; \n    server 10.0.2.11:8080 weight=2 max_fails=1; # app-b1\n }\n"; oneLine != want {
		t.Errorf("one-line block: %q, want %q", oneLine, want)
	}
}

// FuzzRewriteUpstream: any file content either is refused or is rewritten so that the result still
// holds the block, with the side's servers, and rewriting it again to the same side changes nothing.
func FuzzRewriteUpstream(f *testing.F) {
	f.Add(operatorUpstream)
	f.Add("upstream shop_backend { server 10.0.1.11:8080; }")
	f.Add("upstream shop_backend {\n# }\n'}' server a;\n}\n")
	f.Add("upstream shop_backend {")
	f.Fuzz(func(t *testing.T, content string) {
		data, err := os.ReadFile("testdata/valid.yaml")
		if err != nil {
			t.Fatal(err)
		}
		inv, err := Parse("shop.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		out, err := inv.RewriteUpstream(content, Backup)
		if err != nil {
			return
		}
		servers, ok := inv.UpstreamServers(out)
		if !ok {
			t.Fatalf("the rewrite of %q has no block:\n%q", content, out)
		}
		found := false
		for _, s := range servers {
			found = found || s[0] == "10.0.2.11:8080"
		}
		if !found {
			t.Fatalf("the rewrite of %q does not send traffic to app-b1:\n%q", content, out)
		}
		again, err := inv.RewriteUpstream(out, Backup)
		if err != nil || again != out {
			t.Fatalf("rewriting %q to the same side changed it (%v):\n%q\n%q", content, err, out, again)
		}
	})
}
