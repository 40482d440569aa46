package nginx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// SwitchError is the error of a failed switch: the stage that failed, why, and the state the switch
// left the balancer in after undoing itself. Errors wrapped in Err include ErrTestFailed,
// ErrReloadIgnored and ErrNotServed.
type SwitchError struct {
	To inventory.Side
	// Stage is what the switch was doing, e.g. "testing the configuration".
	Stage string
	Err   error
	// Restored is true when the upstream file holds its previous content again.
	Restored bool
	// State says where the balancer is now and, when it needs a person, what to do.
	State string
}

func (e *SwitchError) Error() string {
	return fmt.Sprintf("switch to %s failed while %s: %v. Now: %s", e.To, e.Stage, e.Err, e.State)
}

// Unwrap returns the cause.
func (e *SwitchError) Unwrap() error { return e.Err }

// reloadState is what a reload did, as far as the worker pids tell.
type reloadState int

const (
	notReloaded      reloadState = iota // the reload command was not run
	reloadIgnored                       // it ran, the workers stayed: nginx runs what it ran before
	reloadTookEffect                    // new workers: nginx runs the file as it was at the reload
	reloadUnknown                       // it ran and failed, and the workers could not be read
)

// Switch makes side `to` live. It writes the candidate upstream atomically (keeping the current file
// as FILE.pitstop-prev), runs balancer.test, reads nginx's worker pids, runs balancer.reload, waits
// until new workers replaced them, then proves that users are served by `to` (see proveDrained).
// When any stage fails after the file was replaced, it restores the previous file, reloads again if it
// had reloaded, checks that too, and returns a *SwitchError whose State says where the balancer is
// now. The Change describes the attempted change even on error. Each stage writes one line to out.
func (b *Balancer) Switch(ctx context.Context, to inventory.Side, out func(line string)) (steps.Change, error) {
	return b.switchTo(ctx, to, out, nil)
}

// switchTo is Switch. For a member of a Group, which proves traffic once every member is switched, it
// sets *reloaded to nginx's processes from before the reload, for the group to wait on.
func (b *Balancer) switchTo(ctx context.Context, to inventory.Side, out func(line string), reloaded *workers) (steps.Change, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	say := func(format string, a ...any) {
		if out != nil {
			out(fmt.Sprintf(format, a...))
		}
	}
	ch, err := b.switchOnce(ctx, to, say, reloaded)
	if errors.Is(err, errStale) {
		say("the file is not as Pitstop last saw it (or that cannot be checked there); nothing was changed; reading it again")
		ch, err = b.switchOnce(ctx, to, say, reloaded)
	}
	return ch, err
}

// errStale: the upstream file was not as Pitstop last saw it, and nothing was changed.
var errStale = errors.New("the upstream file changed since Pitstop last saw it")

