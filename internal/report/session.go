// Package report turns a run's journal into a report to send to the team: one self-contained HTML
// file (inline SVG charts and CSS, nothing fetched) or Markdown with the charts as SVG files. It reads
// only the journal's events (steps.Event); an inventory, when given, names the side behind each
// upstream address.
package report

import (
	"sort"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Session is what a journal says about one run, ready to render.
type Session struct {
	Title    string // e.g. "readonly plan on shop"
	Plan     string
	Journal  string
	Start    time.Time
	End      time.Time
	Status   steps.Status // "" when the journal ends before the plan did
	Summary  *steps.Summary
	FinalErr string

	Phases   []Span
	Gates    []Gate
	Steps    []StepRun
	Commands []Command
	Events   []Note // switches, rollbacks, notices

	// Samples are the readings, in order.
	Samples []Sample
	// Links lists every replication link seen, in order of first appearance.
	Links []string
	// Refused are the windows in which the probe saw writes refused.
	Refused []Span
	// RefusedWrites counts the refused writes of the probe.
	RefusedWrites int
	lastRefused   int
	refusing      bool // no write went through since the last refusal
	// Fenced is the window in which a database was fenced read-only by the plan (fence → unfence).
	Fenced []Span
}

// Span is a named interval.
type Span struct {
	Name       string
	Start, End time.Time
}

// Duration is End-Start.
func (s Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// Gate is one wait at a gate: when it opened, what was decided, by whom and when.
type Gate struct {
	Step     string
	Kind     steps.GateKind
	Prompt   string
	Opened   time.Time
	Decided  time.Time // zero when the run ended at it
	Decision steps.Decision
	// Declines lists who said no before the decision.
	Declines []steps.Decision
}

// StepRun is one step's last pass.
type StepRun struct {
	ID       string
	Phase    string
	Status   steps.Status
	Start    time.Time
	Duration time.Duration
	Err      string
}

// Command is one command run on one host.
type Command struct {
	Time     time.Time
	Step     string
	Host     string
	Command  string
	Duration time.Duration
	Exit     *int
	Err      string
}

// Note is one event worth a line in the timeline.
type Note struct {
	Time time.Time
	Kind steps.Kind
	Text string
}

// Sample is one reading.
type Sample struct {
	Time     time.Time
	Success  float64 // percent
	Requests int
	P50, P99 time.Duration
	Live     inventory.Side
	Served   string // the side (or address) that served the newest successful response
	Refused  int
	Lags     map[string]int64 // link → replay bytes behind; -1 when not streaming
}

// Build reads a session from a journal's events. inv may be nil; with it, the served-by series names
// sides instead of upstream addresses.
func Build(events []steps.Event, journal string, inv *inventory.Inventory) *Session {
	s := &Session{Journal: journal}
	var phase *Span
	openGate := -1
	stepStart := map[string]time.Time{}
	fences := map[string]time.Time{} // side → when its database was fenced
	for _, ev := range events {
		if s.Start.IsZero() || ev.Time.Before(s.Start) {
			s.Start = ev.Time
		}
		if ev.Time.After(s.End) {
			s.End = ev.Time
		}
		switch ev.Kind {
		case steps.EvPlanStarted:
			s.Title, s.Plan = ev.Text, ev.Plan
		case steps.EvPhaseStarted:
			s.Phases = append(s.Phases, Span{Name: ev.Phase, Start: ev.Time, End: ev.Time})
			phase = &s.Phases[len(s.Phases)-1]
		case steps.EvPhaseFinished:
			if phase != nil {
				phase.End = ev.Time
				phase = nil
			}
		case steps.EvGateWaiting:
			if openGate >= 0 && s.Gates[openGate].Step == ev.StepID && s.Gates[openGate].Kind == ev.Gate.Kind {
				continue // the same gate, re-emitted
			}
			s.Gates = append(s.Gates, Gate{Step: ev.StepID, Kind: ev.Gate.Kind, Prompt: ev.Gate.Prompt, Opened: ev.Time})
			openGate = len(s.Gates) - 1
		case steps.EvGateDecided:
			if ev.Decision == nil {
				continue
			}
			if openGate < 0 || s.Gates[openGate].Step != ev.StepID {
				s.Gates = append(s.Gates, Gate{Step: ev.StepID, Opened: ev.Time})
				openGate = len(s.Gates) - 1
			}
			g := &s.Gates[openGate]
			if ev.Decision.Kind == steps.Decline {
				g.Declines = append(g.Declines, *ev.Decision)
				continue
			}
			g.Decided, g.Decision = ev.Time, *ev.Decision
			openGate = -1
		case steps.EvStepStarted:
			if ev.Status == steps.StatusRunning {
				stepStart[ev.StepID] = ev.Time
			}
		case steps.EvStepFinished:
			st := StepRun{ID: ev.StepID, Phase: ev.Phase, Status: ev.Status, Start: stepStart[ev.StepID], Duration: ev.Duration, Err: ev.Err}
			if st.Start.IsZero() {
				st.Start = ev.Time.Add(-ev.Duration)
			}
			replaced := false
			for i := range s.Steps {
				if s.Steps[i].ID == st.ID {
					s.Steps[i], replaced = st, true
				}
			}
			if !replaced {
				s.Steps = append(s.Steps, st)
			}
			// A fence step (fence-SIDE) holds until that side is unfenced or rebuilt as a standby.
			if ev.Status == steps.StatusDone {
				if side, ok := strings.CutPrefix(ev.StepID, "fence-"); ok {
					fences[side] = ev.Time
				}
				for _, pre := range []string{"unfence-", "rebuild-"} {
					if side, ok := strings.CutPrefix(ev.StepID, pre); ok && !fences[side].IsZero() {
						s.Fenced = append(s.Fenced, Span{Name: side + " database fenced", Start: fences[side], End: ev.Time})
						delete(fences, side)
					}
				}
			}
		case steps.EvCommandFinished:
			s.Commands = append(s.Commands, Command{Time: ev.Time.Add(-ev.Duration), Step: ev.StepID, Host: ev.Host, Command: ev.Text, Duration: ev.Duration, Exit: ev.Exit, Err: ev.Err})
		case steps.EvSwitched, steps.EvRolledBack, steps.EvNotice, steps.EvRollbackAsk:
			text := ev.Text
			if ev.Kind == steps.EvSwitched && ev.Change != nil {
				text = "switched users from " + ev.Change.From + " to " + ev.Change.To
			}
			s.Events = append(s.Events, Note{Time: ev.Time, Kind: ev.Kind, Text: text})
		case steps.EvReadings:
			if ev.Readings != nil {
				s.addSample(ev.Time, ev.Readings, inv)
			}
		case steps.EvPlanFinished:
			s.Status, s.Summary, s.FinalErr = ev.Status, ev.Summary, ev.Err
		}
	}
	if phase != nil {
		phase.End = s.End
	}
	for side, t := range fences {
		s.Fenced = append(s.Fenced, Span{Name: side + " database still fenced at the end", Start: t, End: s.End})
	}
	return s
}

func (s *Session) addSample(t time.Time, r *steps.Readings, inv *inventory.Inventory) {
	p := r.Probe
	smp := Sample{Time: t, Success: p.Success(), Requests: p.Requests, P50: p.P50, P99: p.P99, Live: r.Live,
		Served: p.LastUpstream, Refused: p.WritesRefused, Lags: map[string]int64{}}
	if inv != nil && p.LastUpstream != "" {
		if side := inv.SideOfAddr(p.LastUpstream); side != "" {
			smp.Served = string(side)
		}
	}
	for _, l := range r.Lags {
		k := l.Link()
		if !contains(s.Links, k) {
			s.Links = append(s.Links, k)
		}
		smp.Lags[k] = l.Replay
		if !l.Streaming {
			smp.Lags[k] = -1
		}
	}
	// Recent counts the last poll interval: a refusal there happened since the previous reading.
	// Journals written before Recent existed only have the window's count: a rise in it is a refusal.
	if r.Recent.WritesRefused > 0 || r.Recent.Requests == 0 && p.WritesRefused > s.lastRefused {
		from := t
		if n := len(s.Samples); n > 0 {
			from = s.Samples[n-1].Time
		}
		if n := len(s.Refused); n > 0 && (s.refusing || !from.After(s.Refused[n-1].End)) {
			s.Refused[n-1].End = t
		} else {
			s.Refused = append(s.Refused, Span{Name: "writes refused", Start: from, End: t})
		}
		s.RefusedWrites += r.Recent.WritesRefused
		s.refusing = true
	}
	if r.Recent.Writes > r.Recent.WritesRefused {
		s.refusing = false // a write went through: the window closed
	}
	s.lastRefused = p.WritesRefused
	s.Samples = append(s.Samples, smp)
}

// Operators lists everyone who made a decision.
func (s *Session) Operators() []string {
	seen := map[string]bool{}
	for _, g := range s.Gates {
		for _, d := range append(g.Declines, g.Decision) {
			if d.By != "" && d.By != "conditions" {
				seen[d.By] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
