package control

import (
	"fmt"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// Status is where a running plan is, as `pitstop status --json` prints it. Field names are stable
// and documented in docs/pairing-and-scripting.md.
type Status struct {
	Inventory string `json:"inventory"`
	Plan      string `json:"plan"`
	// Mode is cockpit, headless (waits for decisions sent here) or auto-approve.
	Mode    string `json:"mode"`
	Driver  string `json:"driver"`
	Journal string `json:"journal"`
	PID     int    `json:"pid"`
	// State is running, waiting (at a gate), done, failed or aborted.
	State   string     `json:"state"`
	Phase   string     `json:"phase"`
	Step    *StepState `json:"step"`
	Gate    *Gate      `json:"gate"`
	Live    string     `json:"live"`
	Users   *Users     `json:"users"`
	Lags    []Lag      `json:"lags"`
	Elapsed float64    `json:"elapsed_seconds"`
	// Attached lists the terminals attached to the cockpit's tmux session.
	Attached []Client `json:"attached"`
	// Updated is the time of the newest event.
	Updated time.Time `json:"updated"`
}

// StepState is the current step.
type StepState struct {
	ID     string       `json:"id"`
	Title  string       `json:"title"`
	Status steps.Status `json:"status"`
}

// Gate is the gate waiting now. ID names this one wait: a decision sent for another ID is refused,
// so a decision meant for a gate that moved on never lands on the next one.
type Gate struct {
	ID         string               `json:"id"`
	Step       string               `json:"step"`
	Kind       steps.GateKind       `json:"kind"`
	Prompt     string               `json:"prompt"`
	Ready      bool                 `json:"ready"`
	Allowed    []steps.DecisionKind `json:"allowed"`
	Declined   bool                 `json:"declined"`
	Reason     string               `json:"reason"`
	Changes    []string             `json:"changes"`
	Conditions []Condition          `json:"conditions"`
	Since      time.Time            `json:"since"`
	Deadline   *time.Time           `json:"deadline"`
	// RollbackAsk is set when the engine asks before a rollback: send rollback --force to go on.
	RollbackAsk string `json:"rollback_ask"`
}

// Condition is one condition of the gate with its value now.
type Condition struct {
	Label string `json:"label"`
	OK    bool   `json:"ok"`
	Value string `json:"value"`
}

// Users is what the probe sees.
type Users struct {
	Success  float64 `json:"success_percent"`
	Requests int     `json:"requests"`
	Failed   int     `json:"failed"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	ServedBy string  `json:"served_by"`
	Version  string  `json:"version"`
	Refused  int     `json:"writes_refused"`
}

// Lag is one replication link.
type Lag struct {
	Link      string `json:"link"`
	Replay    int64  `json:"replay_bytes"`
	Streaming bool   `json:"streaming"`
	Paused    bool   `json:"paused"`
}

// Client is a terminal attached to the cockpit's tmux session.
type Client struct {
	User     string `json:"user"`
	TTY      string `json:"tty"`
	ReadOnly bool   `json:"readonly"`
}

// Request is what a client sends: one per connection.
type Request struct {
	// Op is "status" or "decide".
	Op string `json:"op"`
	// Decision, Gate, Operator, TTY and Force are for "decide". Gate is the gate's ID the decision is
	// meant for ("" for whatever gate waits now).
	Decision steps.DecisionKind `json:"decision,omitempty"`
	Gate     string             `json:"gate,omitempty"`
	Operator string             `json:"operator,omitempty"`
	TTY      string             `json:"tty,omitempty"`
	Force    bool               `json:"force,omitempty"`
}

// Reply is the server's answer.
type Reply struct {
	OK      bool            `json:"ok"`
	Error   string          `json:"error,omitempty"`
	Message string          `json:"message,omitempty"`
	Status  *Status         `json:"status,omitempty"`
	Sent    *steps.Decision `json:"decision,omitempty"`
}

// Text is the status in a few lines for people.
func (s *Status) Text() string {
	out := fmt.Sprintf("%s plan on %s (%s, pid %d), driver %s: %s, %s into the run\n", s.Plan, s.Inventory, s.Mode, s.PID, s.Driver, s.State, (time.Duration(s.Elapsed) * time.Second).String())
	if s.Step != nil {
		out += fmt.Sprintf("step   %s: %s (%s)\n", s.Step.ID, s.Step.Title, s.Step.Status)
	}
	if g := s.Gate; g != nil {
		ready := "conditions not holding yet"
		if g.Ready {
			ready = "ready"
		}
		var can []string
		for _, k := range g.Allowed {
			can = append(can, Command(k))
		}
		out += fmt.Sprintf("gate   %s (%s): %s — %s; you can: %s\n", g.ID, g.Kind, g.Prompt, ready, strings.Join(can, ", "))
		if g.Reason != "" {
			out += "       why: " + g.Reason + "\n"
		}
		for _, c := range g.Conditions {
			mark := "✗"
			if c.OK {
				mark = "✓"
			}
			out += fmt.Sprintf("       %s %s: %s\n", mark, c.Label, c.Value)
		}
		if g.RollbackAsk != "" {
			out += "       the engine asks before rolling back: " + g.RollbackAsk + "\n"
		}
	} else {
		out += "gate   none waiting\n"
	}
	out += "live   " + s.Live + "\n"
	if u := s.Users; u != nil {
		out += fmt.Sprintf("users  %.1f%% of %d, p50 %.0f ms, p99 %.0f ms, served by %s\n", u.Success, u.Requests, u.P50ms, u.P99ms, u.ServedBy)
	}
	for _, l := range s.Lags {
		st := steps.Bytes(l.Replay) + " behind"
		if !l.Streaming {
			st = "NOT streaming"
		}
		if l.Paused {
			st += " (paused)"
		}
		out += fmt.Sprintf("lag    %s %s\n", l.Link, st)
	}
	for _, c := range s.Attached {
		ro := ""
		if c.ReadOnly {
			ro = " (read-only)"
		}
		out += fmt.Sprintf("attached %s on %s%s\n", c.User, c.TTY, ro)
	}
	out += "journal " + s.Journal + "\n"
	return out
}