// switchOnce is Switch, once: with the file as Pitstop last saw it when it knows it, failing with
// errStale (nothing changed) when the file no longer holds that.
func (b *Balancer) switchOnce(ctx context.Context, to inventory.Side, say func(string, ...any), reloaded *workers) (steps.Change, error) {
	if to != inventory.Production && to != inventory.Backup {
		return steps.Change{}, fmt.Errorf("switch to %q: a balancer switches to %s or %s", to, inventory.Production, inventory.Backup)
	}
	if len(b.inv.Sides.Get(to).Apps) == 0 {
		return steps.Change{}, fmt.Errorf("switch to %s: the inventory lists no app host on %s (sides.%s.apps); nothing was changed", to, to, to)
	}
	ch := steps.Change{File: b.file(), To: string(to), Host: b.host()}
	s := &switcher{b: b, ch: &ch, to: to, say: say}

	// The file as Pitstop last read or wrote it saves reading it again: the same shell that writes the
	// candidate first checks that the file still holds exactly that (its SHA-256), and stops before
	// anything changed when it does not (or cannot tell), and the switch starts again from a fresh read.
	before, cached := b.known()
	if !cached {
		var err error
		if before, err = b.read(ctx); err != nil {
			return ch, &SwitchError{To: to, Stage: "reading the upstream file", Err: err, State: "nothing was changed"}
		}
	}
	var err error
	ch.Before = before
	if ch.After, err = b.render(before, to); err != nil {
		return ch, &SwitchError{To: to, Stage: "preparing the candidate upstream", Err: fmt.Errorf("upstream file %s on %s: %w", b.file(), b.host(), err), State: "nothing was changed"}
	}
	if from, err := sideOf(b.inv, before); err != nil {
		ch.From = "unknown"
		say("%s on %s names no side of the inventory (%v); switching anyway, its content is kept in %s", b.file(), b.host(), err, b.undoFile())
	} else {
		ch.From, s.from = string(from), from
		say("%s on %s sends traffic to %s", b.file(), b.host(), from)
	}
	same := before == ch.After
	s.same = same
	if same {
		say("it already holds the %s upstream; writing and reloading anyway so that nginx surely runs it (%s keeps the upstream that was live before)", to, b.prevFile())
	} else {
		say("writing the %s upstream to %s (atomic rename; previous content kept in %s until the switch took effect, then in %s)", to, b.file(), b.undoFile(), b.prevFile())
	}
	if err := b.checkSize(ch.After); err != nil {
		return s.writeFailed(ctx, err)
	}
	// Write, test, read nginx's processes and reload in one shell on the balancer host (one process,
	// or one SSH session); the first that fails stops the rest.
	test, reload := b.inv.Balancer.Test, b.inv.Balancer.Reload
	stages := []string{b.writeCommand(ch.After, same), test, b.workersCommand(), reload}
	if cached {
		stages = append([]string{b.unchangedCommand(before)}, stages...)
	}
	res, failed, err := b.sequence(ctx, stages...)
	if cached {
		if failed == 0 {
			b.forget()
			return ch, errStale
		}
		res, failed = res[1:], failed-1
	}
	b.wrote(ch.After, failed > 0)
	if failed == 0 {
		return s.writeFailed(ctx, b.writeErr(err, res[0]))
	}
	say("testing the configuration: %s", test)
	if failed == 1 {
		for _, line := range res[1].all() {
			say("  %s", line)
		}
		cause := fmt.Errorf("%w: %w%s", ErrTestFailed, b.cmdErr(test, err), res[1].tail())
		if errors.Is(err, context.DeadlineExceeded) { // it did not answer: nothing was rejected
			cause = err
		}
		return s.undo(ctx, "testing the configuration", cause, notReloaded)
	}
	say("configuration test passed; reading nginx's processes and reloading: %s", reload)
	if failed == 2 {
		return s.undo(ctx, "reading nginx's worker pids before the reload", b.workersErr(err, res[2]), notReloaded)
	}
	old, perr := b.parseWorkers(res[2])
	if perr != nil {
		// The listing was unreadable, not missing: the reload may have run.
		return s.undo(ctx, "reading nginx's worker pids before the reload", perr, reloadUnknown)
	}
	if err != nil {
		cause := fmt.Errorf("%w%s", b.cmdErr(reload, err), res[3].tail())
		return s.undo(ctx, "reloading nginx", cause, b.reloadedSince(ctx, old))
	}
	say("reload sent (before: %s)", old)
	// The wait for the old workers to go — ending them first, with old_workers: quit — starts now,
	// beside the wait for the new ones: it ends them as soon as the new ones run on the host, not once
	// Pitstop has seen that from here.
	var drain *drainRun
	if !b.grouped && b.verify != nil {
		drain = b.startDrain(ctx, old)
	}
	now, err := b.awaitReload(ctx, old)
	if err != nil {
		drain.stop()
		r := reloadIgnored
		if ctx.Err() != nil { // cancelled while waiting: nginx may have taken it meanwhile
			r = b.reloadedSince(ctx, old)
		}
		return s.undo(ctx, "proving the reload took effect", err, r)
	}
	say("reload took effect: %s (old workers finish their requests, then exit)", now)

	if b.grouped {
		if reloaded != nil {
			*reloaded = old
		}
		say("%s: reload took effect; traffic is verified once every balancer is switched", b.host())
		return ch, nil
	}
	if b.verify == nil {
		say("traffic NOT verified: no probe verifier was given, so nothing proved that %s serves the requests", to)
		say("%s is live (unverified)", to)
		return ch, s.commit(ctx)
	}
	ev, err := proveDrained(ctx, b.verify, to, []*Balancer{b}, []*drainRun{drain}, say)
	if err != nil {
		return s.undo(ctx, "verifying traffic", fmt.Errorf("%w: %w", ErrNotServed, err), reloadTookEffect)
	}
	say("verified: %s", ev)
	say("%s is live", to)
	return ch, s.commit(ctx)
}

