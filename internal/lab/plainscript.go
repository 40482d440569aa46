package lab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
)

// The plain shell-script baseline: the readonly procedure's steps with no tool, as a careful operator
// writes them — the two upstream files prepared beforehand, each switch an atomic rename followed by
// nginx -t and a reload (restoring the old file when the test fails), replay paused on the standby
// with psql, the upgrade and the migration, the switch back, replay resumed. After each reload it
// waits until nginx's old workers have exited (polling every 10ms): `nginx -s reload` returns before
// they do, and until then they keep proxying the keep-alive connections they hold to the old side —
// a script that restarts production right away fails users' reads (13 in the first run without the
// wait). It waits for nothing else: no sleeps, no probes.

// plainStep is one step of the script and the commands it runs on one host.
type plainStep struct {
	ID   string
	Host string
	Cmds []string
}

// plainSteps are the script's steps for inv, with psql and the prepared upstream files given.
func plainSteps(inv *inventory.Inventory, psql, prodUpstream, backUpstream string) []plainStep {
	lb := inv.Balancer
	sw := func(id, prepared string) plainStep {
		f := shell.Quote(lb.File)
		return plainStep{ID: id, Host: lb.Host, Cmds: []string{
			"cp " + f + " " + f + ".prev",
			"cp " + shell.Quote(prepared) + " " + f + ".tmp && mv " + f + ".tmp " + f,
			"if ! " + lb.Test + "; then mv " + f + ".prev " + f + "; exit 1; fi",
			"old=$(pgrep -P \"$(cat " + shell.Quote(lb.PidFile) + ")\")",
			lb.Reload,
			"for p in $old; do while kill -0 \"$p\" 2>/dev/null; do sleep 0.01; done; done",
		}}
	}
	back := inv.Sides.Backup.Database
	sql := func(q string) string {
		return shell.Quote(psql) + " -X -q -v ON_ERROR_STOP=1 -d " + shell.Quote(inv.Hosts[back].Postgres) + " -c " + shell.Quote(q)
	}
	prodApp := inv.Sides.Production.Apps[0]
	var upgrade, migrate []string
	for _, c := range inv.Upgrade.Commands {
		upgrade = append(upgrade, inv.Expand(c, prodApp))
	}
	for _, c := range inv.Upgrade.Migrate.Commands {
		migrate = append(migrate, inv.Expand(c, prodApp))
	}
	return []plainStep{
		sw("switch-to-backup", backUpstream),
		{ID: "pause-replay", Host: back, Cmds: []string{sql("SELECT pg_wal_replay_pause()")}},
		{ID: "upgrade-production", Host: prodApp, Cmds: upgrade},
		{ID: "migrate-production", Host: prodApp, Cmds: migrate},
		sw("switch-to-production", prodUpstream),
		{ID: "resume-replay", Host: back, Cmds: []string{sql("SELECT pg_wal_replay_resume()")}},
	}
}

// plainScript renders the steps as one bash script. Each step's commands run on its host: here, or,
// with sshConfig, through one `ssh -F sshConfig HOST` session per step (the script itself runs on
// the operator's machine). Over SSH it shares one connection per host (ControlMaster, sockets next
// to the script in ctlDir), opened before the first step and closed after the last, as a careful
// operator does (ControlPath per alias, %n): the fair baseline, not a new connection per step. Before and after each step it
// prints "@ ID start|end EPOCHREALTIME".
func plainScript(steps []plainStep, sshConfig, ctlDir string) string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n# The readonly procedure as a plain script (written by pitstop lab bench).\nset -euo pipefail\n")
	ssh := ""
	if sshConfig != "" {
		ssh = "ssh -F " + shell.Quote(sshConfig) + " -o ControlMaster=auto -o ControlPersist=120 -o ControlPath=" + shell.Quote(ctlDir+"/%n.sock")
		var hosts []string
		for _, s := range steps {
			if !slices.Contains(hosts, s.Host) {
				hosts = append(hosts, s.Host)
			}
		}
		b.WriteString("\n# one shared connection per host, opened before the procedure and closed after it\n")
		for _, h := range hosts {
			b.WriteString(ssh + " " + shell.Quote(h) + " true\n")
		}
		b.WriteString("trap '")
		for i, h := range hosts {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(strings.ReplaceAll(ssh+" -O exit "+shell.Quote(h)+" 2>/dev/null", "'", `'\''`))
		}
		b.WriteString("' EXIT\n")
	}
	for _, s := range steps {
		fmt.Fprintf(&b, "\n# %s\necho \"@ %s start $EPOCHREALTIME\"\n", s.ID, s.ID)
		body := "set -e\n" + strings.Join(s.Cmds, "\n") + "\n"
		if ssh == "" {
			b.WriteString("(\n" + body + ")\n")
		} else {
			b.WriteString(ssh + " " + shell.Quote(s.Host) + " bash -c " + shell.Quote(shell.Quote(body)) + "\n")
		}
		fmt.Fprintf(&b, "echo \"@ %s end $EPOCHREALTIME\"\n", s.ID)
	}
	return b.String()
}

