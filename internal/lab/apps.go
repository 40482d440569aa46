package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/pitstop-ops/pitstop/demo/app"
)

// appArgs are the arguments of the pitstop binary that run one application instance.
func (l *layout) appArgs(host, version string) []string {
	db := appDB(l.primary())
	switch host {
	case hostAppBack:
		db = appDB(l.standby())
	case hostAppRehearse:
		db = appDB(l.rehearsalCopy()) // the copy a rehearsal starts
	}
	args := []string{"lab", "app", "--version", version, "--listen", l.appAddr(host), "--db", db,
		"--instance", host, "--pid-file", l.pidFile(host)}
	if l.Variant != "" {
		args = append(args, "--variant", l.Variant)
	}
	return args
}

// startApp starts one application instance as its own process (its own session, so it outlives the
// command that started it), logging to DIR/logs/HOST.log, and waits until /health answers.
func startApp(ctx context.Context, l *layout, host, version string) error {
	logf, err := os.OpenFile(l.logFile(host), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open the log of %s: %w", host, err)
	}
	defer logf.Close()
	cmd := exec.Command(l.Pitstop, l.appArgs(host, version)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = l.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s with %s: %w", host, l.Pitstop, err)
	}
	exited := make(chan error, 1)
	// Reap the process when it exits while we still run (tests); a CLI exits first and leaves it to init.
	go func() { exited <- cmd.Wait() }()
	if err := waitHealth(ctx, l.appAddr(host), version, l.Variant, 10*time.Second, exited); err != nil {
		return fmt.Errorf("%s (%s) did not come up: %w\nlast lines of %s:\n%s", host, l.appAddr(host), err,
			l.logFile(host), tailFile(l.logFile(host), 10))
	}
	return nil
}

// waitHealth waits until GET http://addr/health answers 200 with X-App-Version version, or exited
// says the process died.
func waitHealth(ctx context.Context, addr, version, variant string, d time.Duration, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	last := "no answer"
	for {
		h, status, err := getHealth(ctx, addr, variant)
		switch {
		case err != nil:
			last = err.Error()
		case status == http.StatusOK && h.Version == version:
			return nil
		default:
			last = fmt.Sprintf("HTTP %d, version %q, database %s %s", status, h.Version, h.Database, h.Error)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the process exited (%v)", err)
		case <-ctx.Done():
			return fmt.Errorf("no healthy %s answer from http://%s/health within %s (last: %s)", version, addr, d, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// getHealth fetches an application's /health; for the JSON variant, /status, whose release is the
// version.
func getHealth(ctx context.Context, addr, variant string) (app.Health, int, error) {
	var h app.Health
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if variant == app.VariantJSON {
		var s app.Status
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
		if err != nil {
			return h, 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return h, 0, err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			return h, resp.StatusCode, fmt.Errorf("HTTP %d with a body that is not the app's status JSON: %w", resp.StatusCode, err)
		}
		return app.Health{Version: s.Release, Instance: s.Instance, Database: s.Database}, resp.StatusCode, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
	if err != nil {
		return h, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, resp.StatusCode, fmt.Errorf("HTTP %d with a body that is not the app's health JSON: %w", resp.StatusCode, err)
	}
	return h, resp.StatusCode, nil
}