// proveDrained shows that users are served by side `to` once each balancer in bs took its reload. It
// first waits, up to DrainTimeout, until every process from before the reload has exited (drains[i],
// the wait startDrain began for bs[i]): nginx's master tells its old workers to stop
// only about 100 ms after it started the new ones, and until then they keep taking requests with the
// old upstream (see awaitDrained, which ends them itself). Once they are gone no process of nginx runs
// the old configuration, and the verifier makes VerifyRequests requests through the balancer at once,
// one after another, which must all be served by `to` (VerifyTimeout bounds the retries).
//
// Old workers that outlive DrainTimeout still finish long requests (downloads, websockets) and may
// keep doing so for as long as nginx's worker_shutdown_timeout allows; the proof then falls back to
// the probes' own requests: VerifyRequests consecutive ones over at least the prober's span, all
// served by `to`.
func proveDrained(ctx context.Context, verify Verifier, to inventory.Side, bs []*Balancer, drains []*drainRun, say func(string, ...any)) (string, error) {
	first := bs[0]
	var lingering []string
	var took time.Duration
	for i, b := range bs {
		d := drains[i]
		left, err := d.wait(say)
		if err != nil {
			return "", err
		}
		took = max(took, d.took)
		if len(left) > 0 {
			lingering = append(lingering, fmt.Sprintf("%d on %s (%s)", len(left), b.host(), joinPids(left)))
		}
	}
	if len(lingering) > 0 {
		say("process(es) of the old configuration still run after %s: %s; they finish long requests (downloads, websockets). Proving by the probes' own requests instead (up to %s)",
			first.DrainTimeout, strings.Join(lingering, ", "), first.VerifyTimeout)
		return verify.ServedBy(ctx, to, first.VerifyTimeout)
	}
	ev, err := verify.ServedNow(ctx, to, first.VerifyRequests, first.VerifyTimeout)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("nginx's old workers exited (%s after the wait for them began), then %s", took.Round(time.Millisecond), ev), nil
}

// drainRun is a wait for a balancer's old workers to go (awaitDrained) running in the background.
type drainRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	// Set when done: what awaitDrained returned and said, and how long it took.
	left  []int
	err   error
	lines []string
	took  time.Duration
}

// startDrain starts awaitDrained for old; its lines are kept until wait passes them on.
func (b *Balancer) startDrain(ctx context.Context, old workers) *drainRun {
	dctx, cancel := context.WithCancel(ctx)
	d := &drainRun{cancel: cancel, done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(d.done)
		d.left, d.err = b.awaitDrained(dctx, old, func(format string, a ...any) { d.lines = append(d.lines, fmt.Sprintf(format, a...)) })
		d.took = time.Since(start)
	}()
	return d
}

// wait returns the drain's result, after saying what it said.
func (d *drainRun) wait(say func(string, ...any)) ([]int, error) {
	<-d.done
	d.cancel()
	for _, l := range d.lines {
		say("%s", l)
	}
	return d.left, d.err
}

// stop ends the drain (a reload that did not take effect) and waits for it; nil does nothing.
func (d *drainRun) stop() {
	if d == nil {
		return
	}
	d.cancel()
	<-d.done
}

// awaitDrained waits until none of old's children runs any more, and returns those still running
// after DrainTimeout. With balancer.old_workers: quit (the default) it first ends the old workers the
// way nginx's master does 100 ms after a reload: once as many new workers run as old ones did, it
// sends each old worker that is still a worker of this master the graceful-shutdown signal (QUIT):
// it stops accepting, closes idle keep-alive connections and exits when its requests are done. The
// wait is one command on the balancer host that looks every 5 ms (in /proc, or with ps where there is
// none) — one process or SSH session, not one per look. It fails only when ctx ends; when the command
// itself fails, it returns old's children as if they still ran (the proof then falls back to the
// probes' window).
func (b *Balancer) awaitDrained(ctx context.Context, old workers, say func(string, ...any)) ([]int, error) {
	if len(old.pids) == 0 {
		return nil, nil
	}
	quit := ""
	if b.inv.Balancer.OldWorkers != inventory.OldWorkersWait {
		quit = quitCommand(old, b.inv.Balancer.Reload)
	}
	res, err := b.sh(ctx, quit+drainCommand(old.pids, b.DrainTimeout))
	if ctx.Err() != nil {
		return nil, fmt.Errorf("waiting for nginx's old workers to exit: %w", ctx.Err())
	}
	var left []int
	for _, line := range res.stdout() {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "pitstop-quit-sent "):
			say("sent QUIT (graceful shutdown) to nginx's old worker(s) %s on %s, as nginx's master does 100 ms after a reload", strings.TrimPrefix(line, "pitstop-quit-sent "), b.host())
		case strings.HasPrefix(line, "pitstop-quit-failed "):
			say("could not send QUIT to nginx's old worker(s) %s on %s (not permitted?): nginx's master ends them about 100 ms after the reload. Run Pitstop's commands there as nginx's user or root, or set balancer.old_workers: wait", strings.TrimPrefix(line, "pitstop-quit-failed "), b.host())
		case strings.HasPrefix(line, "pitstop-quit-skipped "):
			say("did not end nginx's old workers on %s: %s; nginx's master ends them about 100 ms after the reload", b.host(), strings.TrimPrefix(line, "pitstop-quit-skipped "))
		default:
			if p, perr := strconv.Atoi(line); perr == nil {
				left = append(left, p)
			}
		}
	}
	if err == nil {
		return nil, nil
	}
	if len(left) == 0 {
		left = old.pids
	}
	return left, nil
}

