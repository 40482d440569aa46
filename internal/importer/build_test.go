package importer

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/inventory"
)

// fillTODOs replaces every TODO value of a rendered draft the way an operator would.
func fillTODOs(t *testing.T, text string) string {
	t.Helper()
	n := 0
	re := regexp.MustCompile(`(?m)^(\s*)(- |[a-z_]+: )"TODO:[^"]*"`)
	return re.ReplaceAllStringFunc(text, func(m string) string {
		n++
		sub := re.FindStringSubmatch(m)
		indent, key := sub[1], sub[2]
		val := map[string]string{
			"name: ":     "shop",
			"url: ":      "http://127.0.0.1:8000/",
			"upstream: ": "shop_backend",
			"file: ":     "/etc/nginx/conf.d/shop-upstream.conf",
			"version: ":  "2.4.0",
			"- ":         "sudo systemctl restart shop",
			"serve: ":    fmt.Sprintf("127.0.0.%d:8080", n),
			"postgres: ": fmt.Sprintf("postgres://pitstop@127.0.0.%d:5432/shop", n),
		}[key]
		if val == "" {
			t.Fatalf("no value to fill %q", m)
		}
		return indent + key + `"` + val + `"`
	})
}

func TestBuildDraft(t *testing.T) {
	for _, tc := range []struct {
		file string
		read func(string) (*Source, error)
		opt  Options
		want map[string]string // inventory facts after the TODOs are filled
	}{
		{"testdata/rundeck-map.yaml", ReadRundeck,
			Options{Production: "production", Backup: "backup", Database: "db", Balancer: "lb1", Command: "pitstop import rundeck"},
			map[string]string{"prod.apps": "app-p1,app-p2", "prod.db": "db-prod", "backup.apps": "app-b1", "backup.db": "db-backup", "backup.replicas": "cdn-1",
				"ssh app-p1": "deploy@app-p1.shop.invalid:2222", "ssh db-backup": "db-backup.shop.invalid:2200", "balancer": "lb1"}},
		{"testdata/ansible.ini", ReadAnsible,
			Options{Production: "production", Backup: "backup", Database: "databases", Balancer: "lb1.shop.invalid", Command: "pitstop import ansible"},
			map[string]string{"prod.apps": "app-p1.shop.invalid,app-p2.shop.invalid,app-p3.shop.invalid", "prod.db": "db-prod.shop.invalid",
				"backup.apps": "app-b01.shop.invalid,app-b02.shop.invalid", "backup.db": "db-backup.shop.invalid", "backup.replicas": "cdn-a.shop.invalid,cdn-b.shop.invalid",
				"ssh app-p3.shop.invalid": "root@app-p3-mgmt.shop.invalid:2222", "balancer": "lb1.shop.invalid"}},
		{"testdata/ansible.yaml", ReadAnsible,
			Options{Production: "production", Backup: "backup", Database: "databases", Balancer: "lb1.shop.invalid", Command: "pitstop import ansible"},
			map[string]string{"prod.apps": "app-p1.shop.invalid,app-p2.shop.invalid,app-p3.shop.invalid", "backup.db": "db-backup.shop.invalid", "backup.replicas": ""}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src, err := tc.read(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Build(src, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := d.Render(&b); err != nil {
				t.Fatal(err)
			}
			text := b.String()
			// Unfilled, the inventory is refused, one error per TODO, each at its line.
			_, err = inventory.Parse("draft.yaml", []byte(text))
			es := inventory.AsErrors(err)
			if len(es) != d.TODOs() || len(es) == 0 {
				t.Fatalf("%d errors for %d TODOs:\n%v\n%s", len(es), d.TODOs(), err, text)
			}
			lines := strings.Split(text, "\n")
			for _, e := range es {
				if !strings.Contains(e.Msg, "still a TODO") || !strings.Contains(lines[e.Line-1], "TODO") {
					t.Errorf("error %v does not point at a TODO line (%q)", e, lines[e.Line-1])
				}
			}
			inv, err := inventory.Parse("filled.yaml", []byte(fillTODOs(t, text)))
			if err != nil {
				t.Fatalf("filled draft refused: %v\n%s", err, fillTODOs(t, text))
			}
			got := map[string]string{
				"prod.apps": strings.Join(inv.Sides.Production.Apps, ","), "prod.db": inv.Sides.Production.Database,
				"backup.apps": strings.Join(inv.Sides.Backup.Apps, ","), "backup.db": inv.Sides.Backup.Database,
				"backup.replicas": strings.Join(inv.Sides.Backup.Replicas, ","), "balancer": inv.Balancer.Host,
			}
			for k, want := range tc.want {
				g := got[k]
				if h, ok := strings.CutPrefix(k, "ssh "); ok {
					g = inv.Hosts[h].SSH
				}
				if g != want {
					t.Errorf("%s = %q, want %q", k, g, want)
				}
			}
		})
	}
}

func TestBuildRefusesBadSelectors(t *testing.T) {
	src, err := ReadRundeck("testdata/rundeck-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opt  Options
		want string
	}{
		{Options{Production: "prod"}, "--production prod: no node has that tag; the file's tags are: backup, balancer, db, production, shop"},
		{Options{Production: "production", Backup: "db"}, "--backup db selects db-prod, which --production also selects"},
		{Options{Production: "shop", Balancer: "app-p1"}, "--production shop selects app-p1, the balancer"},
		{Options{Balancer: "shop"}, "--balancer shop: no node has that name, and 3 nodes have that tag"},
	} {
		if _, err := Build(src, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v) = %v, want %q", tc.opt, err, tc.want)
		}
	}
}
