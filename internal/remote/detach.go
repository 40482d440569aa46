package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/steps"
)

// RunsDir is where, under the home directory of the user commands run as, each detached command
// keeps its files: RunsDir/RUN/ID/{cmd,pid,out,err,status}.
const RunsDir = ".cache/pitstop/runs"

// detachScript starts a command so that it outlives the connection and Pitstop itself, then follows
// it. $1 is the command's directory under $HOME/RunsDir, $2 the command.
//
// The first time (the script creates the directory: mkdir is atomic, so two attaches cannot both
// start it), the command starts under setsid (its own session and process group, so neither sshd
// closing the session nor a signal to Pitstop's group reaches it) with its output appended to out and
// err; it writes its pid to pid first, and when it ends its exit status to status (both atomically,
// by rename). A second run of the script with the same directory does not start the command again: it
// re-attaches.
//
// The follow loop then copies out and err as they grow and exits with the command's status once
// status exists and both files are copied. It looks every 5 ms for about the first half second,
// every 50 ms up to about 2.5 s, then every 0.2 s: a short command (an app restart inside the
// read-only window) is seen to end within milliseconds of ending, a long one costs a few processes a
// second. Each look runs one process (wc) and the shell's builtins. A command that died without
// writing a status (the host rebooted, someone killed it with -9), or never wrote its pid, ends the
// loop with 255 and says so.
const detachScript = `d="${HOME:-/tmp}/` + RunsDir + `/$1"; c=$2
mkdir -p "${d%/*}" || exit 125
if mkdir "$d" 2>/dev/null; then
  : >"$d/out"; : >"$d/err"; printf '%s\n' "$c" >"$d/cmd"
  S=; command -v setsid >/dev/null 2>&1 && S=setsid
  $S sh -c 'echo $$ >"$1/pid.tmp"; mv "$1/pid.tmp" "$1/pid"; sh -c "$2" >>"$1/out" 2>>"$1/err" </dev/null; echo $? >"$1/status.tmp"; mv "$1/status.tmp" "$1/status"' pitstop "$d" "$c" </dev/null >/dev/null 2>&1 &
fi
cd "$d" || exit 125
p=; o=0; e=0; gone=0; i=0
while :; do
  f=; [ -f status ] && f=1
  set -- $(wc -c out err 2>/dev/null)
  if [ "${1:-0}" -gt "$o" ]; then tail -c +$((o+1)) out | head -c $(($1-o)); o=$1; fi
  if [ "${3:-0}" -gt "$e" ]; then tail -c +$((e+1)) err | head -c $(($3-e)) >&2; e=$3; fi
  if [ -n "$f" ]; then read s <status; exit "$s"; fi
  [ -n "$p" ] || { [ -f pid ] && read p <pid; } || p=
  if [ -n "$p" ]; then kill -0 "$p" 2>/dev/null || gone=$((gone+1)); elif [ "$i" -gt 100 ]; then gone=3; fi
  if [ "$gone" -gt 2 ]; then echo "pitstop: the command ended without an exit status (killed, or the host restarted); see $d" >&2; exit 255; fi
  i=$((i+1)); if [ "$i" -le 100 ]; then sleep 0.005; elif [ "$i" -le 140 ]; then sleep 0.05; else sleep 0.2; fi
done`

// killScript stops a detached command ($1 as for detachScript): its whole process group, and records
// 137 (killed) as its status if it had none, so that a later re-attach learns how it ended. A command
// started a moment ago may not have written its pid yet: it waits up to a second for it.
const killScript = `d="${HOME:-/tmp}/` + RunsDir + `/$1"
[ -d "$d" ] || exit 0
i=0; while [ ! -f "$d/pid" ] && [ ! -f "$d/status" ] && [ "$i" -lt 100 ]; do sleep 0.01; i=$((i+1)); done
p=$(cat "$d/pid" 2>/dev/null) || exit 0
kill -KILL "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
[ -f "$d/status" ] || { echo 137 >"$d/status.tmp"; mv "$d/status.tmp" "$d/status"; }`

// removeScript removes a run's directory ($1 under $HOME/RunsDir) and every command's files in it.
const removeScript = `d="${HOME:-/tmp}/` + RunsDir + `/$1"
[ -e "$d" ] || exit 0
rm -rf -- "$d"`

// newRunID is a run's name when the caller gives none.
func newRunID() string {
	var b [6]byte
	rand.Read(b[:])
	return "run-" + hex.EncodeToString(b[:])
}

// RunID is the name of this pool's run directory on each host (Options.RunID, or a random one).
func (p *Pool) RunID() string { return p.opt.RunID }

// RunDir is the run's directory on a host as an operator finds it there: ~/.cache/pitstop/runs/RUN.
func (p *Pool) RunDir() string { return "~/" + RunsDir + "/" + p.opt.RunID }

// ErrCommandsLeft is returned by RemoveRun for a host where a detached command of this run may still
// run: Pitstop could not stop it or follow it to its end, so its directory is kept.
var ErrCommandsLeft = errors.New("a command of this run may still run there")

