// Package nginx switches an nginx balancer between the production and the backup side by rewriting
// its upstream file, and proves every switch took effect: nginx accepted the file, reloaded (its
// worker processes were replaced) and probes through it are served by the new side. It implements
// steps.Balancer; every command runs on the balancer host through a steps.Runner.
package nginx

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

var _ steps.Balancer = (*Balancer)(nil)

// Verifier proves that traffic through the balancer reaches one side. The probe package's Prober
// satisfies it.
type Verifier interface {
	// ServedBy waits until the newest requests through the balancer, all made after the call began,
	// were every one served by an app host of side, and returns a one-line account of that proof. After
	// timeout it returns an error saying what those requests saw instead.
	ServedBy(ctx context.Context, side inventory.Side, timeout time.Duration) (string, error)
	// ServedNow makes requests through the balancer itself, one after another, until n consecutive
	// ones were all served by an app host of side, and returns a one-line account of them. After
	// timeout it returns an error saying what the last ones saw instead.
	ServedNow(ctx context.Context, side inventory.Side, n int, timeout time.Duration) (string, error)
}

// Sentinel errors a failed switch wraps, so callers can tell the stages apart.
var (
	// ErrTestFailed: the balancer's test command (nginx -t) rejected the candidate upstream.
	ErrTestFailed = errors.New("nginx rejected the candidate configuration")
	// ErrReloadIgnored: the reload command ran but nginx kept its worker processes, i.e. its old
	// configuration (nginx -s reload exits 0 even when the new workers cannot bind a port).
	ErrReloadIgnored = errors.New("nginx did not take the reload")
	// ErrNotServed: nginx reloaded, but probes through it were not served by the new side in time.
	ErrNotServed = errors.New("probes are not served by the new side")
)

// Balancer is the nginx balancer of one inventory. Create it with New.
type Balancer struct {
	// ProofTimeout bounds the wait for new worker processes after a reload (default 10s). nginx retries
	// a failing bind() for about 2.5s before it gives up on a reload, so keep it above 3s.
	ProofTimeout time.Duration
	// VerifyTimeout bounds the wait for probes to be served by the new side (default 10s).
	VerifyTimeout time.Duration
	// PollEvery is how often nginx's processes are read while waiting for a reload to take effect
	// (default 10ms; after the first second of the wait, ten times that).
	PollEvery time.Duration
	// DrainTimeout bounds the wait for the old workers to exit after a reload (default 2s); when some
	// still run after it, the switch proves its traffic by the probes' window instead (see
	// proveDrained).
	DrainTimeout time.Duration
	// VerifyRequests is how many requests, one after another once the old workers exited, must all be
	// served by the new side (default 5).
	VerifyRequests int
	// CommandTimeout bounds each command on the balancer host — reading and writing the file, the
	// config test, the reload — so a hung `nginx -t` (it resolves upstream names) cannot hold a switch,
	// or a rollback, forever (default 60s; 0 = no limit).
	CommandTimeout time.Duration

	inv    *inventory.Inventory
	run    steps.Runner
	verify Verifier
	// render gives the candidate upstream file for a side from the live one (only its server lines
	// change); tests replace it to inject a faulty file.
	render func(live string, to inventory.Side) (string, error)
	// host is the balancer host this Balancer drives (one of balancer.hosts).
	hostName string
	// grouped is set for a member of a Group of several balancers: the group proves traffic once
	// every member is switched, so the member does not.
	grouped bool
	mu      sync.Mutex // one switch at a time

	// last is the upstream file's content as Pitstop last read or wrote it ("" with lastOK false:
	// unknown); a switch checks it is still so instead of reading the file again.
	lastMu sync.Mutex
	last   string
	lastOK bool
}

// New returns the balancer of inv, running its commands on inv.Balancer.Host through run. verify
// proves each switch by probing through the balancer; with a nil verify that proof is skipped (and
// every switch says so in its output).
func New(inv *inventory.Inventory, run steps.Runner, verify Verifier) *Balancer {
	return NewFor(inv, inv.Balancer.Host, run, verify)
}

