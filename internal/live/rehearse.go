package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/internal/postgres"
	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// ErrRehearsalBusy is wrapped when the rehearsal's data directory or port is taken by something that
// is not an earlier rehearsal's leftovers: bad input, refused before anything starts.
var ErrRehearsalBusy = errors.New("the rehearsal's directory or port is taken")

// Rehearsal is the real adapter of the rehearse plan (steps.Rehearsal): the copy on the rehearsal
// host, reached through that host's connection, and the rehearsal app's direct smoke test.
type Rehearsal struct {
	inv    *inventory.Inventory
	w      *World
	copy   *postgres.Copy
	client *http.Client
	// smokeWrite is probe.write_url as the inventory gives it: the smoke test writes there.
	smokeWrite string
}

var _ steps.Rehearsal = (*Rehearsal)(nil)

// OpenRehearsal opens the world for `pitstop rehearse`: the real adapters with a probe that only
// reads (a rehearsal changes nothing users see), and the copy's adapter. It takes no lock on
// production: nothing there is changed.
func OpenRehearsal(ctx context.Context, inv *inventory.Inventory, opt Options) (*World, *Rehearsal, error) {
	write := inv.Probe.WriteURL
	inv = withoutWrites(inv)
	w, err := Open(ctx, inv, opt)
	if err != nil {
		return nil, nil, err
	}
	r := &inv.Rehearsal
	conn, err := r.CopyURL(inv)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	cp, err := postgres.NewCopy(conn, postgres.DialFunc(w.Hosts.Dialer(r.Host)), r.SampleEvery)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return w, &Rehearsal{inv: inv, w: w, copy: cp, client: &http.Client{Timeout: inv.Probe.Timeout}, smokeWrite: write}, nil
}

// Ports is the world with the rehearsal's adapter.
func (rh *Rehearsal) Ports() steps.World {
	p := rh.w.Ports()
	p.Rehearsal = rh
	return p
}

// Leftovers says what the rehearsal host holds where the copy goes.
type Leftovers struct {
	// Dir is "absent", "empty", "leftover" (an earlier rehearsal's, with its marker) or "foreign".
	Dir string
	// PortInUse is true when something accepts connections on rehearsal.listen:port.
	PortInUse bool
}

// Clean reports whether a rehearsal can start here.
func (l Leftovers) Clean() bool { return (l.Dir == "absent" || l.Dir == "empty") && !l.PortInUse }

// Inspect connects to the started copy and describes it (steps.Rehearsal).
func (rh *Rehearsal) Inspect(ctx context.Context) (steps.CopyInfo, error) {
	return rh.copy.Inspect(ctx)
}

// Look reads the data directory's state and tries the port. It changes nothing.
func (rh *Rehearsal) Look(ctx context.Context) (Leftovers, error) {
	r := &rh.inv.Rehearsal
	var l Leftovers
	d, m := shell.Quote(r.DataDir), shell.Quote(r.Marker())
	script := fmt.Sprintf(`if [ ! -e %[1]s ]; then echo absent; elif [ -f %[2]s ]; then echo leftover; elif [ -d %[1]s ] && [ -z "$(ls -A %[1]s)" ]; then echo empty; else echo foreign; fi`, d, m)
	var lines []string
	err := rh.w.Hosts.Run(ctx, r.Host, r.As()+"sh -c "+shell.Quote(script), func(s steps.Stream, line string) {
		if s == steps.Stdout {
			lines = append(lines, strings.TrimSpace(line))
		}
	})
	if err != nil {
		return l, fmt.Errorf("look at %s on %s: %w", r.DataDir, r.Host, err)
	}
	if len(lines) > 0 {
		l.Dir = lines[len(lines)-1]
	}
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if c, err := rh.w.Hosts.DialContext(dctx, r.Host, "tcp", r.ListenAddr()); err == nil {
		c.Close()
		l.PortInUse = true
	}
	return l, nil
}

// Check refuses a data directory that is not absent or empty and a port in use (steps.Rehearsal).
func (rh *Rehearsal) Check(ctx context.Context) error {
	l, err := rh.Look(ctx)
	if err != nil {
		return err
	}
	return rh.busy(l)
}

