package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/pitstop-ops/pitstop/steps"
)

// Replication reads every replication link: production's database to the backup's database and to
// every replica (physical), and, once a reverse sync exists, the backup's database to production's
// (logical). Each server is read at most once at a time; a server whose previous reading is still
// running contributes that previous reading. A server that cannot be read does not fail the call:
// the links through it carry Err (and Streaming false unless the other end proves otherwise).
// A standby that has been promoted no longer has a physical link and is left out.
func (c *Cluster) Replication(ctx context.Context) ([]steps.Lag, error) {
	prim := c.primaryName()
	rev := c.reverseLink()
	hosts := c.databaseHosts(rev)
	snaps := c.readAll(ctx, hosts)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading replication: %w", err)
	}

	var standbys []string
	for _, sb := range c.inv.Standbys() {
		if !c.promoted(sb, snaps[sb]) {
			standbys = append(standbys, sb)
		}
	}
	var out []steps.Lag
	for _, sb := range standbys {
		out = append(out, physicalLag(prim, snaps[prim], sb, snaps[sb], len(standbys)))
	}
	if rev == nil && snaps[prim] != nil && snaps[prim].err == nil && snaps[prim].sub != nil {
		// A subscription made by an earlier run (or another cockpit): show it too.
		rev = &reverseLink{from: c.inv.Sides.Backup.Database, to: prim}
		if _, ok := snaps[rev.from]; !ok {
			snaps[rev.from] = c.readAll(ctx, []string{rev.from})[rev.from]
		}
	}
	if rev != nil {
		out = append(out, logicalLag(rev.from, snaps[rev.from], rev.to, snaps[rev.to]))
	}
	return out, nil
}

func (c *Cluster) reverseLink() *reverseLink {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reverse
}

