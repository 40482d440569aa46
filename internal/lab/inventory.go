package lab

import (
	"bytes"
	"encoding/json"
	"strings"
	"text/template"
	"time"

	"github.com/pitstop-ops/pitstop/demo/app"
	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
)

// upgradeVersion is the version the lab's inventory upgrades to.
const upgradeVersion = "v2"

// sshConfigRel is the lab's ssh_config, relative to the inventory file.
const sshConfigRel = "ssh/config"

// inventory is the lab's topology and upgrade as Pitstop loads it from DIR/inventory.yaml.
func (l *layout) inventory() *inventory.Inventory {
	target := func(host string) string {
		if l.SSH {
			return host // an alias of DIR/ssh/config
		}
		return "local"
	}
	standby := l.standby()
	primary := l.primary()
	inv := &inventory.Inventory{
		Name: "shop (pitstop lab in " + l.Dir + ")",
		Probe: inventory.Probe{
			URL:        "http://" + l.balancerAddr() + "/items?limit=5",
			WriteURL:   "http://" + l.balancerAddr() + "/items",
			WriteEvery: time.Second,
			Rate:       20,
			Timeout:    2 * time.Second,
		},
		Balancer: inventory.Balancer{
			Host:     hostBalancer,
			Upstream: upstreamName,
			File:     l.nginxUpstream(),
			Test:     l.nginxCommand("-t"),
			Reload:   l.nginxCommand("-s", "reload"),
			PidFile:  l.nginxPID(),
		},
		Hosts: map[string]*inventory.Host{
			hostBalancer: {SSH: target(hostBalancer)},
			hostAppProd:  {SSH: target(hostAppProd), Serve: l.appAddr(hostAppProd)},
			hostAppBack:  {SSH: target(hostAppBack), Serve: l.appAddr(hostAppBack)},
			// Pitstop's database adapter pauses replay, fences and promotes: it needs a superuser.
			hostDBProd: {SSH: target(hostDBProd), Postgres: primary.ConnString("postgres", dbName)},
			hostDBBack: {SSH: target(hostDBBack), Postgres: standby.ConnString("postgres", dbName)},
			// The rehearsal's hosts: no side uses them (see rehearsal.go).
			hostDBRehearse:  {SSH: target(hostDBRehearse)},
			hostAppRehearse: {SSH: target(hostAppRehearse), Serve: l.appAddr(hostAppRehearse)},
		},
		Sides: inventory.Sides{
			Production: inventory.SideSpec{Apps: []string{hostAppProd}, Database: hostDBProd},
			Backup:     inventory.SideSpec{Apps: []string{hostAppBack}, Database: hostDBBack},
		},
		Upgrade: inventory.Upgrade{
			Version: upgradeVersion,
			Commands: []string{
				shell.Quote(l.appctl()) + " restart {host} {version}",
			},
			Migrate: inventory.Migrate{Commands: []string{l.migrateCommand()}},
			Verify:  inventory.Verify{Path: "/health"},
		},
		ReverseSync: inventory.ReverseSync{Rebuild: []string{shell.Quote(l.rebuildStandby())}},
		Rehearsal:   l.rehearsal(),
	}
	if l.SSH {
		inv.SSHConfig = sshConfigRel
	}
	if l.Variant == app.VariantJSON {
		// This application says its version only in the JSON of /status and refuses writes with a
		// plain 503: the version comes from there, and any 503 to a write counts as refused.
		inv.Upgrade.Verify = inventory.Verify{Path: "/status", JSON: "release"}
	}
	return inv
}

// renderInventory writes inv as YAML with comments for the operator who opens the file.
func renderInventory(l *layout, inv *inventory.Inventory) (string, error) {
	var buf bytes.Buffer
	err := inventoryTmpl.Execute(&buf, map[string]any{
		"Inv":   inv,
		"Hosts": inv.HostNames(),
		"Dir":   l.Dir,
		"Logs":  l.logDir(),
	})
	return buf.String(), err
}

var inventoryTmpl = template.Must(template.New("inventory").Funcs(template.FuncMap{
	"q": func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	},
	"dur":  func(d time.Duration) string { return d.String() },
	"join": strings.Join,
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
}).Parse(`# Written by "pitstop lab up": the local lab as a Pitstop inventory. Every host is a loopback
# address on this machine; logs are in {{.Logs}}.
#   pitstop run -i {{.Dir}}/inventory.yaml
name: {{q .Inv.Name}}
{{- if .Inv.SSHConfig}}
# Every host is reached through the lab's own sshd with checked host keys.
ssh_config: {{q .Inv.SSHConfig}}
{{- end}}

probe:
  # What users see: through nginx. GET lists items; the POST writes one (503 while the database is read-only).
  url: {{q .Inv.Probe.URL}}
  write_url: {{q .Inv.Probe.WriteURL}}
  write_every: {{dur .Inv.Probe.WriteEvery}}
  rate: {{.Inv.Probe.Rate}}
  timeout: {{dur .Inv.Probe.Timeout}}

balancer:
  host: {{q .Inv.Balancer.Host}}
  upstream: {{q .Inv.Balancer.Upstream}}
  file: {{q .Inv.Balancer.File}}
  test: {{q .Inv.Balancer.Test}}
  reload: {{q .Inv.Balancer.Reload}}
  pid_file: {{q .Inv.Balancer.PidFile}}

hosts:
{{- range $name := .Hosts}}{{with index $.Inv.Hosts $name}}
  {{$name}}:
    ssh: {{q .SSH}}
{{- if .Serve}}
    serve: {{q .Serve}}
{{- end}}
{{- if .Postgres}}
    postgres: {{q .Postgres}}
{{- end}}
{{- end}}{{end}}

sides:
  production:
    apps: [{{join .Inv.Sides.Production.Apps ", "}}]
    database: {{.Inv.Sides.Production.Database}}
  backup:
    apps: [{{join .Inv.Sides.Backup.Apps ", "}}]
    database: {{.Inv.Sides.Backup.Database}}

upgrade:
  version: {{q .Inv.Upgrade.Version}}
  # appctl stops the instance by pid, waits until its port is free, starts the new version and waits for /health.
  commands:
{{- range .Inv.Upgrade.Commands}}
    - {{q .}}
{{- end}}
  migrate:
    # Adds items.note (default ''): v2 needs it, v1 keeps working after it.
    commands:
{{- range .Inv.Upgrade.Migrate.Commands}}
      - {{q .}}
{{- end}}
  verify:
    path: {{q .Inv.Upgrade.Verify.Path}}
{{- if .Inv.Upgrade.Verify.JSON}}
    # The application says its version only in the JSON body of this path.
    json: {{q .Inv.Upgrade.Verify.JSON}}
{{- end}}

reverse_sync:
  # Re-creates db-backup as a streaming standby of db-prod (stop, wipe, pg_basebackup -R, start).
  rebuild:
{{- range .Inv.ReverseSync.Rebuild}}
    - {{q .}}
{{- end}}
{{with .Inv.Rehearsal}}
rehearsal:
  # pitstop rehearse -i this file: copies db-backup into data_dir/pgdata on db-rehearse, runs v2 on
  # app-r1 against the copy, migrates it while sampling its locks, predicts the window, cleans up.
  host: {{q .Host}}
  data_dir: {{q .DataDir}}
  port: {{.Port}}
  listen: {{q .Listen}}
  app: {{q .App}}
  stop_app:
{{- range .StopApp}}
    - {{q .}}
{{- end}}
  as_postgres: {{q (deref .AsPostgres)}}
  pg_bin: {{q .PGBin}}
{{- end}}
`))
