package steps

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Printer writes events as timestamped lines, for runs without a screen. Readings, which come twice a
// second, are printed at most once per ReadingsEvery (default 5s). A waiting gate is printed when it
// starts waiting and when any of its conditions turns (✓/✗); otherwise at most once per ReadingsEvery.
type Printer struct {
	W             io.Writer
	ReadingsEvery time.Duration

	mu       sync.Mutex
	lastRead time.Time
	gate     string    // the last gate printed: step, kind and which conditions held
	gateAt   time.Time // when it was printed
	tally    Tally     // what the run did off its straight path, said at its end
}

// Print writes one event. It is safe for concurrent use.
func (p *Printer) Print(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tally.Add(ev)
	every := p.ReadingsEvery
	if every == 0 {
		every = 5 * time.Second
	}
	line := ""
	switch ev.Kind {
	case EvReadings:
		if ev.Time.Sub(p.lastRead) < every {
			return
		}
		p.lastRead = ev.Time
		line = "readings: " + FormatReadings(ev.Readings)
	case EvPlanStarted:
		line = "plan started: " + ev.Text
	case EvPhaseStarted:
		line = "── " + ev.Phase
	case EvPhaseFinished, EvMeasured:
		return
	case EvStepStarted:
		if ev.Status == StatusWaiting {
			return
		}
		line = "step " + ev.StepID + " started"
	case EvStepFinished:
		line = fmt.Sprintf("step %s %s", ev.StepID, ev.Status)
		if ev.Duration > 0 {
			line += " in " + ev.Duration.Round(10*time.Millisecond).String()
		}
		if ev.Err != "" {
			line += ": " + ev.Err
		}
	case EvOutput:
		mark := "|"
		if ev.Stream == Stderr {
			mark = "!"
		}
		line = fmt.Sprintf("  %s %s %s", ev.Host, mark, ev.Text)
	case EvGateWaiting:
		g := ev.Gate
		var conds []string
		key := ev.StepID + "/" + string(g.Kind)
		for _, c := range g.Conditions {
			mark := "✗"
			if c.OK {
				mark = "✓"
			}
			key += mark
			conds = append(conds, mark+" "+c.Label+": "+c.Value)
		}
		if key == p.gate && ev.Time.Sub(p.gateAt) < every {
			return
		}
		p.gate, p.gateAt = key, ev.Time
		kind := string(g.Kind)
		if g.Kind == GateConfirm && !g.Allows(Confirm) {
			kind = "waiting" // a wait step: it passes by itself when its conditions hold
		}
		line = fmt.Sprintf("gate %s (%s): %s", ev.StepID, kind, g.Prompt)
		if len(conds) > 0 {
			line += " [" + strings.Join(conds, "; ") + "]"
		}
		if g.Reason != "" {
			line += " — " + g.Reason
		}
	case EvGateDecided:
		line = fmt.Sprintf("gate %s: %s by %s", ev.StepID, ev.Decision.Kind, ev.Decision.By)
		if ev.Decision.From != "" {
			line += " from " + ev.Decision.From
		}
	case EvCommandFinished:
		line = fmt.Sprintf("  %s %s: %s", ev.Host, ev.Status, ev.Text)
		if ev.Err != "" {
			line += " (" + ev.Err + ")"
		}
	case EvSwitched, EvRollingBack, EvRolledBack, EvRollbackAsk, EvNotice:
		line = string(ev.Kind) + ": " + ev.Text
	case EvPlanFinished:
		line = ev.Text
		if ev.Summary != nil {
			line += "; " + ev.Summary.State
			for _, n := range ev.Summary.Next {
				line += "\n    next: " + n
			}
		}
		for _, l := range p.tally.Lines(nil) {
			line += "\n    " + l
		}
		if ev.Err != "" {
			line += "\n" + ev.Time.Format("15:04:05.000") + " error: " + ev.Err
		}
	default:
		line = string(ev.Kind) + " " + ev.Text
	}
	fmt.Fprintf(p.W, "%s %s\n", ev.Time.Format("15:04:05.000"), line)
}

// FormatReadings puts a reading on one line: lag per link, then what users see.
func FormatReadings(r *Readings) string {
	if r == nil {
		return ""
	}
	var parts []string
	for _, l := range r.Lags {
		s := fmt.Sprintf("%s replay %s", l.Link(), Bytes(l.Replay))
		if !l.Streaming {
			s = l.Link() + " NOT streaming"
		}
		if l.Paused {
			s += " — " + PausedText(l.To)
		}
		if l.Err != "" {
			s += " [" + l.Err + "]"
		}
		parts = append(parts, s)
	}
	p := r.Probe
	users := fmt.Sprintf("users %.1f%% of %d, p50 %s p99 %s", p.Success(), p.Requests, p.P50.Round(time.Millisecond), p.P99.Round(time.Millisecond))
	if p.LastUpstream != "" {
		users += " via " + p.LastUpstream
	}
	if p.Version != "" {
		users += " v" + strings.TrimPrefix(p.Version, "v")
	}
	if p.WritesRefused > 0 {
		users += fmt.Sprintf(", %d writes refused", p.WritesRefused)
	}
	parts = append(parts, users)
	if r.Live != "" {
		parts = append(parts, "live "+string(r.Live))
	}
	if r.Err != "" {
		parts = append(parts, "error: "+r.Err)
	}
	return strings.Join(parts, " · ")
}
