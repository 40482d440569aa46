package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Names of the objects the reverse sync creates: the publication and logical slot on the side that
// took writes, the subscription on the side that receives them.
const (
	reverseName = "pitstop_reverse"
)

// lsn is a WAL position.
type lsn uint64

// parseLSN parses PostgreSQL's "X/Y" text form of pg_lsn. A nil or empty input gives nil.
func parseLSN(s *string) (*lsn, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	hi, lo, ok := strings.Cut(*s, "/")
	if !ok {
		return nil, fmt.Errorf("malformed pg_lsn %q", *s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("malformed pg_lsn %q", *s)
	}
	v := lsn(h<<32 | l)
	return &v, nil
}

// behind returns how many bytes pos is behind cur, never negative (positions read on two servers at
// slightly different moments can cross). ok is false when either is unknown.
func behind(cur, pos *lsn) (int64, bool) {
	if cur == nil || pos == nil {
		return 0, false
	}
	if *pos >= *cur {
		return 0, true
	}
	return int64(*cur - *pos), true
}

// later returns the more advanced of two positions, either of which may be unknown.
func later(a, b *lsn) *lsn {
	if a == nil {
		return b
	}
	if b == nil || *a >= *b {
		return a
	}
	return b
}

// snapshot is everything one reading learns from one server.
type snapshot struct {
	at  time.Time
	err error

	inRecovery bool
	current    *lsn // primary: pg_current_wal_lsn()
	received   *lsn // standby: pg_last_wal_receive_lsn()
	replayed   *lsn // standby: pg_last_wal_replay_lsn()
	pauseState string
	replayAge  *time.Duration // standby: now() - pg_last_xact_replay_timestamp()
	walrcv     string         // standby: pg_stat_wal_receiver.status, "" when no WAL receiver runs

	senders []sender      // pg_stat_replication
	sub     *subscription // pg_stat_subscription for pitstop_reverse
	slot    *slot         // pg_replication_slots for pitstop_reverse
}

// sender is one row of pg_stat_replication.
type sender struct {
	pid                        int32
	appName, clientAddr, state string
	sent, write, flush, replay *lsn
	slotType                   string // "logical", "physical" or "" without a slot
	// writeLag, flushLag and replayLag are pg_stat_replication's time lags (nil: not reported).
	writeLag, flushLag, replayLag *time.Duration
}

// subscription is the apply worker of pitstop_reverse.
type subscription struct {
	running  bool // a worker process exists
	received *lsn
}

// slot is the logical slot pitstop_reverse.
type slot struct {
	active    bool
	activePID int32
	confirmed *lsn
}

// The reading is one batch, sent in one round trip. Functions that fail in the wrong role
// (pg_current_wal_lsn on a standby) sit behind CASE so one batch fits every server.
const (
	qStatus = `SELECT pg_is_in_recovery(),
	CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
	pg_last_wal_receive_lsn()::text,
	pg_last_wal_replay_lsn()::text,
	CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END,
	CASE WHEN pg_is_in_recovery() THEN now() - pg_last_xact_replay_timestamp() END,
	(SELECT status FROM pg_stat_wal_receiver LIMIT 1)`
	qSenders = `SELECT r.pid, coalesce(r.application_name, ''), coalesce(host(r.client_addr), ''),
	coalesce(r.state, ''), r.sent_lsn::text, r.write_lsn::text, r.flush_lsn::text, r.replay_lsn::text,
	coalesce(s.slot_type, ''), r.write_lag, r.flush_lag, r.replay_lag
	FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid`
	qSubscription = `SELECT pid IS NOT NULL, received_lsn::text FROM pg_stat_subscription
	WHERE subname = '` + reverseName + `' AND relid IS NULL`
	qSlot = `SELECT active, coalesce(active_pid, 0), confirmed_flush_lsn::text FROM pg_replication_slots
	WHERE slot_name = '` + reverseName + `'`
)

// read takes one reading of n. While another reading of n is still running it does not queue: it
// returns the previous reading (or, before the first one, an error saying a reading is in progress).
func (n *node) read(ctx context.Context, timeout time.Duration) *snapshot {
	if !n.reading.TryLock() {
		n.lastMu.Lock()
		defer n.lastMu.Unlock()
		if n.last != nil {
			return n.last
		}
		return &snapshot{at: time.Now(), err: fmt.Errorf("postgres on %s: the first reading is still running", n.name)}
	}
	defer n.reading.Unlock()
	s := n.query(ctx, timeout)
	n.lastMu.Lock()
	n.last = s
	if s.err == nil {
		n.role = rolePrimary
		if s.inRecovery {
			n.role = roleStandby
		}
	}
	n.lastMu.Unlock()
	return s
}

func (n *node) query(ctx context.Context, timeout time.Duration) *snapshot {
	s := &snapshot{at: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reused := n.conn != nil
	err := n.readOnce(ctx, s)
	if err != nil && reused && ctx.Err() == nil {
		// The kept connection may have died since the last reading (a server restart, say):
		// one more try on a new connection tells that apart from a server that is down now.
		*s = snapshot{at: time.Now()}
		err = n.readOnce(ctx, s)
	}
	s.err = err
	return s
}

// readOnce runs the reading's batch on the reading connection, closing that connection on failure.
func (n *node) readOnce(ctx context.Context, s *snapshot) error {
	conn, err := n.readConn(ctx)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(qStatus)
	b.Queue(qSenders)
	b.Queue(qSubscription)
	b.Queue(qSlot)
	br := conn.SendBatch(ctx, b)
	err = s.scan(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		n.dropReadConn()
		return n.fail("read replication status", err)
	}
	return nil
}

func (s *snapshot) scan(br pgx.BatchResults) error {
	var cur, rcv, rep, pause, walrcv *string
	var age *time.Duration
	if err := br.QueryRow().Scan(&s.inRecovery, &cur, &rcv, &rep, &pause, &age, &walrcv); err != nil {
		return err
	}
	var err error
	if s.current, err = parseLSN(cur); err != nil {
		return err
	}
	if s.received, err = parseLSN(rcv); err != nil {
		return err
	}
	if s.replayed, err = parseLSN(rep); err != nil {
		return err
	}
	if pause != nil {
		s.pauseState = *pause
	}
	if walrcv != nil {
		s.walrcv = *walrcv
	}
	s.replayAge = age

	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var r sender
		var sent, write, flush, replay *string
		if err := rows.Scan(&r.pid, &r.appName, &r.clientAddr, &r.state, &sent, &write, &flush, &replay, &r.slotType,
			&r.writeLag, &r.flushLag, &r.replayLag); err != nil {
			rows.Close()
			return err
		}
		for _, f := range []struct {
			dst **lsn
			src *string
		}{{&r.sent, sent}, {&r.write, write}, {&r.flush, flush}, {&r.replay, replay}} {
			if *f.dst, err = parseLSN(f.src); err != nil {
				rows.Close()
				return err
			}
		}
		s.senders = append(s.senders, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}

	var sub subscription
	var subRcv *string
	switch err := br.QueryRow().Scan(&sub.running, &subRcv); err {
	case nil:
		if sub.received, err = parseLSN(subRcv); err != nil {
			return err
		}
		s.sub = &sub
	case pgx.ErrNoRows:
	default:
		return err
	}

	var sl slot
	var conf *string
	switch err := br.QueryRow().Scan(&sl.active, &sl.activePID, &conf); err {
	case nil:
		if sl.confirmed, err = parseLSN(conf); err != nil {
			return err
		}
		s.slot = &sl
	case pgx.ErrNoRows:
	default:
		return err
	}
	return nil
}

// physicalSenders returns the rows of pg_stat_replication that are physical standbys streaming or
// catching up (not logical walsenders, not a base backup being taken).
func (s *snapshot) physicalSenders() []sender {
	var out []sender
	for _, r := range s.senders {
		if r.slotType == "logical" || r.state == "backup" {
			continue
		}
		out = append(out, r)
	}
	return out
}

// senderFor finds the standby named host among s's physical senders: by application_name (set it to
// the inventory host name in the standby's primary_conninfo, or set the standby's cluster_name), else
// the only sender when only one standby is expected.
func (s *snapshot) senderFor(host string, expected int) *sender {
	phys := s.physicalSenders()
	for i := range phys {
		if phys[i].appName == host {
			return &phys[i]
		}
	}
	if expected == 1 && len(phys) == 1 {
		return &phys[0]
	}
	return nil
}

// senderByPID finds the walsender with the given pid.
func (s *snapshot) senderByPID(pid int32) *sender {
	for i := range s.senders {
		if s.senders[i].pid == pid {
			return &s.senders[i]
		}
	}
	return nil
}
