package control

import (
	"errors"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// fakeRun is a server with an engine stand-in: a decision it accepts is answered with gate-decided.
type fakeRun struct {
	srv *Server
	mu  sync.Mutex
	got []steps.Decision
	seq int64
}

func (f *fakeRun) emit(ev steps.Event) {
	f.mu.Lock()
	f.seq++
	ev.Seq, ev.Time = f.seq, time.Now()
	f.mu.Unlock()
	f.srv.Observe(ev)
}

func startFake(t *testing.T) (*fakeRun, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "run.sock")
	f := &fakeRun{}
	srv, err := Listen(path, Info{Inventory: "inv.yaml", Plan: &steps.Plan{Name: "readonly"}, Mode: "headless", Driver: "alice", Journal: "j.jsonl"}, func(d steps.Decision) {
		f.mu.Lock()
		f.got = append(f.got, d)
		f.mu.Unlock()
		go f.emit(steps.Event{Kind: steps.EvGateDecided, StepID: d.StepID, Decision: &d})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.srv = srv
	f.emit(steps.Event{Kind: steps.EvPlanStarted})
	return f, path
}

func (f *fakeRun) openGate(step string, ready bool) {
	f.emit(steps.Event{Kind: steps.EvGateWaiting, StepID: step, Gate: &steps.GateState{StepID: step, Kind: steps.GateConfirm, Prompt: "do " + step, Ready: ready,
		Allowed:    []steps.DecisionKind{steps.Confirm, steps.Decline, steps.Skip, steps.Abort},
		Conditions: []steps.ConditionState{{Label: "lag ok", OK: ready, Value: "1 KiB"}}}})
}

func TestSocketIsPrivate(t *testing.T) {
	_, path := startFake(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %s, want a 0600 socket", fi.Mode())
	}
}

// TestTwoClientsAtOnce: two terminals ask at the same moment; one decision wins, the other is told
// the gate moved on, and status keeps answering meanwhile.
func TestTwoClientsAtOnce(t *testing.T) {
	f, path := startFake(t)
	f.openGate("switch", true)
	rep, err := Ask(path, Request{Op: "status"})
	if err != nil || !rep.OK || rep.Status.Gate == nil {
		t.Fatalf("status: %+v, %v", rep, err)
	}
	id := rep.Status.Gate.ID
	var wg sync.WaitGroup
	replies := make([]*Reply, 2)
	for i, who := range []string{"bob", "carol"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Ask(path, Request{Op: "decide", Decision: steps.Confirm, Gate: id, Operator: who, TTY: "pts/" + who})
			if err != nil {
				t.Error(err)
				return
			}
			replies[i] = r
		}()
	}
	// Status answers while the decisions wait for the engine.
	for i := 0; i < 5; i++ {
		if r, err := Ask(path, Request{Op: "status"}); err != nil || !r.OK {
			t.Fatalf("status during decisions: %+v %v", r, err)
		}
	}
	wg.Wait()
	oks := 0
	for _, r := range replies {
		if r != nil && r.OK {
			oks++
			if !strings.Contains(r.Message, "approved from pts/") {
				t.Errorf("the reply says %q", r.Message)
			}
		} else if r != nil && !strings.Contains(r.Error, "no gate is waiting") && !strings.Contains(r.Error, "first at") {
			t.Errorf("the other decision's refusal says %q", r.Error)
		}
	}
	if oks < 1 {
		t.Fatalf("no decision was taken: %+v %+v", replies[0], replies[1])
	}
	// The gate is closed now: a third decision for it is refused, saying so.
	r, err := Ask(path, Request{Op: "decide", Decision: steps.Confirm, Gate: id, Operator: "dave"})
	if err != nil || r.OK || !strings.Contains(r.Error, "no gate is waiting") {
		t.Errorf("a decision after the gate closed: %+v %v", r, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.got {
		if d.StepID != "switch" || d.From == "" || (d.By != "bob" && d.By != "carol") {
			t.Errorf("decision %+v", d)
		}
	}
}

func TestRefusals(t *testing.T) {
	f, path := startFake(t)
	decide := func(req Request) *Reply {
		t.Helper()
		req.Op = "decide"
		r, err := Ask(path, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := decide(Request{Decision: steps.Confirm, Operator: "bob"}); r.OK || !strings.Contains(r.Error, "no gate is waiting") {
		t.Errorf("no gate: %+v", r)
	}
	f.openGate("sync", false)
	if r := decide(Request{Decision: steps.Confirm, Operator: "bob"}); r.OK || !strings.Contains(r.Error, "cannot approve") || !strings.Contains(r.Error, "lag ok (now 1 KiB)") {
		t.Errorf("conditions not holding: %+v", r)
	}
	if r := decide(Request{Decision: steps.Rollback, Operator: "bob"}); r.OK || !strings.Contains(r.Error, "rollback is not possible") || !strings.Contains(r.Error, "here you can: approve, decline, skip, abort") {
		t.Errorf("a decision the gate does not allow: %+v", r)
	}
	old := f.srv.Status().Gate.ID
	f.emit(steps.Event{Kind: steps.EvGateDecided, StepID: "sync", Decision: &steps.Decision{Kind: steps.Confirm, By: "conditions"}})
	f.openGate("switch", true)
	if r := decide(Request{Decision: steps.Confirm, Gate: old, Operator: "bob"}); r.OK || !strings.Contains(r.Error, "the gate moved on") || !strings.Contains(r.Error, "switch/confirm/") {
		t.Errorf("a decision for a gate that moved on: %+v", r)
	}
	// Without --operator the kernel's word names who decided.
	r := decide(Request{Decision: steps.Decline})
	me, _ := user.Current()
	if !r.OK || r.Sent == nil || r.Sent.By != me.Username {
		t.Errorf("a decision without an operator: %+v (want by %s)", r, me.Username)
	}
	f.emit(steps.Event{Kind: steps.EvPlanFinished, Status: steps.StatusDone})
	if r := decide(Request{Decision: steps.Confirm, Operator: "bob"}); r.OK || !strings.Contains(r.Error, "the run has ended (done)") {
		t.Errorf("after the end: %+v", r)
	}
}

// TestStaleSocket: a socket file left by a run that died is replaced; one a live run answers on is not.
func TestStaleSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.sock")
	// A dead run's socket: bound, then the listener closed without removing the file.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the stale socket should exist: %v", err)
	}
	if _, err := Ask(path, Request{Op: "status"}); !errors.Is(err, ErrNoRun) {
		t.Errorf("asking a stale socket: %v, want ErrNoRun", err)
	}
	srv, err := Listen(path, Info{Inventory: "x"}, nil)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer srv.Close()
	if r, err := Ask(path, Request{Op: "status"}); err != nil || !r.OK {
		t.Fatalf("the new server does not answer: %+v %v", r, err)
	}
	if _, err := Listen(path, Info{Inventory: "x"}, nil); !errors.Is(err, ErrInUse) {
		t.Errorf("a second run on a live socket: %v, want ErrInUse", err)
	}
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o600)
	if _, err := Listen(filepath.Join(dir, "file"), Info{}, nil); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("a regular file in the way: %v", err)
	}
	srv.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close leaves the socket file: %v", err)
	}
}

