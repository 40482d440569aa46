package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// TestBadCandidateConfig: the backup app's serve address names a host that does not resolve. The
// switch checks the backup's app hosts directly before it writes anything, finds app-b1 unreachable
// and refuses (the candidate would also fail `nginx -t` with "host not found in upstream", see
// internal/nginx's TestSwitchRejectedByNginxTest): the previous upstream stays in place and live, and
// every user request is still served by production.
func TestBadCandidateConfig(t *testing.T) {
	l := startLab(t, baseBadConfig, false)
	before := upstreamFile(t, l)
	l.Inv.Hosts["app-b1"].Serve = "backup.invalid:" + strconv.Itoa(baseBadConfig+80)
	load := startLoad(t, l)
	settle(time.Second)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly, auto: true})
	err := r.wait(time.Minute)
	settle(time.Second)
	rep := load.Stop()
	s := logLoad(t, rep)

	var se *steps.StepError
	if !errors.As(err, &se) || se.StepID != "switch-to-backup" {
		t.Fatalf("Run: %v; want the switch-to-backup step to fail", err)
	}
	if !errors.Is(err, steps.ErrRefused) || !strings.Contains(err.Error(), "backup is down: app-b1") {
		t.Errorf("the error does not refuse the unreachable backup, naming app-b1: %v", err)
	}
	if got := upstreamFile(t, l); got != before {
		t.Errorf("upstream file after the failed switch:\n%s\nwant the previous one:\n%s", got, before)
	}
	assertNoFailedReads(t, rep)
	if s.RefusedWrites+s.FailedWrites > 0 {
		t.Errorf("%d writes refused and %d failed: production should have taken them all", s.RefusedWrites, s.FailedWrites)
	}
	if n := len(servedBy(rep.Requests, lab.OpRead, l.Prod)); n != s.Reads {
		t.Errorf("%d of %d reads served by production %s", n, s.Reads, l.Prod)
	}
	if sum := r.summary(); sum.Live != inventory.Production {
		t.Errorf("summary says %s is live", sum.Live)
	}
}

// TestUpgradeCommandFails: the first upgrade command fails. The interactive run stops at a failed gate
// that offers a rollback, users are still served by the backup meanwhile, and the rollback brings
// them back to production (still on v1).
func TestUpgradeCommandFails(t *testing.T) {
	l := startLab(t, baseUpgradeFail, false)
	l.Inv.Upgrade.Commands = append([]string{"echo 'upgrade failed: simulated by the e2e test' >&2; exit 3"}, l.Inv.Upgrade.Commands...)
	load := startLoad(t, l)
	settle(time.Second)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly})

	g := r.waitFor("the failed gate of upgrade-production", time.Minute, gateOf(steps.GateFailed, "upgrade-production")).Gate
	if !g.Allows(steps.Rollback) || !g.Allows(steps.Retry) {
		t.Errorf("failed gate allows %v, want retry and rollback", g.Allowed)
	}
	if !strings.Contains(g.Reason, "status 3") {
		t.Errorf("failed gate's reason %q does not give the exit status", g.Reason)
	}
	if out := r.output("upgrade-production", "upgrade failed: simulated"); len(out) == 0 {
		t.Error("the failing command's stderr was not streamed")
	}
	settle(time.Second)
	recent := load.Requests()
	recent = recent[len(recent)/2:]
	var notBackup []string
	for _, q := range recent {
		if q.Op == lab.OpRead && time.Since(q.Start) < time.Second && (q.Outcome != lab.OK || q.Upstream != l.Back) {
			notBackup = append(notBackup, fmt.Sprintf("%s %s %s", q.Outcome, q.Upstream, q.Err))
		}
	}
	if len(notBackup) > 0 {
		t.Errorf("while the run waits at the failed gate, %d reads were not served by the backup: %v", len(notBackup), notBackup[:min(5, len(notBackup))])
	}

	r.decide("upgrade-production", steps.Rollback)
	r.waitFor("rolled-back", 30*time.Second, is(steps.EvRolledBack, "upgrade-production"))
	r.waitFor("the rolled-back gate", 10*time.Second, gateOf(steps.GateRolledBack, "upgrade-production"))
	r.decide("upgrade-production", steps.Abort)
	if err := r.wait(30 * time.Second); !errors.Is(err, steps.ErrAborted) {
		t.Fatalf("Run after abort: %v, want ErrAborted", err)
	}
	rep := load.Stop()
	logLoad(t, rep)
	assertNoFailedReads(t, rep)
	l.assertVersion(t, "app-p1", "v1")
}

