package nginx

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
)

// maxContent keeps a candidate well under Linux's limit on one command-line argument (128 KiB): the
// content travels as an argument of printf. The inventory is checked against the same limit at load.
const maxContent = inventory.MaxUpstreamBytes

// writeCommand replaces the upstream file with content atomically and keeps the current file as the
// undo file (see undoFile). Each file is first copied with `cp -p` (so the new one keeps the old one's
// mode and owner), then filled, then renamed over its target in the same directory: nginx never reads
// a half-written file. On failure the temp file is removed.
//
// keepPrev writes no undo file: the file already holds content (a retry of a switch that took
// effect), and an undo writes that content back itself.
func (b *Balancer) writeCommand(content string, keepPrev bool) string {
	f, tmp, undo := shell.Quote(b.file()), shell.Quote(b.tmpFile()), shell.Quote(b.undoFile())
	if keepPrev {
		return fmt.Sprintf("cp -p %[1]s %[2]s && printf '%%s' %[3]s > %[2]s && mv -f %[2]s %[1]s || { rc=$?; rm -f %[2]s; exit $rc; }",
			f, tmp, shell.Quote(content))
	}
	return fmt.Sprintf("cp -p %[1]s %[2]s && mv -f %[2]s %[3]s && cp -p %[1]s %[2]s && printf '%%s' %[4]s > %[2]s && mv -f %[2]s %[1]s || { rc=$?; rm -f %[2]s; exit $rc; }",
		f, tmp, undo, shell.Quote(content))
}

// restoreCommand puts the content the file had before the switch back, atomically, and removes the
// undo file: the previous file keeps the upstream live before the last switch that took effect.
func (b *Balancer) restoreCommand() string {
	f, tmp, undo := shell.Quote(b.file()), shell.Quote(b.tmpFile()), shell.Quote(b.undoFile())
	return fmt.Sprintf("cp -p %[3]s %[2]s && mv -f %[2]s %[1]s && rm -f %[3]s || { rc=$?; rm -f %[2]s; exit $rc; }", f, tmp, undo)
}

// commitCommand makes the undo file the previous file once a switch took effect.
func (b *Balancer) commitCommand() string {
	return fmt.Sprintf("mv -f %s %s", shell.Quote(b.undoFile()), shell.Quote(b.prevFile()))
}

// commit keeps the content the file had before this switch as the previous file.
func (b *Balancer) commit(ctx context.Context) error {
	res, err := b.sh(ctx, b.commitCommand())
	if err != nil {
		return fmt.Errorf("keep the previous upstream in %s on %s: %w%s", b.prevFile(), b.host(), err, res.tail())
	}
	return nil
}

// write replaces the upstream file with content.
func (b *Balancer) write(ctx context.Context, content string, keepPrev bool) error {
	if err := b.checkSize(content); err != nil {
		return err
	}
	res, err := b.sh(ctx, b.writeCommand(content, keepPrev))
	if err != nil {
		return b.writeErr(err, res)
	}
	return nil
}

func (b *Balancer) checkSize(content string) error {
	if len(content) > maxContent {
		return fmt.Errorf("candidate upstream for %s is %d bytes; pitstop writes at most %d", b.file(), len(content), maxContent)
	}
	return nil
}

func (b *Balancer) writeErr(err error, res result) error {
	return fmt.Errorf("write %s on %s (via %s): %w%s", b.file(), b.host(), b.tmpFile(), err, res.tail())
}

// restore puts the content the file had before the switch back.
func (b *Balancer) restore(ctx context.Context) error {
	res, err := b.sh(ctx, b.restoreCommand())
	if err != nil {
		return fmt.Errorf("restore %s from %s on %s: %w%s", b.file(), b.undoFile(), b.host(), err, res.tail())
	}
	return nil
}

// workers is nginx's master pid and the pids of its children (workers, cache processes).
type workers struct {
	master int
	pids   []int
}

func (w workers) String() string {
	return fmt.Sprintf("master %d, workers %s", w.master, joinPids(w.pids))
}

// replacedBy reports whether now shows a reload that took effect since w: a new master, or a child
// that was not there before. Old workers may linger while they finish requests, so their presence
// proves nothing.
func (w workers) replacedBy(now workers) bool {
	if now.master != w.master {
		return true
	}
	old := map[int]bool{}
	for _, p := range w.pids {
		old[p] = true
	}
	for _, p := range now.pids {
		if !old[p] {
			return true
		}
	}
	return false
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, " ")
}

// readWorkers reads the master pid from the pid file and lists its children.
func (b *Balancer) readWorkers(ctx context.Context) (workers, error) {
	res, err := b.sh(ctx, b.workersCommand())
	if err != nil {
		return workers{}, b.workersErr(err, res)
	}
	return b.parseWorkers(res)
}

// workersCommand prints "master PID" and the pid of each of the master's children, one a line.
func (b *Balancer) workersCommand() string {
	// An empty pid file (left by an nginx -t of another configuration) would give pgrep and ps an
	// empty pid and the operator their usage text: say what it is instead.
	return fmt.Sprintf(`p=$(cat %[1]s) && { [ -n "$p" ] || { echo "the pid file %[2]s is empty: no nginx master runs from it" >&2; exit 3; }; } && echo "master $p" && { pgrep -P "$p" || ps -o pid= --ppid "$p"; }`,
		shell.Quote(b.inv.Balancer.PidFile), strings.ReplaceAll(b.inv.Balancer.PidFile, `"`, ""))
}

func (b *Balancer) workersErr(err error, res result) error {
	return fmt.Errorf("list nginx's worker processes on %s (master pid from %s): %w%s; is nginx running with that pid file (balancer.pid_file)?",
		b.host(), b.inv.Balancer.PidFile, err, res.tail())
}

// parseWorkers reads workersCommand's output.
func (b *Balancer) parseWorkers(res result) (workers, error) {
	var w workers
	var err error
	for _, line := range res.stdout() {
		line = strings.TrimSpace(line)
		if m, ok := strings.CutPrefix(line, "master "); ok {
			w.master, err = strconv.Atoi(strings.TrimSpace(m))
			if err != nil {
				return workers{}, fmt.Errorf("pid file %s on %s holds %q, not a process id", b.inv.Balancer.PidFile, b.host(), m)
			}
			continue
		}
		if line == "" {
			continue
		}
		p, err := strconv.Atoi(line)
		if err != nil {
			return workers{}, fmt.Errorf("listing nginx's workers on %s gave %q, not a process id", b.host(), line)
		}
		w.pids = append(w.pids, p)
	}
	sort.Ints(w.pids)
	return w, nil
}
