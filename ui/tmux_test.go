package ui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/pitstop-ops/pitstop/internal/testenv"
)

// tmuxSession drives the real pitstop binary in a detached tmux session on a private server socket,
// so the test never touches anyone else's tmux.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

func (s *tmuxSession) screen() string {
	s.t.Helper()
	out, err := s.tmux("capture-pane", "-p", "-t", s.name)
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v: %s", err, out)
	}
	return out
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys %v: %v: %s", keys, err, out)
	}
}

// waitFor polls the screen until ok accepts it, pressing act (when set) between polls; it fails
// with the last screen after timeout.
func (s *tmuxSession) waitFor(what string, timeout time.Duration, ok func(string) bool, act ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		scr := s.screen()
		if ok(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waited %s for %s; the screen shows:\n%s", timeout, what, scr)
		}
		if len(act) > 0 {
			s.keys(act...)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// shot saves scr as NAME.txt under $UI_SCREENSHOTS, when set (the screens in docs/cockpit.md).
func (s *tmuxSession) shot(name, scr string) {
	if dir := os.Getenv("UI_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(scr), 0o644); err != nil {
			s.t.Errorf("saving screenshot %s: %v", name, err)
		}
	}
}

func has(subs ...string) func(string) bool {
	return func(scr string) bool {
		for _, s := range subs {
			if !strings.Contains(scr, s) {
				return false
			}
		}
		return true
	}
}

// liveSide reads which side the topology labels LIVE.
func liveSide(scr string) string {
	switch {
	case strings.Contains(scr, "▶ PRODUCTION · LIVE"):
		return "production"
	case strings.Contains(scr, "▶ BACKUP · LIVE"):
		return "backup"
	}
	return ""
}

// columnRows counts the lines with the two-column layout's separator "│" at cell 31, where a 100-column
// screen draws it (the plan takes 30 cells, then " │ "). Only that layout puts it there.
func columnRows(scr string) int {
	n := 0
	for _, l := range strings.Split(scr, "\n") {
		if r := []rune(l); len(r) > 31 && r[31] == '│' && r[30] == ' ' {
			n++
		}
	}
	return n
}

func assertScreenFits(t *testing.T, scr string, w int) {
	t.Helper()
	for i, l := range strings.Split(strings.TrimRight(scr, "\n"), "\n") {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("screen line %d is %d cells wide, more than %d: %q", i+1, n, w, l)
		}
	}
}