// quitCommand sends nginx's old workers (old's children titled "worker process", not yet "is shutting
// down" from an earlier reload, still children of old's master) the QUIT signal once as many new
// workers run as there were old ones (it waits up to a second for them, and sends nothing without
// them: a reload that did not take effect keeps its old workers), printing "pitstop-quit-sent PIDS", "pitstop-quit-failed PIDS" or
// "pitstop-quit-skipped WHY". Where reload runs under sudo, so does kill (sudo -n: never a prompt).
// It needs /proc to tell workers and parents; without it nothing is sent.
func quitCommand(old workers, reload string) string {
	kill := killCommand(reload)
	return fmt.Sprintf(`M=%d; OLD="%s"
isworker() { grep -q "worker process" "/proc/$1/cmdline" 2>/dev/null && ! grep -q "shutting down" "/proc/$1/cmdline"; }
ours() { read -r _ _ _ pp _ <"/proc/$1/stat" 2>/dev/null && [ "$pp" = "$M" ]; }
if [ -d /proc/self ]; then
  want=0; for p in $OLD; do isworker "$p" && want=$((want+1)); done
  i=0
  while :; do
    have=0; for c in $(pgrep -P "$M" 2>/dev/null); do case " $OLD " in *" $c "*) ;; *) isworker "$c" && have=$((have+1));; esac; done
    [ "$have" -ge "$want" ] && break
    i=$((i+1)); [ "$i" -gt 200 ] && break
    sleep 0.005
  done
  if [ "$have" -lt "$want" ]; then
    # No new workers (yet): the reload did not take effect, or is slow. Ending the old workers now
    # would leave nginx without its workers, and its master would start them again with the old
    # configuration; nginx's master ends them itself when the reload takes effect.
    echo "pitstop-quit-skipped the new workers did not start within a second"
  else
    sent=; failed=
    for p in $OLD; do
      if ours "$p" && isworker "$p"; then
        if %s -QUIT "$p" 2>/dev/null; then sent="$sent $p"; else failed="$failed $p"; fi
      fi
    done
    [ -n "$sent" ] && echo "pitstop-quit-sent$sent"
    [ -n "$failed" ] && echo "pitstop-quit-failed$failed"
  fi
else
  echo "pitstop-quit-skipped no /proc to tell nginx's workers"
fi
`, old.master, joinPids(old.pids), kill)
}

// killCommand is how Pitstop signals nginx's processes: under sudo (-n: never a prompt) where
// balancer.reload runs under sudo, else as the SSH user.
func killCommand(reload string) string {
	if strings.HasPrefix(strings.TrimSpace(reload), "sudo ") {
		return "sudo -n kill"
	}
	return "kill"
}

// drainCommand waits until none of pids runs (a zombie does not), looking every 5 ms for up to
// timeout; then it exits 1 after printing those still running, one a line.
func drainCommand(pids []int, timeout time.Duration) string {
	n := max(int(timeout/(5*time.Millisecond)), 1)
	// A worker that has exited stays a zombie until its master reaps it, which nginx's master does only
	// after its 100 ms sleep: a zombie counts as gone.
	return fmt.Sprintf(`if [ -d /proc/self ]; then alive() { read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null && [ "$st" != Z ]; }; else alive() { s=$(ps -o stat= -p "$1" 2>/dev/null) && case "$s" in Z*) false;; esac; }; fi
i=0
for p in %s; do
  while alive "$p"; do
    i=$((i+1)); if [ "$i" -gt %d ]; then for q in %[1]s; do alive "$q" && echo "$q"; done; exit 1; fi
    sleep 0.005
  done
done`, joinPids(pids), n)
}

