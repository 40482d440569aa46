package lab

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Loopback addresses of the lab hosts. Every 127.x address binds on Linux without setup.
const (
	addrBalancer = "127.0.0.10"
	addrAppProd  = "127.0.0.11"
	addrAppBack  = "127.0.0.12"
	addrDBProd   = "127.0.0.13"
	addrDBBack   = "127.0.0.14"
	addrSSH      = "127.0.0.1"
)

// Offsets from the port base.
const (
	offBalancer  = 0
	offSSH       = 22
	offDBPrimary = 32
	offDBStandby = 33
	offApp       = 80
)

// Names of the lab's inventory hosts; app instances are named after their host.
const (
	hostBalancer = "lb"
	hostAppProd  = "app-p1"
	hostAppBack  = "app-b1"
	hostDBProd   = "db-prod"
	hostDBBack   = "db-backup"
)

// Database names of the lab.
const (
	dbName  = "shop"
	appRole = "shop"
	// upstreamName is the nginx upstream block the inventory's balancer rewrites.
	upstreamName = "shop"
	// standbyAppName is the standby's application_name as the primary's pg_stat_replication shows it.
	standbyAppName = "db-backup"
)

// stateFile records how a lab was started, so Down and Status need only the directory.
const stateFile = "lab.json"

// state is the content of DIR/lab.json.
type state struct {
	PortBase int    `json:"port_base"`
	SSH      bool   `json:"ssh"`
	Pitstop  string `json:"pitstop"`
	PGBin    string `json:"pg_bin"`
	// Variant is the application's variant (app.VariantJSON or "").
	Variant string    `json:"variant,omitempty"`
	Started time.Time `json:"started"`
	// MigrateHold makes the inventory's migration rewrite items and hold its lock this long.
	MigrateHold time.Duration `json:"migrate_hold,omitempty"`
}

// layout is where everything of one lab lives: files under Dir and addresses from PortBase.
type layout struct {
	Dir string
	state
}

func (l *layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.Dir}, elem...)...)
}

func (l *layout) port(off int) int { return l.PortBase + off }

func (l *layout) addr(host string, off int) string {
	return net.JoinHostPort(host, strconv.Itoa(l.port(off)))
}

// Addresses of each service.
func (l *layout) balancerAddr() string { return l.addr(addrBalancer, offBalancer) }
func (l *layout) sshAddr() string      { return l.addr(addrSSH, offSSH) }
func (l *layout) appAddr(host string) string {
	switch host {
	case hostAppBack:
		return l.addr(addrAppBack, offApp)
	case hostAppRehearse:
		return l.addr(addrAppRehearse, offApp)
	}
	return l.addr(addrAppProd, offApp)
}

// Directories of the lab.
func (l *layout) runDir() string   { return l.path("run") }
func (l *layout) logDir() string   { return l.path("logs") }
func (l *layout) binDir() string   { return l.path("bin") }
func (l *layout) pgDir() string    { return l.path("pg") }
func (l *layout) nginxDir() string { return l.path("nginx") }
func (l *layout) sshDir() string   { return l.path("ssh") }

func (l *layout) pidFile(name string) string { return filepath.Join(l.runDir(), name+".pid") }
func (l *layout) logFile(name string) string { return filepath.Join(l.logDir(), name+".log") }
func (l *layout) inventoryFile() string      { return l.path("inventory.yaml") }

// primary and standby describe the two PostgreSQL servers.
func (l *layout) primary() *Postgres {
	return l.postgres(hostDBProd, addrDBProd, offDBPrimary)
}

func (l *layout) standby() *Postgres {
	return l.postgres(hostDBBack, addrDBBack, offDBStandby)
}

func (l *layout) postgres(name, addr string, off int) *Postgres {
	return &Postgres{
		Name:   name,
		Addr:   addr,
		Port:   l.port(off),
		Data:   filepath.Join(l.pgDir(), name),
		Socket: filepath.Join(l.runDir(), "pg-"+name),
		Log:    l.logFile("pg-" + name),
		Bin:    l.PGBin,
	}
}

// appDB is the connection string an application instance uses: the lab role, trusted on loopback.
func appDB(p *Postgres) string { return p.ConnString(appRole, dbName) }

func (l *layout) saveState() error {
	b, err := json.MarshalIndent(l.state, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(l.path(stateFile), append(b, '\n'), 0o644)
}

// loadLayout reads DIR/lab.json. It wraps os.ErrNotExist when DIR holds no lab.
func loadLayout(dir string) (*layout, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lab directory %s: %w", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(abs, stateFile))
	if err != nil {
		return nil, fmt.Errorf("no lab in %s (%w): start one with \"pitstop lab up --dir %s\"", abs, err, dir)
	}
	l := &layout{Dir: abs}
	if err := json.Unmarshal(b, &l.state); err != nil {
		return nil, fmt.Errorf("lab state %s is damaged: %w; stop what runs with \"pitstop lab down\" after fixing it, or remove the directory", filepath.Join(abs, stateFile), err)
	}
	return l, nil
}

// writeFile writes data to file through a temporary file and a rename.
func writeFile(file string, data []byte, mode os.FileMode) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
