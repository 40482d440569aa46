package ui

import (
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// stepState is what the cockpit knows of one step.
type stepState struct {
	status  steps.Status
	started time.Time // engine clock, when it began running or waiting
	dur     time.Duration
	// rolledBack marks a switch whose traffic a rollback moved back; redone, one switched again after.
	rolledBack, redone bool
}

// rollingBack is a rollback the engine is carrying out: the sides, who asked, and the proof so far
// (the balancer's output as the switch back goes).
type rollingBack struct {
	from, to string
	stepID   string
	text     string
	proof    []string
}

// maxProof bounds the proof lines kept for a rollback in progress.
const maxProof = 20

// dialog is a question the cockpit asks before it sends a decision or quits.
type dialog struct {
	kind   dialogKind
	stepID string // the gate it was asked at; a new gate makes the question stale
	text   string // why the engine asks (askForceRollback)
	// phrase, when set, is what the operator must type to confirm (the engine's discard question);
	// typed is what they typed so far.
	phrase, typed string
}

type dialogKind int

const (
	askSkip dialogKind = iota + 1
	askAbort
	askQuit
	askForceRollback
)

// run is everything the cockpit learned from the engine's events.
type run struct {
	planName string
	started  time.Time // engine clock at plan start
	last     time.Time // engine clock of the newest event
	steps    map[string]*stepState
	current  string
	gate     *steps.GateState
	rbAsk    string // why the engine asks before a rollback; "" when not asking
	readings *steps.Readings
	lags     map[string]*series
	success  series

	finished    bool
	finalStatus steps.Status
	summary     *steps.Summary
	finalErr    string
	engineDone  bool
	engineErr   string

	// rolling is the rollback in progress, from the engine's rolling-back event until it says how it
	// ended; nil otherwise.
	rolling *rollingBack
	// tally is what the run did off its plan's straight path, for the end screen.
	tally steps.Tally

	notice string
	// switched is true once the engine switched the balancer: from then on a rollback is possible,
	// also while a step runs.
	switched bool
}

func newRun() *run {
	return &run{steps: map[string]*stepState{}, lags: map[string]*series{}}
}

// inProgress reports whether the engine may still act: quitting now needs confirming.
func (r *run) inProgress() bool { return !r.finished && !r.engineDone }

// running reports whether a step is running now (the spinner turns).
func (r *run) running() bool {
	st := r.steps[r.current]
	return st != nil && st.status == steps.StatusRunning && r.inProgress()
}

// live is the side users are served from, as the newest readings say.
func (r *run) live() inventory.Side {
	if r.summary != nil && r.summary.Live != "" {
		return r.summary.Live
	}
	if r.readings != nil {
		return r.readings.Live
	}
	return ""
}

// elapsed is the engine time since the plan started.
func (r *run) elapsed() time.Duration {
	if r.summary != nil {
		return r.summary.Elapsed
	}
	if r.started.IsZero() {
		return 0
	}
	return r.last.Sub(r.started)
}

func (r *run) step(id string) *stepState {
	st := r.steps[id]
	if st == nil {
		st = &stepState{status: steps.StatusPending}
		r.steps[id] = st
	}
	return st
}

// apply folds one event into the run.
func (r *run) apply(ev steps.Event) {
	if !ev.Time.IsZero() && ev.Time.After(r.last) {
		r.last = ev.Time
	}
	r.tally.Add(ev)
	r.applyRolling(ev)
	switch ev.Kind {
	case steps.EvPlanStarted:
		r.planName = ev.Plan
		r.started = ev.Time
	case steps.EvStepStarted:
		st := r.step(ev.StepID)
		st.status = ev.Status
		if st.status == "" {
			st.status = steps.StatusRunning
		}
		st.started, st.dur = ev.Time, 0
		r.current = ev.StepID
	case steps.EvStepFinished:
		st := r.step(ev.StepID)
		st.status, st.dur = ev.Status, ev.Duration
		if ev.Err != "" {
			r.note(ev.StepID + " " + string(ev.Status) + ": " + ev.Err)
		}
		r.current = ev.StepID
	case steps.EvGateWaiting:
		if ev.Gate == nil {
			return
		}
		if r.gate == nil || r.gate.StepID != ev.Gate.StepID || r.gate.Kind != ev.Gate.Kind {
			r.rbAsk = ""
		}
		r.gate = ev.Gate
		r.current = ev.Gate.StepID
		st := r.step(ev.Gate.StepID)
		if ev.Gate.Kind != steps.GateFailed {
			if st.status != steps.StatusWaiting {
				st.started = ev.Time
			}
			st.status = steps.StatusWaiting
		}
	case steps.EvGateDecided:
		if ev.Decision != nil && ev.Decision.Kind == steps.Decline {
			if ev.Decision.From != "" {
				r.note(ev.Decision.Past() + ": " + ev.StepID) // sent from another terminal: who first
			}
			return // the engine keeps the gate open and re-emits it as declined
		}
		if r.gate != nil && r.gate.StepID == ev.StepID {
			r.gate, r.rbAsk = nil, ""
		}
		switch d := ev.Decision; {
		case d == nil:
		case d.By == "conditions":
			r.note(ev.StepID + ": its conditions hold, going on")
		case d.From != "":
			r.note(d.Past() + ": " + ev.StepID) // "bob approved from pts/3": sent from another terminal, who first
		default:
			r.note(ev.StepID + ": " + string(d.Kind) + " by " + d.By)
		}
	case steps.EvReadings:
		if ev.Readings == nil {
			return
		}
		r.readings = ev.Readings
		for _, l := range ev.Readings.Lags {
			k := l.Link()
			s := r.lags[k]
			if s == nil {
				s = &series{}
				r.lags[k] = s
			}
			s.add(ev.Time, float64(l.Replay))
		}
		r.success.add(ev.Time, ev.Readings.Probe.Success())
	case steps.EvSwitched:
		r.switched = true
		if ev.Change != nil {
			r.note("switched traffic " + ev.Change.From + " → " + ev.Change.To)
		}
	case steps.EvRollingBack:
		r.note(orText(ev.Text, "rolling back"))
	case steps.EvRolledBack:
		r.rbAsk = ""
		r.note(orText(ev.Text, "rolled back"))
	case steps.EvRollbackAsk:
		r.rbAsk = orText(ev.Text, "the engine asks before rolling back")
	case steps.EvNotice:
		r.note(ev.Text)
	case steps.EvPlanFinished:
		r.finished = true
		r.finalStatus = ev.Status
		r.summary = ev.Summary
		r.finalErr = ev.Err
		r.gate, r.rbAsk = nil, ""
	}
}

func (r *run) note(text string) { r.notice = text }

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// series keeps the newest samples of one reading, for sparklines and rates.
type series struct {
	t []time.Time
	v []float64
}

// maxSamples bounds a series: three minutes of readings taken twice a second.
const maxSamples = 360

func (s *series) add(t time.Time, v float64) {
	if len(s.v) >= maxSamples {
		n := copy(s.v, s.v[len(s.v)-maxSamples+1:])
		s.v = s.v[:n]
		copy(s.t, s.t[len(s.t)-maxSamples+1:])
		s.t = s.t[:n]
	}
	s.t = append(s.t, t)
	s.v = append(s.v, v)
}

// rateWindow is how far back the catch-up estimate looks.
const rateWindow = 10 * time.Second

// eta estimates how long until the series reaches zero at its recent rate of decrease. ok is false
// when it is not decreasing (or there is too little history).
func (s *series) eta() (d time.Duration, ok bool) {
	n := len(s.v)
	if n < 2 {
		return 0, false
	}
	newest, now := s.v[n-1], s.t[n-1]
	i := n - 2
	for i > 0 && now.Sub(s.t[i-1]) <= rateWindow {
		i--
	}
	dt := now.Sub(s.t[i]).Seconds()
	drop := s.v[i] - newest
	if dt <= 0 || drop <= 0 {
		return 0, false
	}
	return time.Duration(newest / (drop / dt) * float64(time.Second)), true
}

// applyRolling follows a rollback in progress: it begins with the engine's rolling-back event,
// gathers the balancer's output as proof, and ends with whatever the engine says next about it (done,
// a question, a failure notice, a new gate, the end of the plan).
func (r *run) applyRolling(ev steps.Event) {
	switch ev.Kind {
	case steps.EvRollingBack:
		rb := &rollingBack{stepID: ev.StepID, text: ev.Text}
		if ev.Change != nil {
			rb.from, rb.to = ev.Change.From, ev.Change.To
		}
		r.rolling = rb
	case steps.EvOutput:
		if rb := r.rolling; rb != nil {
			rb.proof = append(rb.proof, orText(ev.Host, "pitstop")+": "+clean(ev.Text))
			if len(rb.proof) > maxProof {
				rb.proof = rb.proof[len(rb.proof)-maxProof:]
			}
		}
	case steps.EvSwitched:
		if rb := r.rolling; rb != nil && ev.Change != nil {
			rb.proof = append(rb.proof, "the balancer now sends traffic to "+ev.Change.To)
		}
	case steps.EvRolledBack, steps.EvRollbackAsk, steps.EvNotice, steps.EvGateWaiting, steps.EvPlanFinished, steps.EvStepStarted:
		r.rolling = nil
	}
}
