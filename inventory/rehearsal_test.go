package inventory

import (
	"strings"
	"testing"
	"time"
)

// rehearsalSection is a valid rehearsal section with its own hosts, appended to testdata/valid.yaml.
const rehearsalSection = `
  db-r:
    ssh: deploy@10.0.3.20
  app-r:
    ssh: deploy@10.0.3.11
    serve: 10.0.3.11:8080
rehearsal:
  host: db-r
  data_dir: /var/lib/postgresql/pitstop-rehearsal
  port: 5499
  app: app-r
  stop_app: [sudo systemctl stop shop]
`

// withRehearsal puts the rehearsal hosts under hosts: and the section at the end.
func withRehearsal(t *testing.T, section string) string {
	t.Helper()
	hosts, rest, _ := strings.Cut(section, "rehearsal:\n")
	return edit(t, base(t), "sides:\n", strings.TrimPrefix(hosts, "\n")+"sides:\n") + "rehearsal:\n" + rest
}

func TestRehearsalDefaults(t *testing.T) {
	inv, err := Parse("shop.yaml", []byte(withRehearsal(t, rehearsalSection)))
	if err != nil {
		t.Fatal(err)
	}
	r := inv.Rehearsal
	if r.Source != "db-b" || r.SourceConn != "host=10.0.2.20 user=pitstop dbname=shop" {
		t.Errorf("source = %q (%q), want the backup's standby db-b and its connection string", r.Source, r.SourceConn)
	}
	if r.Listen != "127.0.0.1" || r.PGBin != DefaultPGBin || r.As() != "sudo -n -u postgres " || r.MaxReadBlock != 5*time.Second || r.SampleEvery != 50*time.Millisecond {
		t.Errorf("defaults: listen %q, pg_bin %q, as %q, max_read_block %s, sample_every %s", r.Listen, r.PGBin, r.As(), r.MaxReadBlock, r.SampleEvery)
	}
	if r.PGData() != "/var/lib/postgresql/pitstop-rehearsal/pgdata" {
		t.Errorf("PGData = %q", r.PGData())
	}
	// An empty as_postgres runs commands as the SSH user.
	inv, err = Parse("shop.yaml", []byte(withRehearsal(t, rehearsalSection+"  as_postgres: \"\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	if inv.Rehearsal.As() != "" {
		t.Errorf("as_postgres \"\": As() = %q, want empty", inv.Rehearsal.As())
	}
	// Without the section nothing is filled in.
	inv, err = Parse("shop.yaml", []byte(base(t)))
	if err != nil {
		t.Fatal(err)
	}
	if inv.Rehearsal.Enabled() || inv.Rehearsal.Source != "" {
		t.Errorf("no rehearsal section, but %+v", inv.Rehearsal)
	}
}

func TestRehearsalRules(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"host is production's database", "  host: db-r", "  host: ‸db-p",
			`rehearsal.host "db-p" is also named at sides.production.database; rehearse on a host of its own, so nothing users reach is touched`},
		{"host is the backup's database", "  host: db-r", "  host: ‸db-b",
			`rehearsal.host "db-b" is also named at sides.backup.database; rehearse on a host of its own, so nothing users reach is touched`},
		{"app is a production app", "  app: app-r", "  app: ‸app-p1",
			`rehearsal.app "app-p1" is also named at sides.production.apps[0]; rehearse on a host of its own, so nothing users reach is touched`},
		{"host is the balancer", "  host: db-r", "  host: ‸lb",
			`rehearsal.host "lb" is the balancer; rehearse on a host of its own, so nothing users reach is touched`},
		{"host unknown", "  host: db-r", "  host: ‸db-x",
			`rehearsal.host names host "db-x", which is not in hosts; add it under hosts: or fix the name`},
		{"relative data dir", "  data_dir: /var/lib/postgresql/pitstop-rehearsal", "  data_dir: ‸pitstop-rehearsal",
			`rehearsal.data_dir "pitstop-rehearsal" is not an absolute path; give the full path on the rehearsal host`},
		{"root data dir", "  data_dir: /var/lib/postgresql/pitstop-rehearsal", "  data_dir: ‸/",
			`rehearsal.data_dir "/" cannot hold a copy (Pitstop removes it at clean-up); give a directory of its own, e.g. /var/lib/postgresql/pitstop-rehearsal`},
		{"port", "  port: 5499", "  port: ‸70000",
			`rehearsal.port is 70000; give the TCP port the copy listens on, from 1 to 65535 (not production's)`},
		{"placeholder", "  stop_app: [sudo systemctl stop shop]", "  stop_app: [‸\"sudo systemctl stop {svc}\"]",
			`rehearsal.stop_app[0] uses {svc}, which is not a placeholder; the placeholders are {host}, {serve}, {addr}, {version}, {database_url} and the names under vars:, and a literal {svc} is written {{svc}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, at := unmark(t, edit(t, withRehearsal(t, rehearsalSection), tc.old, tc.new))
			_, err := Parse("shop.yaml", []byte(src))
			want := "shop.yaml:" + at + ": " + tc.want
			if err == nil || err.Error() != want {
				t.Errorf("error\n got: %v\nwant: %s", err, want)
			}
		})
	}
}

func TestDatabaseURLPlaceholder(t *testing.T) {
	inv, err := Parse("shop.yaml", []byte(edit(t, base(t), "[shop-migrate up]", "[\"shop-migrate --db {database_url} up\"]")))
	if err != nil {
		t.Fatal(err)
	}
	cmd := inv.Upgrade.Migrate.Commands[0]
	if got, want := inv.Expand(cmd, "app-p1"), "shop-migrate --db postgres://pitstop@10.0.1.20/shop up"; got != want {
		t.Errorf("Expand = %q, want production's primary: %q", got, want)
	}
	if got, want := inv.ExpandFor(cmd, "app-p1", "host=127.0.0.1 port=5499"), "shop-migrate --db 'host=127.0.0.1 port=5499' up"; got != want {
		t.Errorf("ExpandFor = %q, want %q", got, want)
	}
	if got, want := inv.ExpandFor("echo {{database_url}}", "app-p1", "x"), "echo {database_url}"; got != want {
		t.Errorf("escaped: %q, want %q", got, want)
	}
}
