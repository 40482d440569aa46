package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// ErrInUse is returned by Listen when another run of the same inventory answers on the socket.
var ErrInUse = errors.New("another pitstop run of this inventory is listening")

// Info describes the run a server serves.
type Info struct {
	Inventory string
	Plan      *steps.Plan
	Mode      string
	Driver    string
	Journal   string
	// Attached lists the terminals watching the cockpit (nil: none known).
	Attached func() []Client
}

// AnswerTimeout bounds how long a decision waits for the engine's answer before the reply says it
// was sent but not yet answered.
const AnswerTimeout = 10 * time.Second

// Server serves one run's socket.
type Server struct {
	path   string
	ln     *net.UnixListener
	info   Info
	decide func(steps.Decision)
	titles map[string]string
	wg     sync.WaitGroup

	mu      sync.Mutex
	st      Status
	started time.Time
	gateSeq int64 // the Seq of the event that opened the gate waiting now
	waiters map[chan steps.Event]struct{}
}

// Listen creates the socket at path (mode 0600) and serves it until Close. A socket file left by a
// run that died is replaced; one a live run answers on is not (ErrInUse). decide receives every
// decision that passed the server's checks; it must not block (steps.Engine.Decide does not).
func Listen(path string, info Info, decide func(steps.Decision)) (*Server, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control: %s exists and is not a socket; remove it", path)
		}
		c, derr := net.DialTimeout("unix", path, time.Second)
		if derr == nil {
			c.Close()
			return nil, fmt.Errorf("%w on %s: pitstop status -i %s shows it", ErrInUse, path, info.Inventory)
		}
		// Nobody answers: a run that died left it behind.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control: remove the stale socket %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control: listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: chmod %s: %w", path, err)
	}
	s := &Server{path: path, ln: ln, info: info, decide: decide, titles: map[string]string{}, waiters: map[chan steps.Event]struct{}{}}
	if info.Plan != nil {
		for _, st := range info.Plan.Steps() {
			s.titles[st.ID] = st.Title
		}
		s.st.Plan = info.Plan.Name
	}
	s.st.Inventory, s.st.Mode, s.st.Driver, s.st.Journal, s.st.PID = info.Inventory, info.Mode, info.Driver, info.Journal, os.Getpid()
	s.st.State = "starting"
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Path is the socket's path.
func (s *Server) Path() string {
	if s == nil {
		return ""
	}
	return s.path
}

// SetDecider sets where decisions go, for a run whose engine is built after the server.
func (s *Server) SetDecider(decide func(steps.Decision)) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.decide = decide
	s.mu.Unlock()
}

// Close stops serving and removes the socket.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) serve() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.handle(c)
		}()
	}
}

func (s *Server) handle(c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(AnswerTimeout + 5*time.Second))
	var req Request
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if len(line) == 0 {
		return // a liveness check (Listen of a second run) or a client gone: nobody to answer
	}
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	var rep Reply
	switch {
	case err != nil:
		rep = Reply{Error: "bad request: " + err.Error()}
	case req.Op == "status":
		st := s.Status()
		rep = Reply{OK: true, Status: &st}
	case req.Op == "decide":
		rep = s.decideFor(req, peerOf(c))
	default:
		rep = Reply{Error: fmt.Sprintf("unknown op %q: status or decide", req.Op)}
	}
	b, _ := json.Marshal(rep)
	sendNoSignal(c, append(b, '\n'))
}

// sendNoSignal writes b to c with MSG_NOSIGNAL: a client that went away must not raise SIGPIPE in
// the run, which treats SIGPIPE as its own output gone and halts (Go delivers SIGPIPE for every
// descriptor once a program asks for it).
func sendNoSignal(c *net.UnixConn, b []byte) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = raw.Write(func(fd uintptr) bool {
		for len(b) > 0 {
			n, e := syscall.SendmsgN(int(fd), b, nil, nil, syscall.MSG_NOSIGNAL)
			if e == syscall.EAGAIN {
				return false // wait until writable
			}
			if e != nil {
				werr = e
				return true
			}
			b = b[n:]
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}

// peer is who is on the other end of a connection.
type peer struct {
	user string
	pid  int
}

// peerOf reads the peer's credentials (SO_PEERCRED): the kernel's word, not the client's.
func peerOf(c *net.UnixConn) peer {
	var p peer
	raw, err := c.SyscallConn()
	if err != nil {
		return p
	}
	var cred *syscall.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil || cred == nil {
		return p
	}
	p.pid = int(cred.Pid)
	p.user = "uid " + strconv.Itoa(int(cred.Uid))
	if u, err := user.LookupId(strconv.Itoa(int(cred.Uid))); err == nil {
		p.user = u.Username
	}
	return p
}

// ttyOf is the terminal of process pid (its standard input), e.g. "pts/3", or "".
func ttyOf(pid int) string {
	if pid <= 0 {
		return ""
	}
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid))
	if err != nil || !strings.HasPrefix(l, "/dev/") || l == "/dev/null" {
		return ""
	}
	return strings.TrimPrefix(l, "/dev/")
}