// TestDemoInTmux builds pitstop and runs `pitstop demo` in tmux through a whole plan: it confirms
// gates with y, rolls back once with R after the switch and redoes the switch with y, resizes the
// window, and checks at each point what the screen shows.
func TestDemoInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a whole demo plan (~1 min); skipped with -short")
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

	s := &tmuxSession{t: t, socket: fmt.Sprintf("pitstop-uitest-%d", os.Getpid()), name: "demo"}
	t.Cleanup(func() { _, _ = s.tmux("kill-server") })
	journal := filepath.Join(dir, "journal.jsonl")
	cmd := fmt.Sprintf("%s demo --speed 8 --seed 7 --operator tester --journal %s; echo PITSTOP-EXITED $?; sleep 600", bin, journal)
	if out, err := s.tmux("new-session", "-d", "-x", "100", "-y", "30", "-s", s.name, cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}

	// 1. The first gate that changes something: the switch to backup, with its upstream diff.
	scr := s.waitFor("the switch gate", 60*time.Second, has("GATE", "confirming will change", "[y/enter] confirm"))
	if liveSide(scr) != "production" || !strings.Contains(scr, "DEMO") || !strings.Contains(scr, "driver tester") {
		t.Fatalf("before the switch the screen should say DEMO, driver tester and PRODUCTION · LIVE:\n%s", scr)
	}
	assertScreenFits(t, scr, 100)
	if n := columnRows(scr); n < 20 {
		t.Fatalf("at 100x30 the plan and the gate should share rows in two columns; %d rows do:\n%s", n, scr)
	}
	for _, want := range []string{"Sync lag", "Users  on PRODUCTION"} {
		if !strings.Contains(scr, want) {
			t.Errorf("the switch gate at 100x30 hides %q:\n%s", want, scr)
		}
	}
	s.shot("1-switch-gate", scr)

	// 2. Confirm: traffic moves to backup and the LIVE label with it.
	s.keys("y")
	scr = s.waitFor("LIVE on backup", 30*time.Second, func(scr string) bool { return liveSide(scr) == "backup" })
	s.shot("2-live-on-backup", scr)

	// 3. Right after the switch, roll back with one key (pressed again should it land between two
	// steps, where nothing takes it); if the engine asks (backup unhealthy), force it. From the key on,
	// every screen shows the engine's state: never a key echoed as if it had acted.
	s.keys("R")
	var rolling bool
	deadline, pressed := time.Now().Add(30*time.Second), time.Now()
	for {
		scr = s.screen()
		for _, echo := range []string{"confirm (sent", "(sent;", "decline (sent"} {
			if strings.Contains(scr, echo) {
				t.Fatalf("after R the screen echoes the key as if it had acted (%q):\n%s", echo, scr)
			}
		}
		rolling = rolling || strings.Contains(scr, "ROLLING BACK")
		if strings.Contains(scr, "ROLLED BACK") && liveSide(scr) == "production" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for the rolled-back gate after R; the screen shows:\n%s", scr)
		}
		switch {
		case strings.Contains(scr, "Roll back anyway?"):
			s.keys("y")
		case !strings.Contains(scr, "ROLLING BACK") && strings.Contains(scr, "[R] roll back") && time.Since(pressed) > time.Second:
			s.shot("3-gate-with-rollback", scr)
			s.keys("R")
			pressed = time.Now()
		}
		time.Sleep(40 * time.Millisecond)
	}
	t.Logf("the rollback in progress was on screen in a capture: %v", rolling)
	if !strings.Contains(scr, "↺") && !strings.Contains(scr, "rolled back") {
		t.Errorf("after the rollback nothing on screen says the switch was rolled back:\n%s", scr)
	}
	s.shot("4-rolled-back", scr)
	if !strings.Contains(scr, "[y/enter] redo the switch") {
		t.Errorf("the rolled-back gate should offer to redo the switch:\n%s", scr)
	}

	// 4. Redo the switch.
	s.keys("y")
	s.waitFor("LIVE on backup again", 30*time.Second, func(scr string) bool { return liveSide(scr) == "backup" })

	// 5. Shrink the window: the screen re-lays out at once to 80x24.
	if out, err := s.tmux("resize-window", "-t", s.name, "-x", "80", "-y", "24"); err != nil {
		t.Fatalf("tmux resize-window: %v: %s", err, out)
	}
	// Only the narrow layout has one column (no separator where the 100-column screen had it) and
	// the short header, which still says "driver tester".
	scr = s.waitFor("the 80x24 layout", 10*time.Second, func(scr string) bool {
		header, _, _ := strings.Cut(scr, "\n")
		return columnRows(scr) == 0 && strings.Contains(header, "DEMO") && strings.HasSuffix(strings.TrimSpace(header), "driver tester") &&
			!strings.Contains(header, "plan readonly") && liveSide(scr) != ""
	})
	assertScreenFits(t, scr, 80)
	s.shot("5-resized-80x24", scr)

	// 6. Confirm every remaining gate until the plan ends (y does nothing where nothing waits).
	scr = s.waitFor("the end of the plan", 120*time.Second, has("PLAN FINISHED"), "y")
	for _, want := range []string{"total ", "users saw", "traffic on PRODUCTION", "press q to quit", "FINISHED"} {
		if !strings.Contains(scr, want) {
			t.Errorf("the finished screen lacks %q:\n%s", want, scr)
		}
	}
	if liveSide(scr) != "production" {
		t.Errorf("after the plan, LIVE should be on production:\n%s", scr)
	}
	assertScreenFits(t, scr, 80)
	s.shot("6-finished-80x24", scr)

	// 7. q quits at once when the plan is over, and the terminal is given back.
	s.keys("q")
	scr = s.waitFor("pitstop to exit", 15*time.Second, has("PITSTOP-EXITED 0"))
	if !strings.Contains(scr, "journal: "+journal) {
		t.Errorf("after quitting, pitstop should print its journal's path on the normal screen:\n%s", scr)
	}
}
