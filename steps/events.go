package steps

import (
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// Kind names an event type. Events are the single source of truth: the cockpit, the headless run and
// the journal all consume the same stream.
type Kind string

// Event kinds, in the order a run usually emits them.
const (
	EvPlanStarted   Kind = "plan-started"
	EvPhaseStarted  Kind = "phase-started"
	EvGateWaiting   Kind = "gate-waiting" // Gate set; re-emitted when a condition's state changes
	EvGateDecided   Kind = "gate-decided" // Decision set
	EvStepStarted   Kind = "step-started"
	EvOutput        Kind = "output"        // Host, Stream, Text
	EvStepFinished  Kind = "step-finished" // Status, Duration, Err
	EvPhaseFinished Kind = "phase-finished"
	EvReadings      Kind = "readings"      // Readings, about twice a second
	EvSwitched      Kind = "switched"      // Change
	EvRollingBack   Kind = "rolling-back"  // Change, Text: a rollback began; its proof follows as output
	EvRolledBack    Kind = "rolled-back"   // Change
	EvRollbackAsk   Kind = "rollback-ask"  // Text says why the rollback needs confirming
	EvNotice        Kind = "notice"        // Text
	EvPlanFinished  Kind = "plan-finished" // Status, Duration, Text (summary), Err
	EvMeasured      Kind = "measured"      // Measure: what the rehearse plan measured in a step
)

// Status is the state of a step or of the whole plan.
type Status string

// Step and plan states.
const (
	StatusPending Status = "pending"
	StatusWaiting Status = "waiting" // at its gate
	StatusRunning Status = "running"
	StatusDone    Status = "done"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	StatusAborted Status = "aborted"
)

// Event is one thing that happened during a run. Only the fields its Kind names are set.
type Event struct {
	Seq      int64         `json:"seq"`
	Time     time.Time     `json:"time"`
	Kind     Kind          `json:"kind"`
	Plan     string        `json:"plan,omitempty"`
	Phase    string        `json:"phase,omitempty"`
	StepID   string        `json:"step,omitempty"`
	Host     string        `json:"host,omitempty"`
	Stream   Stream        `json:"stream,omitempty"`
	Text     string        `json:"text,omitempty"`
	Status   Status        `json:"status,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Err      string        `json:"err,omitempty"`
	Exit     *int          `json:"exit,omitempty"` // a command's exit status, when it ran to its end
	Gate     *GateState    `json:"gate,omitempty"`
	Decision *Decision     `json:"decision,omitempty"`
	Readings *Readings     `json:"readings,omitempty"`
	Change   *Change       `json:"change,omitempty"`
	Summary  *Summary      `json:"summary,omitempty"`
	Measure  *Measurement  `json:"measure,omitempty"`
	// Params are the run parameters set on the command line (plan-started only).
	Params map[string]string `json:"params,omitempty"`
}

// GateKind tells why the engine is waiting.
type GateKind string

// Gate kinds.
const (
	// GateConfirm waits before a step that changes something (or for a wait step's conditions).
	GateConfirm GateKind = "confirm"
	// GateFailed waits after a step failed: retry, skip, abort or roll back.
	GateFailed GateKind = "failed"
	// GateRolledBack waits after a rollback: redo the switch, or abort.
	GateRolledBack GateKind = "rolled-back"
	// GateFinish waits at the end of a plan that skipped verification steps: finishing without them
	// needs an operator's confirmation, or the plan ends aborted.
	GateFinish GateKind = "finish"
)

// GateState is a gate the engine is waiting at, with its conditions evaluated now.
type GateState struct {
	StepID string   `json:"step"`
	Kind   GateKind `json:"kind"`
	// Prompt says in one line what confirming does.
	Prompt string `json:"prompt"`
	// Changes lists exactly what confirming will change: host: command, or the upstream diff.
	Changes    []string         `json:"changes,omitempty"`
	Conditions []ConditionState `json:"conditions,omitempty"`
	// Ready is true when every condition holds, so a confirmation is accepted.
	Ready bool `json:"ready"`
	// Allowed lists the decisions the engine accepts at this gate.
	Allowed []DecisionKind `json:"allowed"`
	// Declined is true once an operator said no; the gate stays until another decision.
	Declined bool `json:"declined,omitempty"`
	// Reason says why a step failed (GateFailed) or what was rolled back (GateRolledBack).
	Reason string `json:"reason,omitempty"`
	// Deadline is when the conditions time out (zero when they cannot).
	Deadline time.Time `json:"deadline,omitempty"`
}

// Allows reports whether decision k is accepted at this gate.
func (g *GateState) Allows(k DecisionKind) bool {
	if g == nil {
		return false
	}
	for _, a := range g.Allowed {
		if a == k {
			return true
		}
	}
	return false
}

// ConditionState is a condition evaluated against the newest readings.
type ConditionState struct {
	Condition
	// Label is the condition in words, e.g. "lag db-prod→db-backup ≤ 64 KiB for 5 readings".
	Label string `json:"label"`
	OK    bool   `json:"ok"`
	// Value is the current value in words, e.g. "12 KiB, 3/5 readings".
	Value string `json:"value"`
}

// DecisionKind is what an operator (or --auto-approve) decided.
type DecisionKind string

// Decisions.
const (
	Confirm  DecisionKind = "confirm"
	Decline  DecisionKind = "decline"
	Skip     DecisionKind = "skip"
	Retry    DecisionKind = "retry"
	Abort    DecisionKind = "abort"
	Rollback DecisionKind = "rollback"
)

// Decision is sent to the engine by the cockpit or the headless run.
type Decision struct {
	Kind DecisionKind `json:"kind"`
	// By names who decided (an operator, or "auto-approve").
	By string `json:"by"`
	// From says where a decision sent from another terminal came from (its tty, e.g. "pts/3").
	From string `json:"from,omitempty"`
	// Force confirms a rollback to an upstream that is failing its probes.
	Force bool `json:"force,omitempty"`
	// Discard is what the operator typed to roll back away from a promoted backup that holds users'
	// writes production lacks: it must be the phrase the engine asked for (EvRollbackAsk), which
	// names the amount. Force alone does not discard writes.
	Discard string `json:"discard,omitempty"`
	// StepID, when set, is the step the decision was made for; a decision for a gate that is no longer
	// waiting is ignored, so two operators pressing keys at once cannot confirm the next gate by accident.
	StepID string `json:"step,omitempty"`
}

// Readings is one sample of the world, taken about twice a second.
type Readings struct {
	Lags  []Lag      `json:"lags,omitempty"`
	Probe ProbeStats `json:"probe"`
	// Live is the side the balancer sends traffic to, as the engine last set or read it.
	Live inventory.Side `json:"live,omitempty"`
	// Hosts holds each host's badges and version as far as the engine knows.
	Hosts map[string]HostState `json:"hosts,omitempty"`
	// Downtime is how long, so far in this run, probes through the balancer saw failures.
	Downtime time.Duration `json:"downtime"`
	// Totals counts what the probe saw go wrong over the whole run so far.
	Totals ProbeTotals `json:"totals"`
	Err    string      `json:"err,omitempty"`

	// Recent counts the probe's requests over the last poll interval only (Probe covers its window):
	// what a report draws over time.
	Recent RecentProbe `json:"recent"`

	// recent summarises the probe over the last poll interval, for the downtime count; interval is
	// that interval and taken when the reading began (fastpoll.go).
	recent   ProbeStats
	interval time.Duration
	taken    time.Time
}

// RecentProbe counts the probe's requests over one poll interval.
type RecentProbe struct {
	Requests      int `json:"requests"`
	Failed        int `json:"failed"`
	Writes        int `json:"writes"`
	WritesRefused int `json:"writes_refused"`
}

// Badge is a short state shown beside a host.
type Badge string

// Host badges.
const (
	BadgeStandby   Badge = "standby"
	BadgePaused    Badge = "paused"
	BadgePromoted  Badge = "promoted"
	BadgeReadOnly  Badge = "read-only"
	BadgeUpgrading Badge = "upgrading"
	BadgeDown      Badge = "down"
)

// HostState is what the engine knows of one host.
type HostState struct {
	Version string  `json:"version,omitempty"`
	Healthy bool    `json:"healthy"`
	Badges  []Badge `json:"badges,omitempty"`
}

// Summary closes a run.
type Summary struct {
	Status  Status        `json:"status"`
	Elapsed time.Duration `json:"elapsed"`
	// Downtime is how long probes through the balancer saw failed reads (in poll intervals).
	Downtime time.Duration  `json:"downtime"`
	Live     inventory.Side `json:"live"`
	// Users is what the probe saw during the run: failed reads, refused writes (and for how long)
	// and failed writes, counted apart.
	Users ProbeTotals `json:"users"`
	// State says in words where the balancer and the databases are left.
	State string `json:"state"`
	// Next lists, when the plan did not finish, what the operator should do about each thing left
	// half-way, one item each, with the exact command or SQL.
	Next []string `json:"next,omitempty"`
	// SkippedChecks lists the titles of the verification steps that were skipped; a plan that is
	// done with some was confirmed finishing that way by an operator.
	SkippedChecks []string `json:"skipped_checks,omitempty"`
}
