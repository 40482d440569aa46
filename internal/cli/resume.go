package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/pitstop-ops/pitstop/internal/nginx"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// resumeFlags are run's flags about picking up an interrupted run.
type resumeFlags struct {
	journal     string // --resume JOURNAL
	fresh       bool   // --new
	acknowledge bool   // --acknowledge
}

// journalInfo is what findUnfinished reads of one journal.
type journalInfo struct {
	path     string
	header   steps.JournalHeader // the first
	last     steps.JournalHeader // the last journal-opened line: the last process to write it
	finished bool                // its last event is the plan finishing done
	mod      int64
}

// readJournalInfo reads a journal's headers and whether its plan finished.
func readJournalInfo(path string) (journalInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return journalInfo{}, err
	}
	defer f.Close()
	info := journalInfo{path: path}
	if st, err := f.Stat(); err == nil {
		info.mod = st.ModTime().UnixNano()
	}
	first := true
	var lastEv steps.Event
	err = steps.ScanJournal(f, func(ev steps.Event, h *steps.JournalHeader) {
		if h != nil {
			if first {
				info.header = *h
			}
			info.last = *h
		}
		first = false
		lastEv = ev
	})
	if info.header.Kind != steps.EvJournalOpened {
		return info, errors.New("not a pitstop journal with a header")
	}
	info.finished = lastEv.Kind == steps.EvPlanFinished && lastEv.Status == steps.StatusDone
	return info, err
}

// findUnfinished returns the newest journal in the journal directory of a run of plan on the
// inventory file invPath that did not finish, or "" when there is none.
func findUnfinished(invPath, plan string) (journalInfo, bool) {
	files, _ := filepath.Glob(filepath.Join(journalDir(), "*.jsonl"))
	var found []journalInfo
	for _, p := range files {
		info, err := readJournalInfo(p)
		if err != nil || info.header.Inventory != invPath || info.header.Plan != plan || info.finished {
			continue
		}
		found = append(found, info)
	}
	if len(found) == 0 {
		return journalInfo{}, false
	}
	sort.Slice(found, func(i, j int) bool { return found[i].mod > found[j].mod })
	return found[0], true
}

// stillRunning reports whether the process that last wrote the journal is alive on this machine.
func (j journalInfo) stillRunning() bool {
	host, _ := os.Hostname()
	if j.last.PID <= 0 || j.last.Host != host || j.last.PID == os.Getpid() {
		return false
	}
	return syscall.Kill(j.last.PID, 0) == nil
}

// chooseResume decides which journal, if any, this run resumes. It returns the journal's path ("" for
// a new run), or an exit code >= 0 after printing why the run cannot start.
func chooseResume(inv *inventory.Inventory, plan string, rf resumeFlags, stderr io.Writer) (string, int) {
	if inv.Source == "demo" {
		return "", -1 // the simulated world starts afresh every time
	}
	abs, err := filepath.Abs(inv.Source)
	if err != nil {
		abs = inv.Source
	}
	if rf.journal != "" {
		info, err := readJournalInfo(rf.journal)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "pitstop run: --resume %s: %v; give the journal of the interrupted run\n", rf.journal, err)
			return "", exitBadInput
		case info.header.Inventory != abs:
			fmt.Fprintf(stderr, "pitstop run: --resume %s: that journal is of the inventory %s, not %s\n", rf.journal, info.header.Inventory, abs)
			return "", exitBadInput
		case info.finished:
			fmt.Fprintf(stderr, "pitstop run: --resume %s: that run finished; there is nothing to resume (start a new run without --resume)\n", rf.journal)
			return "", exitBadInput
		case info.stillRunning():
			fmt.Fprintf(stderr, "pitstop run: %s is being written by pitstop pid %d on this machine; that run is not over\n", rf.journal, info.last.PID)
			return "", exitFailed
		}
		return rf.journal, -1
	}
	if rf.fresh {
		return "", -1
	}
	info, ok := findUnfinished(abs, plan)
	if !ok {
		return "", -1
	}
	if info.stillRunning() {
		fmt.Fprintf(stderr, "pitstop run: another pitstop (pid %d) is running the %s plan of %s (journal %s); wait for it, or stop it first\n", info.last.PID, plan, inv.Source, info.path)
		return "", exitFailed
	}
	return info.path, -1
}

// reclaimFrom recognises the lock of the run recorded in journal: held by the process that last
// wrote the journal (same pid, same machine); call it before this run writes its own header there. A resumed run takes that stale lock back without
// asking; any other stale lock is asked about as before.
func reclaimFrom(journal string) func(nginx.LockOwner) bool {
	info, err := readJournalInfo(journal)
	if err != nil {
		return nil
	}
	return func(o nginx.LockOwner) bool {
		return info.last.PID > 0 && o.PID == info.last.PID && o.Machine == info.last.Host
	}
}

// reconcile reads the interrupted run's journal and checks it against the world. With unexplained
// discrepancies, a headless run stops unless they were acknowledged (--acknowledge); in the cockpit
// the gate before the first step is the acknowledgment.
func reconcile(ctx context.Context, inv *inventory.Inventory, s *session, world steps.World, rf resumeFlags, headless bool, stdout, stderr io.Writer) int {
	r, err := steps.ReadResume(s.resumeFrom, s.plan)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop run: cannot resume from %s: %v\n", s.resumeFrom, err)
		return exitBadInput
	}
	r.Reconcile(ctx, inv, s.plan, world)
	s.resume = r
	if len(r.Unexplained) > 0 && headless && !rf.acknowledge {
		fmt.Fprintf(stdout, "resuming %s; what the journal says and what the world shows:\n", s.resumeFrom)
		for _, l := range r.Table() {
			fmt.Fprintln(stdout, l)
		}
		fmt.Fprintf(stderr, "pitstop run: the world differs from the journal in ways it does not explain (✗ above); check them, then run again with --acknowledge to resume anyway\n")
		return exitFailed
	}
	return -1
}