func (s *Server) decideFor(req Request, p peer) Reply {
	s.mu.Lock()
	st := s.st
	var g Gate
	if st.Gate != nil {
		g = *st.Gate
	}
	decide := s.decide
	s.mu.Unlock()
	switch {
	case st.Gate == nil && isEnd(st.State):
		return Reply{Error: fmt.Sprintf("the run has ended (%s): there is no gate to decide", st.State)}
	case st.Gate == nil:
		where := "starting"
		if st.Step != nil {
			where = fmt.Sprintf("at step %s (%s)", st.Step.ID, st.Step.Status)
		}
		return Reply{Error: "no gate is waiting now: the run is " + where + "; pitstop status shows when one does"}
	case req.Gate != "" && req.Gate != g.ID:
		return Reply{Error: fmt.Sprintf("the gate moved on: you decided for %s, the run now waits at %s (%s); check pitstop status and decide again", req.Gate, g.ID, g.Prompt)}
	case decide == nil:
		return Reply{Error: "the run takes no decisions yet"}
	}
	gs := steps.GateState{Allowed: g.Allowed}
	if !gs.Allows(req.Decision) {
		var can []string
		for _, k := range g.Allowed {
			can = append(can, Command(k))
		}
		return Reply{Error: fmt.Sprintf("%s is not possible at gate %s (%s); here you can: %s", Command(req.Decision), g.ID, g.Prompt, strings.Join(can, ", "))}
	}
	if req.Decision == steps.Confirm && !g.Ready {
		var unmet []string
		for _, c := range g.Conditions {
			if !c.OK {
				unmet = append(unmet, c.Label+" (now "+c.Value+")")
			}
		}
		return Reply{Error: fmt.Sprintf("cannot approve %s yet: not holding: %s", g.ID, strings.Join(unmet, "; "))}
	}
	by := strings.TrimSpace(req.Operator)
	if by == "" {
		by = p.user
	}
	if by == "" {
		return Reply{Error: "cannot tell who you are: pass --operator NAME"}
	}
	from := req.TTY
	if from == "" {
		from = ttyOf(p.pid)
	}
	if from == "" && p.pid > 0 {
		from = "pid " + strconv.Itoa(p.pid)
	}
	d := steps.Decision{Kind: req.Decision, By: by, From: from, StepID: g.Step, Force: req.Force}

	ch := make(chan steps.Event, 64)
	s.mu.Lock()
	s.waiters[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, ch)
		s.mu.Unlock()
	}()
	decide(d)
	ctx, cancel := context.WithTimeout(context.Background(), AnswerTimeout)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return Reply{OK: true, Sent: &d, Message: fmt.Sprintf("sent %s for %s; the engine has not answered within %s (pitstop status shows what happened)", d.Kind, g.ID, AnswerTimeout)}
		case ev := <-ch:
			if ev.StepID != g.Step {
				continue
			}
			switch ev.Kind {
			case steps.EvGateDecided:
				if ev.Decision != nil && ev.Decision.By == by && ev.Decision.Kind == d.Kind {
					return Reply{OK: true, Sent: &d, Message: fmt.Sprintf("%s at %s: %s", ev.Decision.Past(), g.ID, g.Prompt)}
				}
				if ev.Decision != nil && ev.Decision.Kind != steps.Decline {
					return Reply{Error: fmt.Sprintf("%s first at %s: your %s was not taken", ev.Decision.Past(), g.ID, d.Kind)}
				}
			case steps.EvNotice:
				return Reply{Error: "the engine did not take it: " + ev.Text}
			case steps.EvRollbackAsk:
				return Reply{Error: "the engine asks before rolling back: " + ev.Text + " — send pitstop rollback --force to roll back anyway"}
			case steps.EvPlanFinished:
				return Reply{Error: "the run ended before taking it: " + ev.Text}
			}
		}
	}
}