// pause waits between two readings of nginx's processes: PollEvery during the first second of a
// wait that began at start (a reload takes effect, and old workers exit, within a few hundred
// milliseconds), then ten times that.
func (b *Balancer) pause(ctx context.Context, start time.Time) error {
	d := b.PollEvery
	if time.Since(start) > time.Second {
		d *= 10
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// cmdErr makes sure an error of command names the command and the host: a *steps.ExitError does.
func (b *Balancer) cmdErr(command string, err error) error {
	var ee *steps.ExitError
	if errors.As(err, &ee) {
		return err
	}
	return fmt.Errorf("`%s` on %s: %w", command, b.host(), err)
}

// awaitReload polls the worker pids until they show that a reload took effect, or ProofTimeout passes.
func (b *Balancer) awaitReload(ctx context.Context, old workers) (workers, error) {
	start := time.Now()
	deadline := start.Add(b.ProofTimeout)
	last := old
	var lastErr error
	read := false // whether any reading succeeded
	for {
		w, err := b.readWorkers(ctx)
		if err == nil {
			if old.replacedBy(w) {
				return w, nil
			}
			last, read = w, true
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			break
		}
		if err := b.pause(ctx, start); err != nil {
			return last, fmt.Errorf("waiting for nginx's new workers: %w", err)
		}
	}
	if !read {
		return last, fmt.Errorf("%w: cannot tell, nginx's processes could not be read for %s: %w", ErrReloadIgnored, b.ProofTimeout, lastErr)
	}
	return last, fmt.Errorf("%w: %s after `%s` nginx still has the same processes (%s), so it keeps running its old configuration. "+
		"nginx does this when a new worker cannot bind a listen port (its error log then says \"still could not bind()\"), which `nginx -t` does not check",
		ErrReloadIgnored, b.ProofTimeout, b.inv.Balancer.Reload, last)
}

// reloadedSince reads the workers once after a failed reload command, to tell whether nginx took it.
func (b *Balancer) reloadedSince(ctx context.Context, old workers) reloadState {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.ProofTimeout)
	defer cancel()
	now, err := b.readWorkers(ctx)
	switch {
	case err != nil:
		return reloadUnknown
	case old.replacedBy(now):
		return reloadTookEffect
	}
	return reloadIgnored
}

// switcher carries one switch's state into its failure paths.
type switcher struct {
	b    *Balancer
	ch   *steps.Change
	to   inventory.Side
	from inventory.Side // "" when the previous file named no side
	say  func(format string, a ...any)
	// same is true when the file already held the candidate: the previous file then keeps an older
	// upstream, so an undo writes the content back instead of restoring the previous file.
	same bool
}

// commit keeps the file's content before this switch, which took effect, as the previous file. A
// failure is reported but does not undo the switch: users are where they should be.
func (s *switcher) commit(ctx context.Context) error {
	if s.same {
		return nil
	}
	if err := s.b.commit(context.WithoutCancel(ctx)); err != nil {
		s.say("WARNING: %v", err)
	}
	return nil
}

// fromName names what the file held before the switch.
func (s *switcher) fromName() string {
	if s.from == "" {
		return "its previous (unrecognised) upstream"
	}
	return "the " + string(s.from) + " upstream"
}

// undoContext outlives a cancelled switch: the undo must run to its end.
func (s *switcher) undoContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 2*s.b.ProofTimeout+s.b.VerifyTimeout+time.Minute)
}

// writeFailed handles a failed write: the file is normally untouched (the rename is the write's last
// act), but a write cut short by a cancelled context may have renamed already, so look.
func (s *switcher) writeFailed(ctx context.Context, cause error) (steps.Change, error) {
	b := s.b
	uctx, cancel := s.undoContext(ctx)
	defer cancel()
	now, err := b.read(uctx)
	switch {
	case err != nil:
		return *s.ch, &SwitchError{To: s.to, Stage: "writing the upstream file", Err: cause,
			State: fmt.Sprintf("cannot tell whether %s was replaced: reading it failed too (%v); nginx was not reloaded, so it still runs %s. Check the file by hand", b.file(), err, s.fromName())}
	case now == s.ch.After && now != s.ch.Before:
		return s.undo(ctx, "writing the upstream file", cause, notReloaded)
	}
	return *s.ch, &SwitchError{To: s.to, Stage: "writing the upstream file", Err: cause,
		State: fmt.Sprintf("%s was not changed and nginx was not reloaded: it still runs %s", b.file(), s.fromName())}
}