// RemoveRun removes the run's directory on host (see RunDir), over the pool's connection or with sh on
// a local host: the run is over and nothing will re-attach to its commands. A directory that is not
// there is no error. It refuses (ErrCommandsLeft) on a host where a command of this pool could not be
// stopped or followed to its end.
func (p *Pool) RemoveRun(ctx context.Context, host string) error {
	p.mu.Lock()
	left := p.unsettled[host]
	p.mu.Unlock()
	if left {
		return fmt.Errorf("%s: %w (see %s)", host, ErrCommandsLeft, p.RunDir())
	}
	name := p.opt.RunID // as RunDetached names the directory
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return fmt.Errorf("%s: run ID %q names no directory of its own; nothing removed", host, p.opt.RunID)
	}
	if err := p.Run(ctx, host, "sh -c "+shell.Quote(removeScript)+" pitstop "+shell.Quote(name), nil); err != nil {
		return fmt.Errorf("%s: remove %s: %w", host, p.RunDir(), err)
	}
	return nil
}

// unsettle notes that a command of this run may still run on host: RemoveRun keeps its directory.
func (p *Pool) unsettle(host string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unsettled == nil {
		p.unsettled = map[string]bool{}
	}
	p.unsettled[host] = true
}

// reattachFor bounds how long RunDetached keeps trying to re-attach after the connection dropped.
const reattachFor = 30 * time.Second

// RunDetached runs command on host so that it outlives the connection and this process (see
// detachScript): id names it within the run (the same id re-attaches to it instead of starting it
// again). Output is streamed to out as it is written on the host. When the connection drops, it
// reconnects and re-attaches for up to 30 s, and returns how the command really ended. Cancelling
// ctx kills the command on the host, explicitly.
func (p *Pool) RunDetached(ctx context.Context, host, id, command string, out steps.OutputFunc) error {
	t, err := p.target(host)
	if err != nil {
		return err
	}
	dir := p.opt.RunID + "/" + safeName(id)
	start := "sh -c " + shell.Quote(detachScript) + " pitstop " + shell.Quote(dir) + " " + shell.Quote(command)
	kill := "sh -c " + shell.Quote(killScript) + " pitstop " + shell.Quote(dir)
	seen := &lineSkipper{out: out}
	if t.Local {
		err = runDetachedLocal(ctx, host, dir, command, seen.fn())
	} else {
		err = p.runSSH(ctx, host, t, start, seen.fn())
		deadline := time.Now().Add(reattachFor)
		for errors.Is(err, steps.ErrConnectionLost) && ctx.Err() == nil && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			if ctx.Err() != nil {
				break
			}
			seen.rewind()
			out(steps.Stderr, "pitstop: connection to "+host+" lost; re-attaching to the command, which keeps running there")
			err = p.runSSH(ctx, host, t, start, seen.fn())
		}
	}
	if ctx.Err() != nil {
		// Abort or rollback: stop the command itself, not only Pitstop's view of it.
		kctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var kerr error
		if t.Local {
			kerr = runLocal(kctx, host, kill, nil)
		} else {
			kerr = p.runSSH(kctx, host, t, kill, nil)
		}
		if kerr != nil {
			p.unsettle(host)
			return fmt.Errorf("run %q on %s: %w; stopping it on the host failed too (%v): it may still run, see ~/%s/%s there", command, host, context.Cause(ctx), kerr, RunsDir, dir)
		}
		return fmt.Errorf("run %q on %s: %w; the command was killed on the host", command, host, context.Cause(ctx))
	}
	var xe *steps.ExitError
	if errors.As(err, &xe) {
		xe.Command = command // the script's command line is Pitstop's business
		if xe.Status == 255 {
			return fmt.Errorf("%w: %q on %s ended without an exit status (killed, or the host restarted); its output is in ~/%s/%s there", steps.ErrConnectionLost, command, host, RunsDir, dir)
		}
	}
	if errors.Is(err, steps.ErrConnectionLost) {
		p.unsettle(host)
		return fmt.Errorf("%w: %s: the connection was lost while %q ran and could not be re-attached within %s; the command keeps running on the host, with its output and exit status in ~/%s/%s", steps.ErrConnectionLost, host, command, reattachFor, RunsDir, dir)
	}
	return err
}

// safeName keeps an id usable as one path element.
func safeName(id string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, id)
}

// lineSkipper passes output lines on, and after a rewind skips the lines already passed on: a
// re-attach replays the command's output from the start.
type lineSkipper struct {
	out  steps.OutputFunc
	mu   sync.Mutex
	sent map[steps.Stream]int
	skip map[steps.Stream]int
}

func (l *lineSkipper) fn() steps.OutputFunc {
	return func(s steps.Stream, line string) {
		l.mu.Lock()
		if l.sent == nil {
			l.sent, l.skip = map[steps.Stream]int{}, map[steps.Stream]int{}
		}
		if l.skip[s] > 0 {
			l.skip[s]--
			l.mu.Unlock()
			return
		}
		l.sent[s]++
		l.mu.Unlock()
		if l.out != nil {
			l.out(s, line)
		}
	}
}

func (l *lineSkipper) rewind() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent == nil {
		l.sent, l.skip = map[steps.Stream]int{}, map[steps.Stream]int{}
	}
	for s, n := range l.sent {
		l.skip[s] = n
	}
}