// Command is the pitstop command that sends decision k: approve for confirm, else its own name.
func Command(k steps.DecisionKind) string {
	if k == steps.Confirm {
		return "approve"
	}
	return string(k)
}

func isEnd(state string) bool {
	return state == string(steps.StatusDone) || state == string(steps.StatusFailed) || state == string(steps.StatusAborted)
}

// Status is the run's status now.
func (s *Server) Status() Status {
	s.mu.Lock()
	st := s.st
	if !s.started.IsZero() {
		st.Elapsed = st.Updated.Sub(s.started).Seconds()
	}
	if st.Gate != nil {
		g := *st.Gate
		st.Gate = &g
	}
	s.mu.Unlock()
	if s.info.Attached != nil {
		st.Attached = s.info.Attached()
	}
	if st.Attached == nil {
		st.Attached = []Client{}
	}
	if st.Lags == nil {
		st.Lags = []Lag{}
	}
	return st
}

// Observe takes one engine event; pass every event, in order. A nil server ignores it, as the other
// methods do nothing on nil: a run that could not listen goes on without.
func (s *Server) Observe(ev steps.Event) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	st.Updated = ev.Time
	switch ev.Kind {
	case steps.EvPlanStarted:
		s.started = ev.Time
		st.State = "running"
	case steps.EvPhaseStarted:
		st.Phase = ev.Phase
	case steps.EvStepStarted:
		st.Step = &StepState{ID: ev.StepID, Title: s.titles[ev.StepID], Status: ev.Status}
	case steps.EvStepFinished:
		if st.Step != nil && st.Step.ID == ev.StepID {
			st.Step.Status = ev.Status
		}
	case steps.EvGateWaiting:
		g := ev.Gate
		if st.Gate == nil || st.Gate.Step != g.StepID || st.Gate.Kind != g.Kind {
			s.gateSeq = ev.Seq
			st.Gate = &Gate{ID: fmt.Sprintf("%s/%s/%d", g.StepID, g.Kind, ev.Seq), Step: g.StepID, Kind: g.Kind, Since: ev.Time}
		}
		cur := st.Gate
		cur.Prompt, cur.Ready, cur.Allowed, cur.Declined, cur.Reason = g.Prompt, g.Ready, g.Allowed, g.Declined, g.Reason
		cur.Changes = append([]string{}, g.Changes...)
		cur.Conditions = []Condition{}
		for _, c := range g.Conditions {
			cur.Conditions = append(cur.Conditions, Condition{Label: c.Label, OK: c.OK, Value: c.Value})
		}
		cur.Deadline = nil
		if !g.Deadline.IsZero() {
			d := g.Deadline
			cur.Deadline = &d
		}
		st.State = "waiting"
		if st.Step == nil || st.Step.ID != g.StepID {
			st.Step = &StepState{ID: g.StepID, Title: s.titles[g.StepID], Status: steps.StatusWaiting}
		}
	case steps.EvGateDecided:
		if ev.Decision != nil && ev.Decision.Kind != steps.Decline && st.Gate != nil && st.Gate.Step == ev.StepID {
			st.Gate = nil
			st.State = "running"
		}
	case steps.EvRollbackAsk:
		if st.Gate != nil {
			st.Gate.RollbackAsk = ev.Text
		}
	case steps.EvRolledBack:
		if st.Gate != nil {
			st.Gate.RollbackAsk = ""
		}
	case steps.EvReadings:
		if r := ev.Readings; r != nil {
			st.Live = string(r.Live)
			p := r.Probe
			st.Users = &Users{Success: p.Success(), Requests: p.Requests, Failed: p.Failed, P50ms: ms(p.P50), P99ms: ms(p.P99),
				ServedBy: p.LastUpstream, Version: p.Version, Refused: p.WritesRefused}
			st.Lags = st.Lags[:0:0]
			for _, l := range r.Lags {
				st.Lags = append(st.Lags, Lag{Link: l.Link(), Replay: l.Replay, Streaming: l.Streaming, Paused: l.Paused})
			}
		}
	case steps.EvPlanFinished:
		st.State = string(ev.Status)
		st.Gate = nil
	}
	for ch := range s.waiters {
		select {
		case ch <- ev:
		default:
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
