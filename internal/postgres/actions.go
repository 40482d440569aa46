package postgres

import (
	"context"
	"fmt"
	"time"
)

// promoteWait is how long pg_promote waits for the end of recovery.
const promoteWait = 60 * time.Second

// standby returns host's node after checking that it is in recovery.
func (c *Cluster) standby(ctx context.Context, host, doing string) (*node, error) {
	n, err := c.node(host)
	if err != nil {
		return nil, err
	}
	rec, err := n.inRecovery(ctx, c.opt.QueryTimeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	if !rec {
		return nil, fmt.Errorf("%s on %s: it is %w but a primary (pg_is_in_recovery() is false): it was promoted, or the inventory names the wrong host",
			doing, host, ErrNotStandby)
	}
	return n, nil
}

// primary returns host's node after checking that it is not in recovery.
func (c *Cluster) primary(ctx context.Context, host, doing string) (*node, error) {
	n, err := c.node(host)
	if err != nil {
		return nil, err
	}
	rec, err := n.inRecovery(ctx, c.opt.QueryTimeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	if rec {
		return nil, fmt.Errorf("%s on %s: it is %w but a standby in recovery: the inventory names the wrong host, or it was never promoted",
			doing, host, ErrNotPrimary)
	}
	return n, nil
}

// PauseReplay pauses WAL replay on standby host: it keeps receiving WAL but applies none of it, so
// its data stays as it is (e.g. while the other side is upgraded).
func (c *Cluster) PauseReplay(ctx context.Context, host string) error {
	n, err := c.standby(ctx, host, "pause replay")
	if err != nil {
		return err
	}
	var state string
	err = n.queryRow(ctx, c.opt.QueryTimeout,
		"SELECT pg_wal_replay_pause(), pg_get_wal_replay_pause_state()", nil, new(string), &state)
	if err != nil {
		return n.fail("pause replay with pg_wal_replay_pause()", err)
	}
	if state == "not paused" {
		return fmt.Errorf("postgres on %s: replay is still %q after pg_wal_replay_pause(): was the standby promoted meanwhile?", host, state)
	}
	return nil
}

// ResumeReplay resumes WAL replay on standby host.
func (c *Cluster) ResumeReplay(ctx context.Context, host string) error {
	n, err := c.standby(ctx, host, "resume replay")
	if err != nil {
		return err
	}
	var state string
	err = n.queryRow(ctx, c.opt.QueryTimeout,
		"SELECT pg_wal_replay_resume(), pg_get_wal_replay_pause_state()", nil, new(string), &state)
	if err != nil {
		return n.fail("resume replay with pg_wal_replay_resume()", err)
	}
	if state != "not paused" {
		return fmt.Errorf("postgres on %s: replay is %q after pg_wal_replay_resume()", host, state)
	}
	return nil
}

// Promote turns standby host into a primary with pg_promote(wait => true) and checks that it left
// recovery. A paused replay does not stop promotion; WAL received but not replayed yet is replayed
// first.
func (c *Cluster) Promote(ctx context.Context, host string) error {
	n, err := c.standby(ctx, host, "promote")
	if err != nil {
		return err
	}
	var ok bool
	err = n.queryRow(ctx, promoteWait+c.opt.QueryTimeout,
		"SELECT pg_promote(wait => true, wait_seconds => $1)", []any{int(promoteWait / time.Second)}, &ok)
	if err != nil {
		return n.fail("promote with pg_promote()", err)
	}
	if !ok {
		return fmt.Errorf("postgres on %s: pg_promote() gave up after %s without the server leaving recovery: see its server log",
			host, promoteWait)
	}
	rec, err := n.inRecovery(ctx, c.opt.QueryTimeout)
	if err != nil {
		return fmt.Errorf("check promotion: %w", err)
	}
	if rec {
		return fmt.Errorf("postgres on %s: still in recovery after pg_promote() returned true: see its server log", host)
	}
	return nil
}
