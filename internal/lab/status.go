package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is what runs in a lab, as Status and Up return it.
type Report struct {
	Dir      string `json:"dir"`
	PortBase int    `json:"port_base"`
	SSH      bool   `json:"ssh"`
	// Inventory is the path of the lab's inventory file.
	Inventory string `json:"inventory"`
	// SSHConfig is the lab's ssh_config (SSH only).
	SSHConfig  string      `json:"ssh_config,omitempty"`
	Components []Component `json:"components"`
}

// Component is one process of the lab.
type Component struct {
	// Name is the inventory host it serves ("app-p1") or "sshd".
	Name string `json:"name"`
	// Kind is nginx, app, postgres or sshd.
	Kind string `json:"kind"`
	Addr string `json:"addr"`
	// PID is from its pid file, 0 when there is none.
	PID int `json:"pid"`
	// Running is true when that process is alive.
	Running bool `json:"running"`
	// Listening is true when Addr accepts TCP connections.
	Listening bool `json:"listening"`
	// Detail is what the component says about itself (version, database role, live side).
	Detail string `json:"detail,omitempty"`
	Log    string `json:"log"`
}

// State sums up the component in a word or two.
func (c Component) State() string {
	switch {
	case c.Running && c.Listening:
		return "up"
	case c.Running:
		return "not listening"
	case c.Listening:
		return "stopped, port taken"
	}
	return "stopped"
}

// Running counts the components whose process is alive.
func (s *Report) Running() int {
	n := 0
	for _, c := range s.Components {
		if c.Running {
			n++
		}
	}
	return n
}

// Healthy reports whether every component runs and listens.
func (s *Report) Healthy() bool {
	for _, c := range s.Components {
		if !c.Running || !c.Listening {
			return false
		}
	}
	return len(s.Components) > 0
}

// Component returns the component named name, or nil.
func (s *Report) Component(name string) *Component {
	for i := range s.Components {
		if s.Components[i].Name == name {
			return &s.Components[i]
		}
	}
	return nil
}

// String renders the status as a table for the terminal.
func (s *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pitstop lab in %s (ports %d–%d)\n", s.Dir, s.PortBase, s.PortBase+offApp)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  HOST\tKIND\tADDRESS\tPID\tSTATE\tDETAIL")
	for _, c := range s.Components {
		pid := "-"
		if c.PID > 0 {
			pid = fmt.Sprint(c.PID)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Kind, c.Addr, pid, c.State(), c.Detail)
	}
	tw.Flush()
	fmt.Fprintf(&b, "inventory: %s\n", s.Inventory)
	if s.SSHConfig != "" {
		fmt.Fprintf(&b, "ssh:       ssh -F %s app-p1\n", s.SSHConfig)
	}
	fmt.Fprintf(&b, "logs:      %s\n", filepath.Join(s.Dir, "logs"))
	return b.String()
}

// Status reports what runs in the lab in dir: each process by its pid file, whether its port
// answers, and what it says about itself.
func Status(dir string) (*Report, error) {
	l, err := loadLayout(dir)
	if err != nil {
		return nil, err
	}
	return statusOf(l)
}

func statusOf(l *layout) (*Report, error) {
	st := &Report{Dir: l.Dir, PortBase: l.PortBase, SSH: l.SSH, Inventory: l.inventoryFile()}
	if l.SSH {
		st.SSHConfig = l.sshClientConfig()
	}
	primary, standby := l.primary(), l.standby()
	st.Components = []Component{
		{Name: hostBalancer, Kind: "nginx", Addr: l.balancerAddr(), Log: l.nginxErrorLog()},
		{Name: hostAppProd, Kind: "app", Addr: l.appAddr(hostAppProd), Log: l.logFile(hostAppProd)},
		{Name: hostAppBack, Kind: "app", Addr: l.appAddr(hostAppBack), Log: l.logFile(hostAppBack)},
		{Name: hostDBProd, Kind: "postgres", Addr: primary.HostPort(), Log: primary.Log},
		{Name: hostDBBack, Kind: "postgres", Addr: standby.HostPort(), Log: standby.Log},
	}
	if l.SSH {
		st.Components = append(st.Components, Component{Name: "sshd", Kind: "sshd", Addr: l.sshAddr(), Log: l.logFile("sshd")})
	}
	var wg sync.WaitGroup
	for i := range st.Components {
		wg.Go(func() { l.inspect(&st.Components[i]) })
	}
	wg.Wait()
	return st, nil
}

// inspect fills c's pid, liveness and detail.
func (l *layout) inspect(c *Component) {
	var pidFile, want string
	switch c.Kind {
	case "nginx":
		pidFile, want = l.nginxPID(), "nginx"
	case "app":
		pidFile, want = l.pidFile(c.Name), "--instance "+c.Name
	case "postgres":
		pidFile, want = filepath.Join(l.postgres(c.Name, "", 0).Data, "postmaster.pid"), "postgres"
	case "sshd":
		pidFile, want = l.pidFile("sshd"), "sshd"
	}
	c.PID, _ = readPID(pidFile)
	c.Running = alive(c.PID) && strings.Contains(cmdline(c.PID), want)
	c.Listening = listening(c.Addr)
	if !c.Running || !c.Listening {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	switch c.Kind {
	case "app":
		if h, code, err := getHealth(ctx, c.Addr, l.Variant); err == nil {
			c.Detail = fmt.Sprintf("%s, database %s", h.Version, h.Database)
			if h.Database == "up" {
				c.Detail = fmt.Sprintf("%s, database %s, writable %t", h.Version, h.Role, h.Writable)
			}
			if code != 200 {
				c.Detail += fmt.Sprintf(" (HTTP %d)", code)
			}
		}
	case "postgres":
		p := l.primary()
		if c.Name == hostDBBack {
			p = l.standby()
		}
		if conn, err := p.Connect(ctx, "postgres", "postgres"); err == nil {
			var recovery bool
			if conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&recovery) == nil {
				c.Detail = "primary"
				if recovery {
					c.Detail = "standby"
				}
			}
			conn.Close(context.Background())
		}
	case "nginx":
		c.Detail = l.liveUpstream()
	}
}

// liveUpstream names the app hosts the balancer's upstream file points at.
func (l *layout) liveUpstream() string {
	b, err := os.ReadFile(l.nginxUpstream())
	if err != nil {
		return ""
	}
	var hosts []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "server" {
			addr := strings.TrimSuffix(f[1], ";")
			name := addr
			for _, h := range []string{hostAppProd, hostAppBack} {
				if l.appAddr(h) == addr {
					name = h
				}
			}
			hosts = append(hosts, name)
		}
	}
	return "upstream → " + strings.Join(hosts, ", ")
}