// databaseHosts lists every database host a reading needs, without duplicates.
func (c *Cluster) databaseHosts(rev *reverseLink) []string {
	seen := map[string]bool{}
	var out []string
	add := func(h string) {
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	add(c.primaryName())
	for _, sb := range c.inv.Standbys() {
		add(sb)
	}
	if rev != nil {
		add(rev.from)
		add(rev.to)
	}
	return out
}

// readAll reads the given hosts in parallel.
func (c *Cluster) readAll(ctx context.Context, hosts []string) map[string]*snapshot {
	out := make(map[string]*snapshot, len(hosts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() {
			var s *snapshot
			if n, err := c.node(h); err != nil {
				s = &snapshot{err: err}
			} else {
				s = n.read(ctx, c.opt.QueryTimeout)
			}
			mu.Lock()
			out[h] = s
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// promoted reports whether standby host is known to be a primary now: its reading says so, or it
// could not be read and the last thing known about it is that it is a primary.
func (c *Cluster) promoted(host string, s *snapshot) bool {
	if s != nil && s.err == nil {
		return !s.inRecovery
	}
	c.mu.Lock()
	n := c.nodes[host]
	c.mu.Unlock()
	return n != nil && n.getRole() == rolePrimary
}

// physicalLag combines what the primary says about a standby (pg_stat_replication) with what the
// standby says about itself. Positions from both are compared to the primary's current WAL position,
// taking the more advanced of the two reports at each stage.
func physicalLag(prim string, ps *snapshot, sb string, ss *snapshot, expected int) steps.Lag {
	l := steps.Lag{From: prim, To: sb, Kind: steps.Physical}
	var errs []string
	var row *sender
	var cur *lsn
	switch {
	case ps == nil:
		errs = append(errs, "no reading of "+prim)
	case ps.err != nil:
		errs = append(errs, ps.err.Error())
	case ps.inRecovery:
		errs = append(errs, fmt.Sprintf("%s is in recovery, not a primary: no standby streams from it", prim))
	default:
		cur = ps.current
		row = ps.senderFor(sb, expected)
	}

	var sent, write, flush, replay *lsn
	if row != nil {
		l.Streaming = row.state == "streaming"
		sent, write, flush, replay = row.sent, row.write, row.flush, row.replay
		if row.sent == nil {
			errs = append(errs, fmt.Sprintf("%s hides pg_stat_replication positions from this role: grant it pg_monitor", prim))
		}
	}
	standbyOK := false
	switch {
	case ss == nil:
		errs = append(errs, "no reading of "+sb)
	case ss.err != nil:
		errs = append(errs, ss.err.Error())
	case !ss.inRecovery:
		errs = append(errs, fmt.Sprintf("%s is not in recovery: it is a primary, not a standby", sb))
	default:
		standbyOK = true
		l.Paused = ss.pauseState != "" && ss.pauseState != "not paused"
		write, flush = later(write, ss.received), later(flush, ss.received)
		replay = later(replay, ss.replayed)
		if row == nil && ps != nil && ps.err == nil {
			// The primary does not list it: trust the standby's own WAL receiver.
			l.Streaming = ss.walrcv == "streaming"
		}
	}
	if row == nil {
		// Without a walsender row, sent is what the standby received.
		sent = ss0(ss).received
	}
	// The two servers are read a moment apart, so the standby's own report may be ahead of what the
	// primary said it sent. Each stage is at least as far as the next one: what was replayed was
	// flushed, what was flushed was written, what was written was sent.
	flush = later(flush, replay)
	write = later(write, flush)
	if sent != nil {
		sent = later(sent, write)
	}
	if cur != nil && sent != nil {
		l.Sent, _ = behind(cur, sent)
	}
	var okW, okF, okR bool
	l.Write, okW = behind(cur, write)
	l.Flush, okF = behind(cur, flush)
	l.Replay, okR = behind(cur, replay)
	if cur != nil && !(okW && okF && okR) && len(errs) == 0 {
		errs = append(errs, fmt.Sprintf("%s's WAL positions are unknown", sb))
	}
	if cur != nil && row == nil && !l.Streaming {
		state := "no WAL receiver runs"
		if standbyOK && ss.walrcv != "" {
			state = "its WAL receiver is " + ss.walrcv
		}
		if standbyOK || len(errs) == 0 {
			errs = append(errs, fmt.Sprintf("%s is not streaming from %s: it is not in %s's pg_stat_replication and %s",
				sb, prim, prim, state))
		} else {
			errs = append(errs, fmt.Sprintf("%s is not in %s's pg_stat_replication", sb, prim))
		}
	}
	if row != nil && !l.Streaming && len(errs) == 0 {
		errs = append(errs, fmt.Sprintf("%s's walsender on %s is in state %q, not streaming", sb, prim, row.state))
	}
	// The replay delay in time means something only while there is something to replay: with an
	// idle primary, now() - pg_last_xact_replay_timestamp() grows although nothing is behind.
	if standbyOK && okR && l.Replay > 0 && ss.replayAge != nil && *ss.replayAge > 0 {
		l.Delay, l.HasDelay = *ss.replayAge, true
	}
	// The primary's time lags likewise: PostgreSQL keeps the last values while nothing is written.
	if row != nil && okR && l.Replay > 0 && row.replayLag != nil {
		l.ReplayLag, l.HasTimeLags = *row.replayLag, true
		if row.writeLag != nil {
			l.WriteLag = *row.writeLag
		}
		if row.flushLag != nil {
			l.FlushLag = *row.flushLag
		}
	}
	l.Err = oneLine(strings.Join(errs, "; "))
	return l
}

// ss0 returns s, or an empty snapshot for nil or failed readings, so fields can be read safely.
func ss0(s *snapshot) *snapshot {
	if s == nil || s.err != nil {
		return &snapshot{}
	}
	return s
}

// logicalLag reads the reverse sync: from (the old backup, publishing through the slot) to `to`
// (production, subscribed). Bytes are measured against from's current WAL position: Sent, Write and
// Flush from the walsender serving the slot, Replay from the slot's confirmed_flush_lsn, which the
// subscriber advances once it has applied and flushed a change.
func logicalLag(from string, fs *snapshot, to string, ts *snapshot) steps.Lag {
	l := steps.Lag{From: from, To: to, Kind: steps.Logical}
	var errs []string
	var cur *lsn
	var row *sender
	switch {
	case fs == nil:
		errs = append(errs, "no reading of "+from)
	case fs.err != nil:
		errs = append(errs, fs.err.Error())
	case fs.inRecovery:
		errs = append(errs, fmt.Sprintf("%s is in recovery: it cannot publish changes until promoted", from))
	case fs.slot == nil:
		errs = append(errs, fmt.Sprintf("%s has no replication slot %s: start the capture first", from, reverseName))
	default:
		cur = fs.current
		if fs.slot.active {
			row = fs.senderByPID(fs.slot.activePID)
		}
		l.Replay, _ = behind(cur, fs.slot.confirmed)
		if row != nil {
			l.Streaming = row.state == "streaming"
			l.Sent, _ = behind(cur, row.sent)
			l.Write, _ = behind(cur, later(row.write, fs.slot.confirmed))
			l.Flush, _ = behind(cur, later(row.flush, fs.slot.confirmed))
		} else {
			l.Sent, l.Write, l.Flush = l.Replay, l.Replay, l.Replay
		}
	}
	switch {
	case ts == nil:
		errs = append(errs, "no reading of "+to)
	case ts.err != nil:
		errs = append(errs, ts.err.Error())
	case ts.sub == nil:
		errs = append(errs, fmt.Sprintf("%s has no subscription %s", to, reverseName))
	case !ts.sub.running:
		errs = append(errs, fmt.Sprintf("%s's subscription %s has no apply worker running: see %s's server log", to, reverseName, to))
	default:
		if fs == nil || fs.err != nil {
			// Only the subscriber can be read: it is streaming if its worker has received something.
			l.Streaming = ts.sub.received != nil
		}
	}
	if cur != nil && !l.Streaming && len(errs) == 0 {
		errs = append(errs, fmt.Sprintf("no walsender on %s is streaming slot %s to %s", from, reverseName, to))
	}
	l.Err = oneLine(strings.Join(errs, "; "))
	return l
}

// oneLine folds a multi-line message (pgx lists each address it tried on a line of its own) so that a
// reading's error fits one line of a table.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, ":\n\t", ": ")
	s = strings.ReplaceAll(s, "\n\t", "; ")
	return strings.ReplaceAll(s, "\n", " ")
}
