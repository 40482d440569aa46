package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Exit codes of a run ended by a signal: 128 + the signal's number, as a shell reports it.
const (
	exitSIGINT  = 130
	exitSIGTERM = 143
)

// runSignals is what a run does about signals. SIGINT and SIGTERM cancel ctx: the running step is
// stopped (its commands killed) and the run ends. SIGHUP (the terminal or the SSH session to this
// machine was lost) and a broken output pipe never cut a step: they halt the run at its next gate.
// Without this, SIGHUP killed the process mid-step and a broken stdout pipe did too.
//
// SIGPIPE itself is ignored, not watched: once a Go program asks for SIGPIPE, a write to ANY broken
// socket raises it — a probe's keep-alive connection that nginx closed at a reload would then halt the
// run. Ignored, such a write fails with EPIPE where it happens; the run's own output reports a broken
// pipe through brokenOutput, which halts the run.
type runSignals struct {
	ctx    context.Context
	cancel context.CancelFunc
	halt   *steps.Halter
	ch     chan os.Signal

	mu  sync.Mutex
	got os.Signal // the signal that cancelled ctx
}

// watchSignals starts handling signals for one run; call stop when the run has ended.
func watchSignals() *runSignals {
	ctx, cancel := context.WithCancel(context.Background())
	s := &runSignals{ctx: ctx, cancel: cancel, halt: steps.NewHalter(), ch: make(chan os.Signal, 8)}
	signal.Ignore(syscall.SIGPIPE)
	signal.Notify(s.ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for sig := range s.ch {
			switch sig {
			case syscall.SIGHUP:
				s.halt.Halt("SIGHUP: the terminal or the SSH session to this machine was lost")
			default:
				s.mu.Lock()
				if s.got == nil {
					s.got = sig
				}
				s.mu.Unlock()
				cancel()
			}
		}
	}()
	return s
}

// stop ends the signal handling.
func (s *runSignals) stop() {
	signal.Stop(s.ch)
	close(s.ch)
	s.cancel()
}

// signal is the signal that cancelled the run, or nil.
func (s *runSignals) signal() os.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

// exitCode is 130 or 143 after SIGINT or SIGTERM, else code.
func (s *runSignals) exitCode(code int) int {
	switch s.signal() {
	case os.Interrupt:
		return exitSIGINT
	case syscall.SIGTERM:
		return exitSIGTERM
	}
	return code
}

// signalName names a signal as operators know it.
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// tracker follows the events of a run for its last line: which step ran or waited when it ended.
type tracker struct {
	plan *steps.Plan

	mu      sync.Mutex
	step    string // the step running or waiting at its gate
	running bool   // it runs, or it was stopped while it ran
}

// see notes one event.
func (t *tracker) see(ev steps.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev.Kind {
	case steps.EvStepStarted:
		t.step, t.running = ev.StepID, ev.Status == steps.StatusRunning
	case steps.EvStepFinished:
		t.running = ev.Status == steps.StatusAborted // cut while it ran
	}
}

// where says where the run was: `step "x" (Title) while it ran` or `at the gate of step "x" (Title)`.
func (t *tracker) where() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.step == "" {
		return "before its first step"
	}
	title := t.step
	if st := t.plan.Step(t.step); st != nil {
		title = st.Title
	}
	if t.running {
		return fmt.Sprintf("while step %q (%s) ran", t.step, title)
	}
	return fmt.Sprintf("at the gate of step %q (%s), before it ran", t.step, title)
}

// lastLine is the line a run that did not finish ends with: what stopped it, where, and what to do.
// It returns "" for a run that was not stopped by a signal or a halt.
func lastLine(inv *inventory.Inventory, sig *runSignals, tr *tracker, runErr error) string {
	var he *steps.HaltError
	switch {
	case sig.signal() != nil:
		what := tr.where()
		if tr.running {
			what += ": its running commands were stopped and may be half-done"
		}
		return fmt.Sprintf("pitstop: interrupted by %s %s; %s", signalName(sig.signal()), what, afterwards(inv))
	case errors.As(runErr, &he):
		return fmt.Sprintf("pitstop: %s; the step before it finished, so nothing is half-done; %s", he.Error(), afterwards(inv))
	}
	return ""
}