// TestSSHConnectionLost: with every command going through the lab's sshd, the sshd session serving a
// slow upgrade command is killed, as a dropped connection would end it. The command keeps running on
// the host (it was started detached, under setsid, with its output and status kept in files); Pitstop
// reconnects, re-attaches, and the step finishes with the command's real outcome: no failed gate, no
// guess that it "may have half-run". The command's own log proves it ran exactly once on each host.
func TestSSHConnectionLost(t *testing.T) {
	l := startLab(t, baseSSHDrop, true)
	ranLog := filepath.Join(l.Dir, "run", "slow-upgrade-ran")
	slow := fmt.Sprintf(`echo "slow upgrade: parent $PPID"; sleep 4; echo {host} >> %s`, ranLog)
	l.Inv.Upgrade.Commands = append([]string{slow}, l.Inv.Upgrade.Commands...)
	load := startLoad(t, l)
	r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly})

	ev := r.waitFor("the slow upgrade command", time.Minute, func(ev steps.Event) bool {
		return ev.Kind == steps.EvOutput && ev.StepID == "upgrade-production" && strings.HasPrefix(ev.Text, "slow upgrade: parent ")
	})
	pid, err := strconv.Atoi(strings.TrimPrefix(ev.Text, "slow upgrade: parent "))
	if err != nil {
		t.Fatalf("parse %q: %v", ev.Text, err)
	}
	// Up from the command: its detached wrapper, the follower, the login shell's watchdog, sshd.
	session := pid
	for i := 0; i < 8 && !strings.HasPrefix(cmdline(session), "sshd"); i++ {
		session = parentOf(t, session)
	}
	if !strings.HasPrefix(cmdline(session), "sshd") {
		t.Fatalf("no sshd session above the remote command (pid %d)", pid)
	}
	t.Logf("killing sshd session process %d (%s) while the command on %s runs", session, cmdline(session), ev.Host)
	if err := syscall.Kill(session, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the re-attach", 30*time.Second, func(ev steps.Event) bool {
		return ev.Kind == steps.EvOutput && strings.Contains(ev.Text, "re-attaching to the command")
	})
	if err := r.wait(3 * time.Minute); err != nil {
		t.Fatalf("run: %v", err)
	}
	r.mu.Lock()
	for _, ev := range r.events {
		if ev.Kind == steps.EvStepFinished && ev.Status == steps.StatusFailed {
			t.Errorf("step %s failed: %s", ev.StepID, ev.Err)
		}
	}
	r.mu.Unlock()
	b, err := os.ReadFile(ranLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range l.Inv.Sides.Production.Apps {
		if n := strings.Count(string(b), h+"\n"); n != 1 {
			t.Errorf("the slow command ran %d times on %s, want exactly once (log: %q)", n, h, b)
		}
	}
	rep := load.Stop()
	logLoad(t, rep)
	assertNoFailedReads(t, rep)
	l.assertVersion(t, "app-p1", "v2")
	l.assertVersion(t, "app-b1", "v2")
}

