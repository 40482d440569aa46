package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// runDirs removes a run's directory of detached commands (~/.cache/pitstop/runs/RUN) on a host;
// remote.Pool is one.
type runDirs interface {
	RemoveRun(ctx context.Context, host string) error
	RunDir() string
}

// removeRunFor bounds removing the run's directories once a run is over (all hosts at once).
const removeRunFor = 15 * time.Second

// endRunDirs deals with this run's directories of detached commands on its hosts once the engine has
// returned runErr. A run that is over — the plan finished, or was aborted with no signal or halt —
// needs them no more: they are removed on every host a command of this run ran on (by its journal,
// the interrupted runs it resumed included), except where a command may still run. A run that stopped
// half-way keeps them, for the run that resumes it: a line says where. A failure to remove one is a
// warning, never the run's failure. It writes to w, before the run's last line.
func (s *session) endRunDirs(inv *inventory.Inventory, runErr error, w io.Writer) {
	if s.runDirs == nil {
		return
	}
	hosts, open, err := commandHosts(s.journal.Path(), s.journal.Header().Run)
	if err != nil {
		fmt.Fprintf(w, "pitstop: warning: cannot read the journal %s for the hosts that ran commands (%v); their output stays in %s there\n", s.journal.Path(), err, s.runDirs.RunDir())
		return
	}
	if len(hosts) == 0 {
		return
	}
	over := s.oneShot || runErr == nil || errors.Is(runErr, steps.ErrAborted) && (s.sig == nil || s.sig.signal() == nil && s.sig.halt.Reason() == "")
	if !over {
		fmt.Fprintf(w, "pitstop: the commands' output and exit status stay in %s on %s; pitstop run -i %s re-attaches to them there\n",
			s.runDirs.RunDir(), strings.Join(hosts, ", "), invArg(inv))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), removeRunFor)
	defer cancel()
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		if open[h] {
			errs[i] = fmt.Errorf("%s: %w (it started and its end is not in the journal)", h, remote.ErrCommandsLeft)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.runDirs.RemoveRun(ctx, h)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, remote.ErrCommandsLeft):
			fmt.Fprintf(w, "pitstop: kept %s on %s: %v; remove it once that command has ended\n", s.runDirs.RunDir(), hosts[i], err)
		default:
			fmt.Fprintf(w, "pitstop: warning: could not remove %s on %s: %v; the run is not affected, remove it by hand\n", s.runDirs.RunDir(), hosts[i], err)
		}
	}
}

// commandHosts reads the journal at path for the hosts where a step's command of run (the run ID of
// its headers: this process and the interrupted ones it resumes) started, sorted, and those where one
// started and its end is not recorded. Rundeck jobs run elsewhere and are not counted.
func commandHosts(path, run string) (hosts []string, open map[string]bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	ran := map[string]bool{}
	running := map[[2]string]bool{} // step, host
	cur := ""
	err = steps.ScanJournal(f, func(ev steps.Event, h *steps.JournalHeader) {
		if h != nil {
			cur = h.Run
			return
		}
		if cur != run || ev.Host == "" {
			return
		}
		switch {
		case ev.Kind == steps.EvOutput && strings.HasPrefix(ev.Text, "$ "):
			if _, job, _ := inventory.ParseRundeckJob(strings.TrimPrefix(ev.Text, "$ ")); job {
				return
			}
			ran[ev.Host] = true
			running[[2]string{ev.StepID, ev.Host}] = true
		case ev.Kind == steps.EvCommandFinished:
			delete(running, [2]string{ev.StepID, ev.Host})
		}
	})
	if err != nil {
		return nil, nil, err
	}
	open = map[string]bool{}
	for k := range running {
		open[k[1]] = true
	}
	for h := range ran {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	return hosts, open, nil
}