// plainMark is one "@ ID start|end TIME" line of the script's output.
type plainMark struct {
	ID, What string
	At       time.Time
}

func parseMark(line string) (plainMark, bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "@" {
		return plainMark{}, false
	}
	sec, frac, _ := strings.Cut(f[3], ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	frac = (frac + "000000000")[:9]
	ns, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return plainMark{}, false
	}
	return plainMark{ID: f[1], What: f[2], At: time.Unix(s, ns)}, true
}

// runPlain writes the script under dir and runs it under load; the read-only window is from the
// start of the switch to the backup to the end of the switch back.
func (p *Procedure) runPlain(ctx context.Context, inv *inventory.Inventory, dir, psql string, opt BenchOptions) error {
	prep := filepath.Join(dir, "plain")
	if err := os.MkdirAll(prep, 0o755); err != nil {
		return err
	}
	prodUp, backUp := filepath.Join(prep, "upstream-production.conf"), filepath.Join(prep, "upstream-backup.conf")
	for f, side := range map[string]inventory.Side{prodUp: inventory.Production, backUp: inventory.Backup} {
		if err := writeFile(f, []byte(inv.Upstream(side)), 0o644); err != nil {
			return err
		}
	}
	sshConfig := inv.SSHConfig // absolute once loaded
	script := filepath.Join(prep, "upgrade.sh")
	if err := writeFile(script, []byte(plainScript(plainSteps(inv, psql, prodUp, backUp), sshConfig, prep)), 0o755); err != nil {
		return err
	}
	load, err := StartLoad(ctx, p.loadOptions(inv, opt, "plain"))
	if err != nil {
		return err
	}
	defer load.Stop()
	time.Sleep(opt.Settle)
	fmt.Fprintf(opt.Out, "   $ %s\n", script)
	cmd := exec.CommandContext(ctx, "bash", script)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	var marks []plainMark
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m, ok := parseMark(sc.Text()); ok {
			marks = append(marks, m)
		}
	}
	runErr := cmd.Wait()
	p.Finished = time.Now()
	p.Maintenance = p.Finished.Sub(p.Started)
	if runErr != nil {
		return fmt.Errorf("%s: %w\n%s", script, runErr, lastLines([]byte(errOut.String()), 10))
	}
	time.Sleep(opt.Settle)
	p.setReport(load.Stop())
	p.measureMarks(marks, inv)
	return nil
}

// measureMarks reads the script's timing from its marks and the load report, as measurePlan does
// for the plan: switch latency from the start of each switch step.
func (p *Procedure) measureMarks(marks []plainMark, inv *inventory.Inventory) {
	var sw, swBack, winStart, last time.Time
	for _, m := range marks {
		switch m.What {
		case "start":
			if m.ID == "switch-to-backup" {
				sw, winStart, last = m.At, m.At, m.At
			}
			if m.ID == "switch-to-production" {
				swBack = m.At
			}
		case "end":
			if m.ID == "upgrade-production" || m.ID == "migrate-production" {
				p.Upgrade += m.At.Sub(last)
			}
			if !last.IsZero() {
				p.WindowSteps = append(p.WindowSteps, StepTime{ID: m.ID, Took: m.At.Sub(last)})
				last = m.At
				if m.ID == "switch-to-production" {
					p.Windows = append(p.Windows, m.At.Sub(winStart))
					p.Window += m.At.Sub(winStart)
					last = time.Time{}
				}
			}
		}
	}
	if p.report == nil {
		return
	}
	back, prod := upstreamOf(inv, inventory.Backup), upstreamOf(inv, inventory.Production)
	p.Switch, p.SwitchErr = latency(p.report, sw, swBack, back)
	p.SwitchBack, p.SwitchBackErr = latency(p.report, swBack, p.report.End, prod)
}