// TestStandbyStopped: with the lab healthy, the check passes and writes nothing. When the standby dies
// after the preflight, the sync gate never opens: it shows "not streaming" with the reason, and the step
// fails after thresholds.timeout naming the link, before anything changes. With the standby stopped,
// `pitstop check` fails naming it, and a new run stops at its preflight.
func TestStandbyStopped(t *testing.T) {
	l := startLab(t, baseStandbyDown, false)

	t.Run("check passes on the healthy lab and changes nothing", func(t *testing.T) {
		rows, upstream := l.countItems(t, "db-prod"), upstreamFile(t, l)
		out, ok := check(t, l)
		if !ok {
			t.Fatalf("check failed on a healthy lab:\n%s", out)
		}
		for _, want := range []string{"ok    lb: runs commands locally", "ok    app-p1: runs commands locally", "live upstream", "is production", "ok    users: ", "writable",
			"ok    db-prod→db-backup streaming"} {
			if !strings.Contains(out, want) {
				t.Errorf("check output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "FAIL") {
			t.Errorf("check output has a FAIL line:\n%s", out)
		}
		if n := l.countItems(t, "db-prod"); n != rows {
			t.Errorf("check wrote to production: items went from %d to %d rows", rows, n)
		}
		if upstreamFile(t, l) != upstream {
			t.Error("check changed the upstream file")
		}
	})

	data := filepath.Join(l.Dir, "pg", "db-backup")
	var standbyStopped atomic.Bool
	stopStandby := func() error {
		if out, err := runAs("postgres", "/usr/lib/postgresql/15/bin/pg_ctl", "stop", "-D", data, "-m", "fast", "-w"); err != nil {
			return fmt.Errorf("stop the standby: %v\n%s", err, out)
		}
		standbyStopped.Store(true)
		return nil
	}

	t.Run("the standby dies after the preflight: the sync gate stays shut and says why", func(t *testing.T) {
		before := upstreamFile(t, l)
		inv := *l.Inv
		inv.Thresholds.Timeout = 4 * time.Second
		r := startRun(t, &inv, runOptions{plan: steps.PlanReadonly, auto: true, onEvent: func(ev steps.Event) {
			// On the engine's goroutine, before the sync step starts: the standby is down from then on.
			if ev.Kind == steps.EvStepFinished && ev.StepID == "preflight" && ev.Err == "" && !standbyStopped.Load() {
				if err := stopStandby(); err != nil {
					t.Error(err)
				}
			}
		}})
		r.waitFor("the sync gate showing the standby down", 30*time.Second, func(ev steps.Event) bool {
			if ev.Kind != steps.EvGateWaiting || ev.StepID != "sync" {
				return false
			}
			for _, c := range ev.Gate.Conditions {
				if !c.OK && strings.HasPrefix(c.Value, "not streaming") {
					return true
				}
			}
			return false
		})
		err := r.wait(time.Minute)
		var se *steps.StepError
		if !errors.As(err, &se) || se.StepID != "sync" {
			t.Fatalf("Run: %v; want the sync step to fail", err)
		}
		for _, want := range []string{"db-backup", "not streaming", "waited 4s"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the sync step's error does not say %q: %v", want, err)
			}
		}
		if upstreamFile(t, l) != before {
			t.Error("the upstream file changed although the sync gate never opened")
		}
	})
	if !standbyStopped.Load() {
		if err := stopStandby(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("check names the stopped standby", func(t *testing.T) {
		out, ok := check(t, l)
		if ok {
			t.Fatalf("check passed with the standby stopped:\n%s", out)
		}
		var fails []string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "FAIL") {
				fails = append(fails, line)
			}
		}
		if len(fails) == 0 || !strings.Contains(strings.Join(fails, "\n"), "db-backup") {
			t.Errorf("no FAIL line names db-backup:\n%s", out)
		}
	})

	t.Run("the plan stops at its preflight", func(t *testing.T) {
		before := upstreamFile(t, l)
		r := startRun(t, l.Inv, runOptions{plan: steps.PlanReadonly, auto: true})
		err := r.wait(time.Minute)
		var se *steps.StepError
		if !errors.As(err, &se) || se.StepID != "preflight" {
			t.Fatalf("Run: %v; want the preflight to fail", err)
		}
		for _, want := range []string{"db-backup", "not streaming"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the preflight's error does not say %q: %v", want, err)
			}
		}
		if upstreamFile(t, l) != before {
			t.Error("the upstream file changed although the preflight failed")
		}
	})
}

// parentOf returns the parent pid of pid, from /proc.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("read the parent of %d: %v", pid, err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return ppid
}

// cmdline returns pid's command line, arguments separated by spaces.
func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