// busy says what is in the way, wrapping ErrRehearsalBusy; nil when nothing is.
func (rh *Rehearsal) busy(l Leftovers) error {
	r := &rh.inv.Rehearsal
	var probs []string
	switch l.Dir {
	case "absent", "empty":
	case "leftover":
		probs = append(probs, fmt.Sprintf("%s holds an earlier rehearsal's copy; remove it with pitstop rehearse --cleanup -i %s", r.DataDir, rh.inv.Source))
	default:
		probs = append(probs, fmt.Sprintf("rehearsal.data_dir %s on %s exists and is not empty (and is not an earlier rehearsal's); give an absent or empty directory", r.DataDir, r.Host))
	}
	if l.PortInUse && l.Dir != "leftover" {
		probs = append(probs, fmt.Sprintf("rehearsal.port %d is in use on %s (%s accepts connections); choose a free port", r.Port, r.Host, r.ListenAddr()))
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrRehearsalBusy, strings.Join(probs, "; "))
}

// Prepare is what `pitstop rehearse` does before its plan starts: it refuses a directory or port
// that something else holds (ErrRehearsalBusy), and removes an earlier rehearsal's leftovers,
// saying so on out.
func (rh *Rehearsal) Prepare(ctx context.Context, out io.Writer) error {
	l, err := rh.Look(ctx)
	if err != nil {
		return err
	}
	if l.Dir == "leftover" {
		fmt.Fprintf(out, "rehearse: %s on %s holds an earlier rehearsal's leftovers (killed?); removing them first\n", rh.inv.Rehearsal.DataDir, rh.inv.Rehearsal.Host)
		if err := rh.Cleanup(ctx, out); err != nil {
			return err
		}
		if l, err = rh.Look(ctx); err != nil {
			return err
		}
	}
	return rh.busy(l)
}

// Cleanup stops the rehearsal app and stops and removes the copy, printing each command and its
// output to out. It is safe when nothing is left, and goes on after a failed command.
func (rh *Rehearsal) Cleanup(ctx context.Context, out io.Writer) error {
	var errs []error
	for _, hc := range steps.CleanupCommands(rh.inv) {
		for _, c := range hc.Commands {
			fmt.Fprintf(out, "  %s | $ %s\n", hc.Host, steps.Redact(c))
			err := rh.w.Hosts.Run(ctx, hc.Host, c, func(s steps.Stream, line string) {
				fmt.Fprintf(out, "  %s | %s\n", hc.Host, steps.Redact(line))
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", hc.Host, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Watch starts the lock sampler on the copy (steps.Rehearsal).
func (rh *Rehearsal) Watch(ctx context.Context) (steps.LockSampler, error) {
	return rh.copy.Watch(ctx)
}

// Smoke reads probe.url's path and, when probe.write_url is set, writes to its path, on the
// rehearsal app directly (steps.Rehearsal). Both must answer 2xx.
func (rh *Rehearsal) Smoke(ctx context.Context, host string, out func(string)) error {
	h := rh.inv.Host(host)
	if h == nil || h.Serve == "" {
		return fmt.Errorf("smoke test: %s has no serve address", host)
	}
	type req struct{ method, raw string }
	reqs := []req{{http.MethodGet, rh.inv.Probe.URL}}
	if w := rh.writeURL(); w != "" {
		reqs = append(reqs, req{http.MethodPost, w})
	}
	for _, rq := range reqs {
		u, err := url.Parse(rq.raw)
		if err != nil {
			return fmt.Errorf("smoke test: the probe URL cannot be parsed")
		}
		u.Host, u.User, u.Scheme = h.Serve, nil, "http"
		var body io.Reader
		if rq.method == http.MethodPost {
			body = strings.NewReader(`{"name":"pitstop rehearse smoke"}`)
		}
		hreq, err := http.NewRequestWithContext(ctx, rq.method, u.String(), body)
		if err != nil {
			return err
		}
		hreq.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := rh.client.Do(hreq)
		if err != nil {
			return fmt.Errorf("smoke test %s %s: %w", rq.method, u.Redacted(), err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		line := fmt.Sprintf("%s %s → %d (%s)", rq.method, u.Redacted(), resp.StatusCode, time.Since(start).Round(time.Millisecond))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("smoke test: %s: %s", line, strings.TrimSpace(string(b)))
		}
		out(line)
	}
	return nil
}

// writeURL is the inventory's probe.write_url as loaded (OpenRehearsal's probe does not write).
func (rh *Rehearsal) writeURL() string { return rh.smokeWrite }
