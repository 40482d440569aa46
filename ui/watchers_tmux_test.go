package ui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/testenv"
)

// TestWatchersInTmux runs the cockpit in tmux, attaches two more clients to its session (one with
// attach -r), and checks the header names them from tmux itself, the read-only one marked, with the
// driver's label kept at 80 columns; pitstop status lists them too.
func TestWatchersInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the demo in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		testenv.Missing(t, "tmux is not installed (apt-get install -y tmux): this test drives the real binary in tmux")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pitstop")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build pitstop: %v\n%s", err, out)
	}
	rt := filepath.Join(dir, "rt")
	os.Mkdir(rt, 0o700)
	s := &tmuxSession{t: t, socket: fmt.Sprintf("pitstop-watchers-%d", os.Getpid()), name: "cockpit"}
	t.Cleanup(func() { _, _ = s.tmux("kill-server") })
	cmd := fmt.Sprintf("XDG_RUNTIME_DIR=%s %s demo --speed 1 --seed 7 --operator tester --journal %s; sleep 600", rt, bin, filepath.Join(dir, "j.jsonl"))
	if out, err := s.tmux("new-session", "-d", "-x", "100", "-y", "30", "-s", s.name, cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	s.waitFor("the cockpit", 30*time.Second, has("DEMO", "driver tester"))

	// Two more terminals attach to the cockpit's session: each a client inside its own session's pane
	// (TMUX unset so tmux lets a client run inside tmux), one read-only.
	for i, ro := range []bool{false, true} {
		attach := fmt.Sprintf("TMUX= tmux -L %s attach -t %s", s.socket, s.name)
		if ro {
			attach = fmt.Sprintf("TMUX= tmux -L %s attach -r -t %s", s.socket, s.name)
		}
		if out, err := s.tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", fmt.Sprintf("viewer%d", i), attach); err != nil {
			t.Fatalf("tmux new-session: %v: %s", err, out)
		}
	}
	// The window is sized by hand, as the attached clients would otherwise size it: wide enough for
	// the header to name every client.
	if out, err := s.tmux("resize-window", "-t", s.name, "-x", "160", "-y", "30"); err != nil {
		t.Fatalf("resize-window: %v: %s", err, out)
	}
	// The clients attach on their own time.
	var clients string
	var lines []string
	for end := time.Now().Add(10 * time.Second); len(lines) < 2 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		clients, _ = s.tmux("list-clients", "-t", s.name, "-F", "#{client_user} #{client_tty} #{client_readonly}")
		lines = strings.Split(strings.TrimSpace(clients), "\n")
	}
	t.Logf("tmux list-clients:\n%s", clients)
	if len(lines) != 2 {
		t.Fatalf("want 2 clients attached to the cockpit, tmux says:\n%s", clients)
	}
	var roTTY string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && f[2] == "1" {
			roTTY = strings.TrimPrefix(f[1], "/dev/")
		}
	}
	scr := s.waitFor("the attached clients in the header", 15*time.Second, func(scr string) bool {
		header, _, _ := strings.Cut(scr, "\n")
		return strings.Contains(header, "driver tester") && strings.Contains(header, roTTY+" (ro)")
	})
	assertScreenFits(t, scr, 160)

	// A decision from another terminal reaches the cockpit, which says who sent it and from where.
	s.waitFor("the switch gate ready", 30*time.Second, has("waiting for you"))
	ap := exec.Command(bin, "approve", "-i", "demo", "--operator", "bob")
	ap.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	if err := ap.Start(); err != nil {
		t.Fatal(err)
	}
	// The note stays until the next one (the switch's own, a second or so later): look often.
	seen := false
	for end := time.Now().Add(10 * time.Second); !seen && time.Now().Before(end); time.Sleep(40 * time.Millisecond) {
		out, _ := s.tmux("capture-pane", "-p", "-t", s.name)
		seen = strings.Contains(out, "bob approved from pid ")
	}
	if err := ap.Wait(); err != nil {
		t.Fatalf("pitstop approve from another process: %v", err)
	}
	if !seen {
		t.Errorf("the cockpit never said \"bob approved from pid …\":\n%s", s.screen())
	}

	if out, err := s.tmux("resize-window", "-t", s.name, "-x", "80", "-y", "24"); err != nil {
		t.Fatalf("resize-window: %v: %s", err, out)
	}
	scr = s.waitFor("80 columns: driver and a count of the attached", 15*time.Second, func(scr string) bool {
		header, _, _ := strings.Cut(scr, "\n")
		return strings.Contains(header, "driver tester") && strings.Contains(header, "2 attached (1 ro)")
	})
	assertScreenFits(t, scr, 80)

	st := exec.Command(bin, "status", "-i", "demo")
	st.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	out, err := st.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "on "+roTTY+" (read-only)") || strings.Count(string(out), "attached ") != 2 {
		t.Errorf("pitstop status should list both clients, the read-only one marked: %v\n%s", err, out)
	}
}
