package steps

import (
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// Plan is an upgrade procedure as data: ordered phases of steps. Building a plan runs nothing; the
// engine runs it, `pitstop plan` prints it, tests assert on it.
type Plan struct {
	Name      string   `json:"name"`
	Inventory string   `json:"inventory"`
	Phases    []*Phase `json:"phases"`
}

// Phase is a named group of steps.
type Phase struct {
	Name  string  `json:"name"`
	Steps []*Step `json:"steps"`
}

// Action is what a step does.
type Action string

// The actions a step can take. Each is carried out through one port.
const (
	ActPreflight     Action = "preflight"      // reach every host, read balancer, databases and probe
	ActWaitSync      Action = "wait-sync"      // wait until the step's lag conditions hold
	ActSwitch        Action = "switch"         // make Step.Side live on the balancer
	ActVerifyTraffic Action = "verify-traffic" // wait until probes are served by Step.Side
	ActRun           Action = "run"            // run Step.Commands on Step.Hosts
	ActVerifyDirect  Action = "verify-direct"  // check each of Step.Hosts reports the expected version
	ActPauseReplay   Action = "pause-replay"
	ActResumeReplay  Action = "resume-replay"
	ActFence         Action = "fence"
	ActUnfence       Action = "unfence"
	ActPromote       Action = "promote"
	ActCapture       Action = "capture"           // start capturing changes on Step.Hosts[0]
	ActReverseStart  Action = "reverse-start"     // subscribe Step.To to Step.From
	ActAdvanceSeq    Action = "advance-sequences" // move Step.To's sequences past Step.From's
	ActReverseStop   Action = "reverse-stop"
)

// Step is one unit of work with an optional gate in front of it.
type Step struct {
	// ID is unique within the plan and stable: events and the journal refer to steps by it.
	ID     string `json:"id"`
	Title  string `json:"title"`
	Action Action `json:"action"`
	// Hosts the step acts on.
	Hosts []string `json:"hosts,omitempty"`
	// Exec is, for ActRun, the exact commands each host runs, placeholders already expanded; for
	// ActSwitch, the balancer's test and reload commands the switch runs (shown, not run from here).
	Exec []HostCommands `json:"exec,omitempty"`
	// Serial runs the commands on one host after another instead of in parallel.
	Serial bool `json:"serial,omitempty"`
	// Side is the side a switch makes live, or the side a traffic check expects.
	Side inventory.Side `json:"side,omitempty"`
	// From and To name the database hosts of a reverse-sync action.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Version is what a direct verification expects each host to report; "" checks the health
	// status only.
	Version string `json:"version,omitempty"`
	// VersionSource says where the version is read, e.g. "json release" (see inventory.Verify).
	VersionSource string `json:"version_source,omitempty"`
	// Path is fetched on each host by a direct verification.
	Path string `json:"path,omitempty"`
	// For is, in the rehearse plan's prediction, the plan whose window thresholds.max_window limits.
	For string `json:"for,omitempty"`
	// Overheads, in the rehearse plan's prediction, were measured in an earlier run (nil: defaults).
	Overheads *Overheads `json:"overheads,omitempty"`
	// Config is the balancer change a switch makes (for display; the adapter renders it again).
	Config *Change `json:"config,omitempty"`
	// ConfigSource says where Config's Before comes from: the live file read from the balancer, or
	// rendered from the inventory (and why).
	ConfigSource string `json:"config_source,omitempty"`
	Gate         Gate   `json:"gate"`
}

// Gate is what must happen before a step runs.
type Gate struct {
	// Confirm is true when an operator must confirm the step: every step that changes something.
	Confirm bool `json:"confirm"`
	// Conditions must all hold before the step may run (or, for wait steps, before it succeeds).
	Conditions []Condition `json:"conditions,omitempty"`
	// Timeout fails the step when the conditions have not held by then.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// CondKind is the kind of a live condition.
type CondKind string

// Condition kinds.
const (
	// CondLag holds when the link From→To is streaming with a replay backlog of at most MaxBytes for
	// Readings consecutive readings.
	CondLag CondKind = "lag"
	// CondSuccess holds when probe success over Window is at least MinSuccess percent.
	CondSuccess CondKind = "success"
	// CondUpstream holds when every probe response over Window was served by Side (and there was one).
	CondUpstream CondKind = "upstream"
	// CondLive holds when the balancer's live upstream is Side, as the engine last switched or read it.
	// Steps that stop or change a side's apps carry it for the other side: users are never on the side
	// being upgraded, whatever was skipped before.
	CondLive CondKind = "live"
)

// Condition is one live condition of a gate.
type Condition struct {
	Kind       CondKind       `json:"kind"`
	From       string         `json:"from,omitempty"`
	To         string         `json:"to,omitempty"`
	MaxBytes   int64          `json:"max_bytes,omitempty"`
	Readings   int            `json:"readings,omitempty"`
	MinSuccess float64        `json:"min_success,omitempty"`
	Window     time.Duration  `json:"window,omitempty"`
	Side       inventory.Side `json:"side,omitempty"`
}

// HostCommands is the exact command list one host runs, in order.
type HostCommands struct {
	Host     string   `json:"host"`
	Commands []string `json:"commands"`
}

// Steps returns every step of the plan in order.
func (p *Plan) Steps() []*Step {
	var out []*Step
	for _, ph := range p.Phases {
		out = append(out, ph.Steps...)
	}
	return out
}

// Step returns the step with the given ID, or nil.
func (p *Plan) Step(id string) *Step {
	for _, s := range p.Steps() {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// PhaseOf returns the index of the phase holding step id, or -1.
func (p *Plan) PhaseOf(id string) int {
	for i, ph := range p.Phases {
		for _, s := range ph.Steps {
			if s.ID == id {
				return i
			}
		}
	}
	return -1
}