// NewFor is New for one of the inventory's balancer hosts.
func NewFor(inv *inventory.Inventory, host string, run steps.Runner, verify Verifier) *Balancer {
	return &Balancer{
		hostName:       host,
		ProofTimeout:   10 * time.Second,
		VerifyTimeout:  10 * time.Second,
		PollEvery:      10 * time.Millisecond,
		DrainTimeout:   2 * time.Second,
		VerifyRequests: 5,
		CommandTimeout: 60 * time.Second,
		inv:            inv,
		run:            run,
		verify:         verify,
		render:         inv.RewriteUpstream,
	}
}

// Live reads the upstream file on the balancer host and reports which side it names. Content naming
// no side, or both, is an error that says what the file holds.
func (b *Balancer) Live(ctx context.Context) (inventory.Side, error) {
	content, err := b.read(ctx)
	if err != nil {
		return "", err
	}
	side, err := sideOf(b.inv, content)
	if err != nil {
		return "", fmt.Errorf("upstream file %s on %s names no side of the inventory: %w; make its upstream %s list the app hosts of one side (%s)",
			b.file(), b.host(), err, b.inv.Balancer.Upstream, b.sideList())
	}
	return side, nil
}

// sideList names each side's serve addresses, e.g. "production: a:80, b:80; backup: c:80".
func (b *Balancer) sideList() string {
	var parts []string
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		var addrs []string
		for _, app := range b.inv.Sides.Get(side).Apps {
			if h := b.inv.Host(app); h != nil {
				addrs = append(addrs, h.Serve)
			}
		}
		parts = append(parts, string(side)+": "+strings.Join(addrs, ", "))
	}
	return strings.Join(parts, "; ")
}

func (b *Balancer) file() string { return b.inv.Balancer.File }
func (b *Balancer) host() string { return b.hostName }

// Host is the balancer host this Balancer drives.
func (b *Balancer) Host() string { return b.hostName }

// Paths beside the upstream file: the candidate being written (renamed over the file) and the
// content the file had before the last switch.
func (b *Balancer) tmpFile() string  { return b.file() + ".pitstop-new" }
func (b *Balancer) prevFile() string { return b.file() + ".pitstop-prev" }

// undoFile holds the content the file had before the switch under way; it becomes the previous file
// only once the switch took effect, so a switch that is undone leaves the previous file as it was.
func (b *Balancer) undoFile() string { return b.file() + ".pitstop-undo" }

// read returns the upstream file's content byte for byte: it travels base64-encoded, since the
// runner streams lines and would lose a missing last newline or a carriage return.
func (b *Balancer) read(ctx context.Context) (string, error) {
	res, err := b.sh(ctx, "base64 < "+shell.Quote(b.file()))
	if err != nil {
		return "", fmt.Errorf("read upstream file %s on %s: %w%s", b.file(), b.host(), err, res.tail())
	}
	data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(strings.Join(res.stdout(), "")), ""))
	if err != nil {
		return "", fmt.Errorf("read upstream file %s on %s: base64 gave %w", b.file(), b.host(), err)
	}
	b.remember(string(data))
	return string(data), nil
}

// known returns the file's content as Pitstop last read or wrote it, if it knows it.
func (b *Balancer) known() (string, bool) {
	b.lastMu.Lock()
	defer b.lastMu.Unlock()
	return b.last, b.lastOK
}

func (b *Balancer) remember(content string) {
	b.lastMu.Lock()
	b.last, b.lastOK = content, true
	b.lastMu.Unlock()
}

func (b *Balancer) forget() {
	b.lastMu.Lock()
	b.last, b.lastOK = "", false
	b.lastMu.Unlock()
}

// wrote records a write of content: the file holds it when ok, and is unknown otherwise.
func (b *Balancer) wrote(content string, ok bool) {
	if ok {
		b.remember(content)
	} else {
		b.forget()
	}
}

// unchangedCommand fails (exit 99) unless the upstream file holds exactly content, by its SHA-256;
// it fails too where sha256sum is missing, and the caller then reads the file.
func (b *Balancer) unchangedCommand(content string) string {
	sum := sha256.Sum256([]byte(content))
	return fmt.Sprintf(`[ "$(sha256sum < %s 2>/dev/null)" = "%s  -" ] || exit 99`, shell.Quote(b.file()), hex.EncodeToString(sum[:]))
}