func TestSocketPath(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	a, err := SocketPath("demo")
	if err != nil || a != filepath.Join(rt, "pitstop", "demo.sock") {
		t.Errorf("demo: %s %v", a, err)
	}
	b, _ := SocketPath("/srv/a/shop.yaml")
	c, _ := SocketPath("/srv/b/shop.yaml")
	if b == c || !strings.HasPrefix(filepath.Base(b), "shop-") {
		t.Errorf("two inventories named shop: %s and %s", b, c)
	}
	if fi, _ := os.Stat(filepath.Join(rt, "pitstop")); fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %s", fi.Mode().Perm())
	}
	os.Chmod(filepath.Join(rt, "pitstop"), 0o755)
	if _, err := SocketPath("demo"); err == nil || !strings.Contains(err.Error(), "open to other users") {
		t.Errorf("a directory open to others: %v", err)
	}
}

func TestParseClients(t *testing.T) {
	got := parseClients("alice\t/dev/pts/1\t0\nbob\t/dev/pts/3\t1\n")
	if len(got) != 2 || got[1] != (Client{User: "bob", TTY: "pts/3", ReadOnly: true}) || got[0].ReadOnly {
		t.Errorf("parseClients = %+v", got)
	}
}

// TestNoSIGPIPEWhenAClientLeaves: a client that leaves before its answer (or a liveness check that
// only connects) must not raise SIGPIPE in the run: runs treat SIGPIPE as their output gone.
func TestNoSIGPIPEWhenAClientLeaves(t *testing.T) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	f, path := startFake(t)
	f.openGate("switch", false)
	for i := 0; i < 20; i++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			c.Write([]byte(`{"op":"status"}` + "\n")) // asks, then leaves before the answer
		}
		c.Close()
	}
	if _, err := Listen(path, Info{}, nil); !errors.Is(err, ErrInUse) {
		t.Fatalf("liveness check: %v", err)
	}
	if r, err := Ask(path, Request{Op: "status"}); err != nil || !r.OK {
		t.Fatalf("status after: %v", err)
	}
	select {
	case <-sigs:
		t.Fatal("SIGPIPE raised by the server")
	case <-time.After(300 * time.Millisecond):
	}
}
