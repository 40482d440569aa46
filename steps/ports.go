package steps

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// The ports below are everything the engine needs from the world. The real adapters (remote, nginx,
// postgres, probe) and the simulated demo world implement them; the engine knows nothing else.

// Stream tells stdout from stderr in streamed command output.
type Stream string

// The two output streams of a command.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// OutputFunc receives one line of a command's output, without its newline. It may be called from
// several goroutines at once when a step runs on several hosts.
type OutputFunc func(stream Stream, line string)

// ErrConnectionLost is wrapped by a Runner when the connection to a host dropped while a command ran.
// The command may have half-run, so the engine never runs it again by itself.
var ErrConnectionLost = errors.New("connection to host lost")

// ErrNotStandby is wrapped by a Database when an action that needs a standby finds a primary. For a
// promotion that means it has already happened — a first attempt that promoted the server but
// reported an error, say — and the engine counts the step as done.
var ErrNotStandby = errors.New("not a standby")

// Runner runs a shell command on a named inventory host and streams its output line by line.
// It returns an error when the command exits non-zero (wrapping *ExitError), when ctx is cancelled
// (the remote command is killed), or when the host cannot be reached.
type Runner interface {
	Run(ctx context.Context, host, command string, out OutputFunc) error
}

// ExitError reports a command that ran and exited with a non-zero status.
type ExitError struct {
	Host    string
	Command string
	Status  int
}

func (e *ExitError) Error() string {
	return "command exited with status " + strconv.Itoa(e.Status) + " on " + e.Host + ": " + e.Command
}

// Balancer is the nginx in front of both sides.
type Balancer interface {
	// Live reports which side the balancer sends traffic to now.
	Live(ctx context.Context) (inventory.Side, error)
	// Switch makes side `to` live: write the candidate upstream atomically, test it, reload, and prove
	// the reload took effect. On any failure it restores the previous upstream before returning the
	// error, so the balancer is never left half-switched. Progress lines go to out.
	Switch(ctx context.Context, to inventory.Side, out func(line string)) (Change, error)
}

// Change is what a switch did to the balancer's upstream file.
type Change struct {
	// Host is the balancer host; with several balancers, Others holds the change on each of the rest.
	Host   string   `json:"host,omitempty"`
	File   string   `json:"file"`
	From   string   `json:"from"`
	To     string   `json:"to"`
	Before string   `json:"before"`
	After  string   `json:"after"`
	Others []Change `json:"others,omitempty"`
}

// Database is every PostgreSQL server in the inventory, addressed by host name.
type Database interface {
	// Replication reads every replication link, at most one query in flight per database.
	Replication(ctx context.Context) ([]Lag, error)
	// PauseReplay and ResumeReplay pause and resume WAL replay on a streaming standby.
	PauseReplay(ctx context.Context, host string) error
	ResumeReplay(ctx context.Context, host string) error
	// Fence stops new write transactions on a primary and ends sessions still inside one; Unfence lifts it.
	Fence(ctx context.Context, host string) error
	Unfence(ctx context.Context, host string) error
	// Promote turns a standby into a primary and waits until it accepts writes.
	Promote(ctx context.Context, host string) error
	// StartCapture starts recording every change on host (a publication and a logical slot) so that
	// it can be replayed elsewhere later. It runs before host takes any write.
	StartCapture(ctx context.Context, host string) error
	// StartReverseSync subscribes `to` to the changes captured on `from`.
	StartReverseSync(ctx context.Context, from, to string) error
	// AdvanceSequences moves every sequence on `to` past the value it has on `from`.
	AdvanceSequences(ctx context.Context, from, to string) error
	// StopReverseSync drops the subscription on `to` and the capture on `from`.
	StopReverseSync(ctx context.Context, from, to string) error
}

// FenceReader is a Database that can tell whether a host is fenced now. A resumed run uses it to hold
// the fences its journal records against the world; without it they are taken from the journal.
type FenceReader interface {
	Fenced(ctx context.Context, host string) (bool, error)
}

// LinkKind tells physical streaming replication from the logical reverse sync.
type LinkKind string

// Replication link kinds.
const (
	Physical LinkKind = "physical"
	Logical  LinkKind = "logical"
)