// undo restores the previous upstream file after a failed stage, reloads nginx again when the switch
// had reloaded it, checks the reload and the traffic, and returns the error describing all of it.
func (s *switcher) undo(ctx context.Context, stage string, cause error, r reloadState) (steps.Change, error) {
	b := s.b
	uctx, cancel := s.undoContext(ctx)
	defer cancel()
	e := &SwitchError{To: s.to, Stage: stage, Err: cause}
	b.forget() // the restore below writes the file
	s.say("FAILED while %s: %v", stage, cause)
	s.say("undoing: restoring %s from %s", b.file(), b.undoFile())
	restore := b.restore
	if s.same {
		restore = func(ctx context.Context) error { return b.write(ctx, s.ch.Before, true) }
	}
	if err := restore(uctx); err != nil {
		e.State = fmt.Sprintf("restoring the previous upstream FAILED too (%v): %s still names %s and %s. Restore it by hand: cp -p %s %s && %s",
			err, b.file(), s.to, describeNginx(r, s), b.undoFile(), b.file(), b.inv.Balancer.Reload)
		s.say("now: %s", e.State)
		return *s.ch, e
	}
	e.Restored = true
	state := []string{fmt.Sprintf("%s holds %s again", b.file(), s.fromName())}
	if r == notReloaded {
		state = append(state, "nginx was not reloaded, so it still runs "+s.fromName()+" as before")
		e.State = strings.Join(state, "; ")
		s.say("now: %s", e.State)
		return *s.ch, e
	}

	took := false
	old, err := b.readWorkers(uctx)
	if err == nil {
		s.say("reloading nginx with the restored file: %s", b.inv.Balancer.Reload)
		var res result
		if res, err = b.sh(uctx, b.inv.Balancer.Reload); err != nil {
			err = fmt.Errorf("%w%s", b.cmdErr(b.inv.Balancer.Reload, err), res.tail())
		} else if _, err = b.awaitReload(uctx, old); err == nil {
			took = true
		}
	}
	switch {
	case took:
		state = append(state, "nginx reloaded it (new workers), so it runs "+s.fromName())
	case r == reloadIgnored:
		state = append(state, fmt.Sprintf("nginx did not take this reload either (%v), so it still runs the configuration it ran before the switch: %s. "+
			"Fix what stops nginx's reloads (see its error log) before switching again", err, s.fromName()))
	case r == reloadTookEffect:
		state = append(state, fmt.Sprintf("DANGER: nginx did not take the restoring reload (%v), so it still runs the %s upstream although the file names %s. "+
			"Fix the cause (see nginx's error log), then run `%s` on %s", err, s.to, s.fromName(), b.inv.Balancer.Reload, b.host()))
	default:
		state = append(state, fmt.Sprintf("nginx did not take the restoring reload (%v) and whether it took the switch's reload is unknown: it runs either %s or the %s upstream. "+
			"Check nginx on %s, then run `%s`", err, s.fromName(), s.to, b.host(), b.inv.Balancer.Reload))
	}
	switch {
	case b.grouped:
	case b.verify == nil:
		state = append(state, "traffic not verified (no probe verifier)")
	case s.from == "":
		state = append(state, "traffic not verified (the previous upstream names no side to expect)")
	default:
		s.say("waiting until probes are served by %s again (up to %s)", s.from, b.VerifyTimeout)
		if ev, err := b.verify.ServedBy(uctx, s.from, b.VerifyTimeout); err != nil {
			state = append(state, fmt.Sprintf("probes do NOT show %s serving: %v", s.from, err))
		} else {
			state = append(state, "verified: "+ev)
		}
	}
	e.State = strings.Join(state, "; ")
	s.say("now: %s", e.State)
	return *s.ch, e
}

// describeNginx says what nginx runs when the file could not be restored.
func describeNginx(r reloadState, s *switcher) string {
	switch r {
	case notReloaded:
		return "nginx was not reloaded (it still runs " + s.fromName() + ")"
	case reloadIgnored:
		return "nginx did not take the reload (it still runs " + s.fromName() + ")"
	case reloadTookEffect:
		return "nginx runs the " + string(s.to) + " upstream"
	}
	return "whether nginx took the reload is unknown"
}