// LiveFile returns the upstream file as it is on the balancer now.
func (b *Balancer) LiveFile(ctx context.Context) (string, error) { return b.read(ctx) }

// Preview returns the upstream file as it is now and as a switch to side would write it: only the
// server lines of the upstream block differ.
func (b *Balancer) Preview(ctx context.Context, to inventory.Side) (before, after string, err error) {
	before, err = b.read(ctx)
	if err != nil {
		return "", "", err
	}
	after, err = b.render(before, to)
	if err != nil {
		return before, "", fmt.Errorf("upstream file %s on %s: %w", b.file(), b.host(), err)
	}
	return before, after, nil
}

// result is the output of one command: its lines, stdout and stderr as they came.
type result struct {
	lines []line
}

type line struct {
	text   string
	stdout bool
}

// stdout is the command's standard output.
func (r result) stdout() []string {
	var out []string
	for _, l := range r.lines {
		if l.stdout {
			out = append(out, l.text)
		}
	}
	return out
}

// all is the command's output, stdout and stderr, as it came.
func (r result) all() []string {
	out := make([]string, len(r.lines))
	for i, l := range r.lines {
		out[i] = l.text
	}
	return out
}

// tail gives the command's output for an error message, or "".
func (r result) tail() string {
	if len(r.lines) == 0 {
		return ""
	}
	lines := r.all()
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return "; it said: " + strings.Join(lines, " | ")
}

// stageMark starts each command's output in a sequence; the random part keeps a command's own output
// from being taken for it.
var stageMark = func() string {
	var b [6]byte
	rand.Read(b[:])
	return "@@pitstop-stage-" + hex.EncodeToString(b[:])
}()

// sequence runs commands on the balancer host one after another in one shell (one process, or one
// SSH session, instead of one each), stopping at the first that fails. Each runs in a subshell, so
// an exit in it ends only that command. It returns each command's output and the index of the one
// that failed with its error (a *steps.ExitError names that command), or len(commands) and nil.
func (b *Balancer) sequence(ctx context.Context, commands ...string) ([]result, int, error) {
	var script strings.Builder
	for i, c := range commands {
		fmt.Fprintf(&script, "echo %[1]s %[2]d; echo %[1]s %[2]d >&2; (\n%[3]s\n) || exit $?\n", stageMark, i, c)
	}
	res, err := b.sh(ctx, script.String())
	out := make([]result, len(commands))
	cur := map[bool]int{true: -1, false: -1} // the stage each stream is in (true: stdout)
	for _, l := range res.lines {
		if rest, ok := strings.CutPrefix(l.text, stageMark+" "); ok {
			if n, perr := strconv.Atoi(rest); perr == nil && n >= 0 && n < len(commands) {
				cur[l.stdout] = n
				continue
			}
		}
		i := cur[l.stdout]
		if i < 0 {
			continue // the login shell's own output, before the first command
		}
		out[i].lines = append(out[i].lines, l)
	}
	if err == nil {
		return out, len(commands), nil
	}
	failed := max(cur[true], cur[false], 0)
	var ee *steps.ExitError
	if errors.As(err, &ee) {
		named := *ee
		named.Command = commands[failed]
		err = &named
	}
	return out, failed, err
}

// sh runs command on the balancer host and collects its output.
func (b *Balancer) sh(ctx context.Context, command string) (result, error) {
	if b.CommandTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, b.CommandTimeout,
			fmt.Errorf("`%s` on %s did not finish within %s (the balancer's command timeout): %w", command, b.host(), b.CommandTimeout, context.DeadlineExceeded))
		defer cancel()
	}
	var mu sync.Mutex
	var res result
	err := b.run.Run(ctx, b.host(), command, func(s steps.Stream, text string) {
		mu.Lock()
		defer mu.Unlock()
		res.lines = append(res.lines, line{text, s == steps.Stdout})
	})
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx) // says which command ran out of time, rather than "context deadline exceeded"
	}
	return res, err
}
