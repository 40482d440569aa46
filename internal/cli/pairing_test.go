package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/control"
	"github.com/pitstop-ops/pitstop/steps"
)

// TestHeadlessDemoDrivenByApprove: `pitstop demo --headless` waits at each gate; another process
// drives it to the end with `pitstop approve`, as two operators (and once as the Unix user, named by
// the kernel), and the journal credits each decision to who sent it, from where.
func TestHeadlessDemoDrivenByApprove(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary through a whole demo plan")
	}
	bin := pitstopBinary(t)
	rt := t.TempDir()
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+rt, "PITSTOP_OPERATOR=")
	journal := filepath.Join(t.TempDir(), "j.jsonl")
	run := exec.Command(bin, "demo", "--headless", "--speed", "20", "--seed", "7", "--operator", "driver", "--journal", journal)
	run.Env = env
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	t.Cleanup(func() { run.Process.Kill() })

	pitstop := func(args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Env = env
		b, err := c.CombinedOutput()
		return string(b), err
	}
	operators := []string{"bob", "alice", ""} // "": no --operator, the kernel names the user
	approvals, refusals := 0, 0
	deadline := time.Now().Add(3 * time.Minute)
	var runErr error
loop:
	for {
		select {
		case runErr = <-done:
			break loop
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the headless run did not end in 3 minutes:\n%s", tail(out.String()))
		}
		js, err := pitstop("status", "-i", "demo", "--json")
		if err != nil {
			time.Sleep(100 * time.Millisecond) // not listening yet, or just ended
			continue
		}
		var st control.Status
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			t.Fatalf("status --json is not JSON: %v\n%s", err, js)
		}
		if st.Mode != "headless" || st.Driver != "driver" {
			t.Fatalf("status: mode %q driver %q", st.Mode, st.Driver)
		}
		g := st.Gate
		if g == nil || !g.Ready || !(&steps.GateState{Allowed: g.Allowed}).Allows(steps.Confirm) {
			time.Sleep(150 * time.Millisecond)
			continue
		}
		args := []string{"approve", "-i", "demo", "--gate", g.ID}
		if op := operators[approvals%len(operators)]; op != "" {
			args = append(args, "--operator", op)
		}
		msg, err := pitstop(args...)
		if err != nil {
			refusals++ // the gate may have moved on (a wait gate passing by itself): said, not taken
			if !strings.Contains(msg, "moved on") && !strings.Contains(msg, "no gate is waiting") && !strings.Contains(msg, "cannot approve") {
				t.Errorf("pitstop %v: %v: %s", args, err, msg)
			}
			continue
		}
		if !strings.Contains(msg, " approved ") {
			t.Errorf("pitstop approve said %q", msg)
		}
		approvals++
	}
	if runErr != nil {
		t.Fatalf("the headless demo ended with %v:\n%s", runErr, tail(out.String()))
	}
	if !strings.Contains(out.String(), "waiting for a decision: pitstop approve -i demo") {
		t.Errorf("the headless run does not say how to decide:\n%s", tail(out.String()))
	}
	evs, err := steps.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	me, _ := user.Current()
	by := map[string]int{}
	for _, ev := range evs {
		if ev.Kind != steps.EvGateDecided || ev.Decision.By == "conditions" {
			continue
		}
		d := ev.Decision
		by[d.By]++
		if d.From == "" {
			t.Errorf("decision %+v does not say where it came from", d)
		}
		if d.By == "driver" || d.By == "auto-approve" {
			t.Errorf("decision %+v credited to %q, not to who sent it", d, d.By)
		}
	}
	if by["bob"] == 0 || by["alice"] == 0 || by[me.Username] == 0 {
		t.Errorf("decisions by %v; want bob, alice and %s", by, me.Username)
	}
	if last := evs[len(evs)-1]; last.Kind != steps.EvPlanFinished || last.Status != steps.StatusDone {
		t.Errorf("the journal ends with %s %s", last.Kind, last.Status)
	}
	t.Logf("%d approvals (%d refused as moved on), decisions by %v", approvals, refusals, by)
	// The socket is gone with the run: status says no run is going on.
	if msg, err := pitstop("status", "-i", "demo"); err == nil || !strings.Contains(msg, "no run of demo is going on") {
		t.Errorf("status after the run: %v %s", err, msg)
	}
	var ee *exec.ExitError
	if _, err := pitstop("approve", "-i", "demo"); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("approve with no run: %v", err)
	}
}