// afterwards says how to go on after a run that stopped half-way.
func afterwards(inv *inventory.Inventory) string {
	if invArg(inv) == "demo" {
		return "the next: lines above say what is left as it is (the demo's world is simulated and starts afresh: pitstop demo runs it again)"
	}
	return fmt.Sprintf("the next: lines above say what is left as it is; pitstop run -i %s resumes it where it stopped", invArg(inv))
}

// invArg is the inventory as the operator passes it to -i.
func invArg(inv *inventory.Inventory) string {
	if inv.Source == "" || inv.Source == "demo" {
		return "demo"
	}
	return inv.Source
}

// journalDir is where runs keep their journals by default: $XDG_STATE_HOME/pitstop/journal, or
// ~/.local/state/pitstop/journal.
func journalDir() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "pitstop", "journal")
}

// defaultJournal is a journal path of its own for a command that records a few lines (a forced
// pitstop switch): in the journal directory, named like a run's journal.
func defaultJournal(inv, plan string) string {
	return filepath.Join(journalDir(), fmt.Sprintf("%s-%s-%s-%d.jsonl", fileSafe(inv), plan, time.Now().Format("20060102T150405"), os.Getpid()))
}

// openJournal opens the run's journal: the file --journal names (appended to), or a new file with a
// name no other run has in the journal directory. It writes the journal's first line and fsyncs it:
// a run whose journal cannot be written does not start. created reports whether the file is new.
//
// The header carries the run's ID (see session.runID): a new one, or, when resuming, the ID of the run
// the journal's last header names, so the resumed run re-attaches to that run's commands.
func openJournal(inv *inventory.Inventory, plan string, path string, resuming bool) (j *steps.Journal, created bool, err error) {
	run := hex.EncodeToString(randomBytes(8))
	if resuming {
		if info, ierr := readJournalInfo(path); ierr == nil && info.last.Run != "" {
			run = info.last.Run
		}
	}
	if path == "" {
		j, err = steps.CreateJournal(journalDir(), fileSafe(inv.Name)+"-"+plan, time.Now())
		created = err == nil
	} else {
		j, created, err = steps.OpenJournal(path)
	}
	if err != nil {
		return nil, false, err
	}
	src := invArg(inv)
	if src != "demo" {
		if abs, aerr := filepath.Abs(src); aerr == nil {
			src = abs
		}
	}
	if err := j.Begin(steps.JournalHeader{Plan: plan, Inventory: src, Text: "pitstop " + version, Run: run}); err != nil {
		j.Close()
		if created {
			os.Remove(j.Path())
		}
		return nil, false, err
	}
	return j, created, nil
}

// runID names this run's directory of detached commands on each host (see remote.RunDetached): the
// journal's file name, unique per run, so a journal leads to the commands' output and status.
//
// The name alone is not enough: `--journal run.jsonl` in another directory, a rerun given the same name,
// or a new run appended to an old journal would find an earlier run's directory on the host and take
// its finished commands for its own (re-attaching instead of running them). So the ID adds the run's
// own ID from its journal header: new for every run, kept by a resumed run.
func (s *session) runID() string {
	return strings.TrimSuffix(filepath.Base(s.journal.Path()), ".jsonl") + "-" + s.journal.Header().Run
}

// randomBytes returns n random bytes (zeros if the system has none to give).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// printLast writes the last line, if any.
func printLast(w io.Writer, line string) {
	if line != "" {
		fmt.Fprintln(w, line)
	}
}

// brokenOutput wraps the run's output: the first write that fails because the reader went away (a
// `| tee` that died) halts the run at its next gate, as SIGHUP does.
type brokenOutput struct {
	w    io.Writer
	halt *steps.Halter
	once sync.Once
}

func (b *brokenOutput) Write(p []byte) (int, error) {
	n, err := b.w.Write(p)
	if err != nil && errors.Is(err, syscall.EPIPE) {
		b.once.Do(func() { b.halt.Halt("the run's output went away (broken pipe)") })
	}
	return n, err
}