// Lag is one reading of one replication link.
type Lag struct {
	From string   `json:"from"`
	To   string   `json:"to"`
	Kind LinkKind `json:"kind"`
	// Streaming is true while the standby (or subscription) is connected and receiving.
	Streaming bool `json:"streaming"`
	// Bytes behind the source's current WAL position at each stage on the way to the standby.
	Sent   int64 `json:"sent"`
	Write  int64 `json:"write"`
	Flush  int64 `json:"flush"`
	Replay int64 `json:"replay"`
	// Delay is the replay delay in time; it means something only while there is a backlog (HasDelay).
	Delay    time.Duration `json:"delay,omitempty"`
	HasDelay bool          `json:"has_delay,omitempty"`
	// WriteLag, FlushLag and ReplayLag are the primary's time lags for the standby (pg_stat_replication):
	// how long recent WAL took to be written, flushed and replayed there. PostgreSQL keeps the last
	// values while the primary is idle, so they are set (HasTimeLags) only with a backlog, like Delay.
	WriteLag    time.Duration `json:"write_lag,omitempty"`
	FlushLag    time.Duration `json:"flush_lag,omitempty"`
	ReplayLag   time.Duration `json:"replay_lag,omitempty"`
	HasTimeLags bool          `json:"has_time_lags,omitempty"`
	Paused      bool          `json:"paused,omitempty"`
	// Err says why the link could not be read, if it could not.
	Err string `json:"err,omitempty"`
}

// Link names the link as "from→to".
func (l Lag) Link() string { return l.From + "→" + l.To }

// Probe is what users see through the balancer, and direct checks of each app host.
type Probe interface {
	// Stats summarises the probe requests made through the balancer over the last window.
	Stats(window time.Duration) ProbeStats
	// Check fetches the inventory's verify path on one app host directly, bypassing the balancer.
	Check(ctx context.Context, host string) (HostCheck, error)
}

// ProbeStats summarises probe requests over a window.
type ProbeStats struct {
	Window   time.Duration `json:"window"`
	Requests int           `json:"requests"`
	Failed   int           `json:"failed"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
	// Upstreams counts responses by the upstream address that served them.
	Upstreams map[string]int `json:"upstreams,omitempty"`
	// LastUpstream and Version are from the newest successful response.
	LastUpstream string `json:"last_upstream,omitempty"`
	Version      string `json:"version,omitempty"`
	// Writes made by the probe, and how many were refused because the database was read-only.
	Writes        int `json:"writes,omitempty"`
	WritesRefused int `json:"writes_refused,omitempty"`
	WritesFailed  int `json:"writes_failed,omitempty"`
	// Hosts holds the newest direct check of each app host.
	Hosts []HostCheck `json:"hosts,omitempty"`
	// Totals counts every request since the probe started, whatever the window.
	Totals ProbeTotals `json:"totals"`
}

// Success is the percentage of successful requests in the window (100 when none were made).
func (s ProbeStats) Success() float64 {
	if s.Requests == 0 {
		return 100
	}
	return 100 * float64(s.Requests-s.Failed) / float64(s.Requests)
}

// HostCheck is one direct request to one app host.
type HostCheck struct {
	Host    string `json:"host"`
	OK      bool   `json:"ok"`
	Status  int    `json:"status,omitempty"`
	Version string `json:"version,omitempty"`
	// VersionNote says why Version is empty when the answer did not carry it, e.g. "the JSON body
	// has no field release".
	VersionNote string        `json:"version_note,omitempty"`
	Latency     time.Duration `json:"latency,omitempty"`
	Err         string        `json:"err,omitempty"`
}

// Clock is the engine's time. The demo world runs it faster than the wall clock.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// WallClock is the real time.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (WallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// World bundles the ports a plan runs against.
type World struct {
	Hosts    Runner
	Balancer Balancer
	DB       Database
	Probe    Probe
	Clock    Clock
	// Rehearsal is the copy the rehearse plan works on; nil for the other plans.
	Rehearsal Rehearsal
	// Live is true for real infrastructure, false for the simulated demo world.
	Live bool
	// Lock, when set, tells the engine whether the run still holds Pitstop's lock: once it is lost,
	// no further change is made (see guard).
	Lock LockWatch
}