// TestSkipAndAbortAskInATerminal: without a terminal they refuse unless --yes.
func TestSkipAndAbortAskInATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a headless demo")
	}
	bin := pitstopBinary(t)
	rt := t.TempDir()
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	run := exec.Command(bin, "demo", "--headless", "--speed", "20", "--journal", filepath.Join(t.TempDir(), "j.jsonl"))
	run.Env = env
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { run.Process.Kill(); run.Wait() }()
	pitstop := func(args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Env = env
		b, err := c.CombinedOutput()
		return string(b), err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The switch's gate waits for an operator; the gates before it (the sync) pass by themselves,
		// maybe before the skip below gets there.
		js, err := pitstop("status", "-i", "demo", "--json")
		var st control.Status
		if err == nil && json.Unmarshal([]byte(js), &st) == nil && st.Gate != nil && st.Gate.Step == "switch-to-backup" && st.Gate.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no switch gate in 30s:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// In a terminal, skip asks first: "n" sends nothing, the run stays at its gate.
	frank := false
	if _, err := exec.LookPath("tmux"); err == nil {
		sock := fmt.Sprintf("pitstop-skipask-%d", os.Getpid())
		tm := func(args ...string) string {
			b, _ := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
			return string(b)
		}
		defer tm("kill-server")
		tm("new-session", "-d", "-x", "120", "-y", "20", "-s", "ask",
			fmt.Sprintf("XDG_RUNTIME_DIR=%s %s skip -i demo --operator frank; echo SKIP-EXITED $?; sleep 60", rt, bin))
		waitScreen := func(want string) string {
			t.Helper()
			for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				if scr := tm("capture-pane", "-p", "-t", "ask"); strings.Contains(scr, want) {
					return scr
				}
			}
			t.Fatalf("the terminal never showed %q:\n%s", want, tm("capture-pane", "-p", "-t", "ask"))
			return ""
		}
		waitScreen("? [y/N]")
		tm("send-keys", "-t", "ask", "n", "Enter")
		waitScreen("SKIP-EXITED 1")
		if scr := tm("capture-pane", "-p", "-t", "ask"); !strings.Contains(scr, "nothing sent") {
			t.Errorf("answering n should send nothing:\n%s", scr)
		}
		// "y" sends it, credited to frank on that terminal.
		tm("kill-session", "-t", "ask")
		tm("new-session", "-d", "-x", "120", "-y", "20", "-s", "ask",
			fmt.Sprintf("XDG_RUNTIME_DIR=%s %s skip -i demo --operator frank; echo SKIP-EXITED $?; sleep 60", rt, bin))
		waitScreen("? [y/N]")
		tm("send-keys", "-t", "ask", "y", "Enter")
		scr := waitScreen("SKIP-EXITED")
		if !strings.Contains(scr, "frank skipped from pts/") || !strings.Contains(scr, "SKIP-EXITED 0") {
			t.Errorf("answering y should skip, from the terminal:\n%s", scr)
		}
		frank = true
	}
	msg, err := pitstop("abort", "-i", "demo")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(msg, "asks for confirmation in a terminal") {
		t.Fatalf("abort without a terminal: %v %s", err, msg)
	}
	if msg, err := pitstop("abort", "-i", "demo", "--yes", "--operator", "erin"); err != nil || !strings.Contains(msg, "erin aborted") {
		t.Fatalf("abort --yes: %v %s", err, msg)
	}
	err = run.Wait()
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out.String(), "abort by erin") || frank != strings.Contains(out.String(), "skip by frank from pts/") {
		t.Errorf("the run after abort: %v\n%s", err, tail(out.String()))
	}
}
