package importer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/inventory"
)

// summary is one node as the tests compare it.
func summary(n *Node) string {
	return fmt.Sprintf("%s ssh=%s tags=%s", n.Name, n.SSH(), strings.Join(n.Tags, ","))
}

func TestRundeckFormats(t *testing.T) {
	small := []string{
		"lb1 ssh=ops@lb1.shop.invalid tags=balancer",
		"app-p1 ssh=deploy@app-p1.shop.invalid:2222 tags=shop,production",
		"app-b1 ssh=deploy@app-b1.shop.invalid tags=shop,backup",
	}
	for _, tc := range []struct {
		file   string
		format string
		want   []string
		lines  map[string]int
	}{
		{"rundeck-map.yaml", "YAML", []string{
			"lb1 ssh=ops@lb1.shop.invalid tags=balancer",
			"app-p1 ssh=deploy@app-p1.shop.invalid:2222 tags=shop,production",
			"app-p2 ssh=deploy@app-p2.shop.invalid tags=shop,production",
			"db-prod ssh=deploy@db-prod.shop.invalid tags=production,db",
			"app-b1 ssh=deploy@app-b1.shop.invalid tags=shop,backup",
			"db-backup ssh=db-backup.shop.invalid:2200 tags=backup,db",
			"cdn-1 ssh=deploy@cdn-1.shop.invalid tags=backup,db",
		}, map[string]int{"lb1": 2, "app-p1": 8, "db-backup": 31}},
		{"rundeck-list.yaml", "YAML", small, map[string]int{"lb1": 2, "app-p1": 6, "app-b1": 11}},
		{"rundeck.xml", "XML", small, map[string]int{"lb1": 4, "app-p1": 5, "app-b1": 9}},
		{"rundeck.json", "JSON", small, map[string]int{"lb1": 2, "app-p1": 8, "app-b1": 15}},
		{"rundeck-list.json", "JSON", small, map[string]int{"lb1": 2, "app-p1": 3, "app-b1": 9}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src, err := ReadRundeck(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(src.Format, tc.format) {
				t.Errorf("format %q, want %s", src.Format, tc.format)
			}
			var got []string
			for _, n := range src.Nodes {
				got = append(got, summary(n))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("nodes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for name, line := range tc.lines {
				if n := src.Node(name); n == nil || n.Line != line {
					t.Errorf("node %s at line %v, want %d", name, n, line)
				}
			}
		})
	}
	src, err := ReadRundeck("testdata/rundeck.xml")
	if err != nil {
		t.Fatal(err)
	}
	app := src.Node("app-p1")
	if app.Attrs["role"] != "app" || app.Attrs["serve-port"] != "8080" {
		t.Errorf("nested <attribute> elements not read: %v", app.Attrs)
	}
	if src.Node("lb1").Attrs["osFamily"] != "unix" {
		t.Errorf("node attributes not read: %v", src.Node("lb1").Attrs)
	}
}

func TestAnsibleFormats(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"ansible.ini", []string{
			"lb1.shop.invalid ssh=ops@lb1.shop.invalid:22 tags=ungrouped",
			"localhost ssh=local tags=ungrouped",
			"app-p1.shop.invalid ssh=www@app-p1.shop.invalid:22 tags=production,web_prod",
			"app-p2.shop.invalid ssh=www@app-p2.shop.invalid:22 tags=production,web_prod",
			"app-p3.shop.invalid ssh=root@app-p3-mgmt.shop.invalid:2222 tags=production,web_prod",
			"app-b01.shop.invalid ssh=nobody@app-b01.shop.invalid:22 tags=backup,web_backup",
			"app-b02.shop.invalid ssh=nobody@app-b02.shop.invalid:22 tags=backup,web_backup",
			"db-prod.shop.invalid ssh=deploy@db-prod.shop.invalid:22 tags=databases,production,db_prod",
			"db-backup.shop.invalid ssh=nobody@db-backup.shop.invalid:22 tags=backup,databases,db_backup",
			"cdn-a.shop.invalid ssh=cdn-admin@cdn-a.shop.invalid:22 tags=backup,databases,db_backup",
			"cdn-b.shop.invalid ssh=cdn-admin@cdn-b.shop.invalid:22 tags=backup,databases,db_backup",
		}},
		{"ansible.yaml", []string{
			"lb1.shop.invalid ssh=ops@lb1.shop.invalid tags=",
			"app-p1.shop.invalid ssh=www@app-p1.shop.invalid tags=production,web_prod",
			"app-p2.shop.invalid ssh=www@app-p2.shop.invalid tags=production,web_prod",
			"app-p3.shop.invalid ssh=root@app-p3-mgmt.shop.invalid:2222 tags=production,web_prod",
			"db-prod.shop.invalid ssh=deploy@db-prod.shop.invalid tags=databases,production,db_prod",
			"app-b01.shop.invalid ssh=nobody@app-b01.shop.invalid tags=backup,web_backup",
			"app-b02.shop.invalid ssh=nobody@app-b02.shop.invalid tags=backup,web_backup",
			"db-backup.shop.invalid ssh=nobody@db-backup.shop.invalid:2200 tags=backup,databases,db_backup",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src, err := ReadAnsible(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range src.Nodes {
				got = append(got, summary(n))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("nodes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	// Precedence of a plain variable: host > child group > parent group > all.
	src, err := ReadAnsible("testdata/ansible.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{"lb1.shop.invalid": "all", "app-p1.shop.invalid": "production", "db-backup.shop.invalid": "backup"} {
		if got := src.Node(host).Attrs["env"]; got != want {
			t.Errorf("%s env = %q, want %q", host, got, want)
		}
	}
	ini, err := ReadAnsible("testdata/ansible.ini")
	if err != nil {
		t.Fatal(err)
	}
	if got := ini.Node("app-p1.shop.invalid").Attrs["ntp"]; got != "ntp-prod.shop.invalid" {
		t.Errorf("parent group var ntp = %q", got)
	}
	if n := ini.Node("app-p3.shop.invalid"); n.Line != 7 {
		t.Errorf("app-p3 at line %d, want 7", n.Line)
	}
}

func TestExpandRange(t *testing.T) {
	for in, want := range map[string]string{
		"web[01:04].x":  "web01.x web02.x web03.x web04.x",
		"web[1:3]":      "web1 web2 web3",
		"db-[a:c]":      "db-a db-b db-c",
		"n[0:6:3]":      "n0 n3 n6",
		"r[1:2]-[a:b]":  "r1-a r1-b r2-a r2-b",
		"plain.example": "plain.example",
	} {
		got, err := expandRange(in)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("expandRange(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"web[04:01]", "web[01:", "web[a:03]", "web[1:4:0]", "web]"} {
		if _, err := expandRange(bad); err == nil {
			t.Errorf("expandRange(%q) accepted", bad)
		}
	}
}

// TestMalformed checks that each bad file is refused at its line, naming the node or group.
func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, kind, content, want string
	}{
		{"no-hostname.yaml", "rundeck", "web1:\n  nodename: web1\n  username: u\nweb2:\n  nodename: web2\n", `:1:1: node "web1" has no hostname`},
		{"bad-port.yaml", "rundeck", "- nodename: a\n  hostname: a.invalid\n- nodename: web2\n  hostname: web2.invalid:99999\n", `:3:1: node "web2": hostname port "99999"`},
		{"syntax.yaml", "rundeck", "web1:\n  hostname: [a\n", `syntax.yaml:2:`},
		{"dup.yaml", "rundeck", "- nodename: a\n  hostname: a.invalid\n- nodename: a\n  hostname: b.invalid\n", `:3:1: node "a" is defined twice (also at line 1)`},
		{"scalar.yaml", "rundeck", "web1: just-a-string\n", `:1:1: node "web1" must be a mapping`},
		{"mismatch.yaml", "rundeck", "web1:\n  nodename: web2\n  hostname: x.invalid\n", `:1:1: node "web1" has nodename "web2"`},
		{"bad.xml", "rundeck", "<project>\n  <node name=\"a\" hostname=\"a.invalid\"/>\n  <node name=\"b\" hostname=\"b.invalid\">\n</project>\n", `bad.xml:4:1: invalid XML`},
		{"nohost.xml", "rundeck", "<project>\n  <node name=\"a\" hostname=\"a.invalid\"/>\n\n  <node name=\"b\" username=\"u\"/>\n</project>\n", `nohost.xml:4:1: node "b" has no hostname`},
		{"attr.xml", "rundeck", "<project>\n  <node name=\"b\" hostname=\"b.invalid\">\n    <attribute value=\"x\"/>\n  </node>\n</project>\n", `attr.xml:2:1: node "b" has an <attribute> without name=`},
		{"bad.json", "rundeck", "{\n  \"a\": {\"hostname\": \"a.invalid\"},\n  \"b\": {\"hostname\": \"b.invalid\",}\n}\n", `bad.json:3:1: invalid JSON`},
		{"nohost.json", "rundeck", "{\n  \"a\": {\"hostname\": \"a.invalid\"},\n  \"b\": {\"username\": \"u\"}\n}\n", `nohost.json:3:1: node "b" has no hostname`},
		{"section.ini", "ansible", "[web]\na.invalid\n[web:vars\nx=1\n", `section.ini:3:1: section header "[web:vars" is malformed`},
		{"vars.ini", "ansible", "[web]\na.invalid\n[web:vars]\njust words\n", `vars.ini:4:1: [web:vars] line "just words" is not key=value`},
		{"range.ini", "ansible", "[web]\n\nweb[05:01].invalid\n", `range.ini:3:1: host web[05:01].invalid in [web]: range [05:01]`},
		{"hostvar.ini", "ansible", "[db]\ndb1.invalid ansible_port\n", `hostvar.ini:2:1: host db1.invalid in [db]: "ansible_port" is not key=value`},
		{"port.ini", "ansible", "[db]\ndb1.invalid ansible_port=ssh\n", `port.ini:2:1: host db1.invalid: ansible_port: port "ssh"`},
		{"suffix.ini", "ansible", "[web:hosts]\n", `suffix.ini:1:1: section [web:hosts] has the unknown suffix :hosts`},
		{"group.yaml", "ansible", "all:\n  children:\n    web:\n      hostz:\n        a.invalid:\n", `group.yaml:4:1: group web has the key "hostz"`},
		{"hosts.yaml", "ansible", "all:\n  children:\n    web:\n      hosts: [a, b]\n", `hosts.yaml:4:1: group web: hosts must be a mapping`},
		{"loop.yaml", "ansible", "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n", `loop.yaml:7:1: group a is its own child (all > a > b > a)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), tc.name)
			if err := os.WriteFile(file, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			if tc.kind == "rundeck" {
				_, err = ReadRundeck(file)
			} else {
				_, err = ReadAnsible(file)
			}
			var ie *inventory.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an *inventory.Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

// TestAnsiblePrecedence pins what ansible-inventory 2.14 resolves for the precedence fixture: a
// deeper group wins over a shallower one, and among groups of one depth the later name wins.
func TestAnsiblePrecedence(t *testing.T) {
	src, err := ReadAnsible("testdata/ansible-precedence.ini")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"h1": {"x": "a", "y": "parent", "z": "b"},
		"h2": {"x": "host", "y": "parent"},
		"h3": {"x": "b", "z": "c"},
	}
	for host, vars := range want {
		n := src.Node(host)
		if n == nil || len(n.Attrs) != len(vars) {
			t.Errorf("%s: %v, want %v", host, n, vars)
			continue
		}
		for k, v := range vars {
			if n.Attrs[k] != v {
				t.Errorf("%s: %s = %q, want %q", host, k, n.Attrs[k], v)
			}
		}
	}
}
