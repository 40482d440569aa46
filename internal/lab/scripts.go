package lab

import (
	"bytes"
	"embed"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"text/template"

	"github.com/pitstop-ops/pitstop/internal/shell"
)

//go:embed scripts/*.sh
var scriptFiles embed.FS

var scripts = template.Must(template.New("").Funcs(template.FuncMap{"q": shell.Quote}).ParseFS(scriptFiles, "scripts/*.sh"))

// Scripts the inventory's commands run, under DIR/bin.
func (l *layout) appctl() string         { return filepath.Join(l.binDir(), "appctl") }
func (l *layout) rebuildStandby() string { return filepath.Join(l.binDir(), "rebuild-standby") }

// Per-server configuration files the rebuild script copies into a fresh standby.
func (l *layout) pgConfFile(name string) string {
	return filepath.Join(l.pgDir(), "conf", name+".conf")
}
func (l *layout) pgHBAFile() string { return filepath.Join(l.pgDir(), "conf", "pg_hba.conf") }

// appScriptHost is one app host as appctl knows it.
type appScriptHost struct {
	Host, IP, DB string
	Port         int
}

// writeScripts renders DIR/bin/appctl and DIR/bin/rebuild-standby and the configuration files the
// latter copies.
func writeScripts(l *layout) error {
	var apps []appScriptHost
	for _, host := range []string{hostAppProd, hostAppBack, hostAppRehearse} {
		ip, port, _ := net.SplitHostPort(l.appAddr(host))
		p, _ := strconv.Atoi(port)
		args := l.appArgs(host, "v1")
		apps = append(apps, appScriptHost{Host: host, IP: ip, Port: p, DB: argAfter(args, "--db")})
	}
	primary, standby := l.primary(), l.standby()
	files := []struct {
		tmpl, out string
		data      any
	}{
		{"appctl.sh", l.appctl(), map[string]any{
			"Pitstop": l.Pitstop, "Run": l.runDir(), "Logs": l.logDir(), "Apps": apps,
			"Hosts": hostAppProd + " " + hostAppBack + " " + hostAppRehearse, "Variant": l.Variant,
		}},
		{"rebuild-standby.sh", l.rebuildStandby(), map[string]any{
			"Bin": binDir(l.PGBin), "Data": standby.Data, "Log": standby.Log, "Socket": standby.Socket,
			"Port": standby.Port, "Conf": l.pgConfFile(standby.Name), "HBA": l.pgHBAFile(),
			"Source": fmt.Sprintf("host=%s port=%d user=postgres application_name=%s",
				primary.Addr, primary.Port, standbyAppName),
			"Standby": standby.Name, "Primary": primary.Name, "PrimaryAddr": primary.HostPort(),
			"PrimaryLog": primary.Log,
		}},
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := scripts.ExecuteTemplate(&buf, f.tmpl, f.data); err != nil {
			return fmt.Errorf("render %s: %w", f.out, err)
		}
		if err := writeFile(f.out, buf.Bytes(), 0o755); err != nil {
			return err
		}
	}
	if err := writeFile(l.pgConfFile(standby.Name), []byte(standby.Config()), 0o644); err != nil {
		return err
	}
	return writeFile(l.pgHBAFile(), []byte(HBA), 0o644)
}

func binDir(dir string) string {
	if dir == "" {
		return DefaultPGBin
	}
	return dir
}

// argAfter returns the argument that follows flag in args, or "".
func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
