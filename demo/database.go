package demo

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// dbRole is what a simulated PostgreSQL server is doing.
type dbRole int

const (
	rolePrimary dbRole = iota
	roleStandby
	roleRebuilding // stopped and being re-created by the reverse-sync rebuild commands
)

const (
	// netSpeed is how fast a standby receives WAL it is behind on, in bytes per second.
	netSpeed = 40 << 20
	// applySpeed is how fast the logical reverse sync applies a backlog.
	applySpeed = 4 << 20
	// backlogFloor is the replay backlog above which a link reports a replay delay.
	backlogFloor = 64 << 10
	// captureSlot names the logical slot the simulated capture uses in error messages.
	captureSlot = "pitstop_reverse"
)

// dbNode is one simulated PostgreSQL server. LSNs are byte positions; a standby's positions are in
// its upstream primary's WAL.
type dbNode struct {
	host     string
	role     dbRole
	upstream string // the primary a standby streams from
	fenced   bool
	paused   bool
	// streaming is false while the walreceiver is down (FaultStandbyDown); why says why.
	streaming bool
	why       string

	lsn  int64   // primary: current WAL insert position
	rate float64 // primary: WAL bytes per second right now

	sent, write, flush, replay int64 // standby positions
	replaySpeed                float64

	schema  int
	events  []schemaEvent // primary: where in its WAL each migration landed
	hist    []walSample   // primary: WAL position over time, to turn a backlog into a delay
	capture bool
	capLSN  int64 // where the capture (publication + logical slot) started
}

type walSample struct {
	t   time.Time
	lsn int64
}

type schemaEvent struct {
	lsn    int64
	schema int
}

// logicalLink is the reverse sync: a subscription on `to` applying what the capture on `from` recorded.
type logicalLink struct {
	from, to      string
	sent, applied int64 // positions in from's WAL
	broken        string
}

// schemaPlan is the schema the demo migrations move through.
type schemaPlan struct {
	base  int
	names []string
}

func newSchemaPlan() schemaPlan {
	return schemaPlan{base: 41, names: []string{"add_items_note", "orders_add_channel", "index_orders_created_at"}}
}

func (p schemaPlan) target() int { return p.base + len(p.names) }

func (p schemaPlan) name(n int) string {
	i := n - p.base - 1
	if i < 0 || i >= len(p.names) {
		return fmt.Sprintf("%04d", n)
	}
	return fmt.Sprintf("%04d_%s", n, p.names[i])
}

// initDatabases creates production's primary and every standby streaming from it. Callers hold w.mu
// or own w exclusively.
func (w *World) initDatabases(now time.Time) {
	prod := w.inv.Sides.Production.Database
	if prod == "" {
		return
	}
	start := int64(3)<<32 + 0x1A000000 + w.rng.Int64N(1<<24)
	w.dbs[prod] = &dbNode{host: prod, role: rolePrimary, streaming: true, lsn: start, schema: w.schema.base,
		hist: []walSample{{now, start}}}
	for _, h := range w.inv.Standbys() {
		if _, dup := w.dbs[h]; dup {
			continue
		}
		pos := start - w.rng.Int64N(8<<10)
		n := &dbNode{host: h, role: roleStandby, upstream: prod, streaming: true, schema: w.schema.base,
			sent: pos, write: pos, flush: pos, replay: pos, replaySpeed: w.uniform(5<<20, 8<<20)}
		if h == w.inv.Sides.Backup.Database {
			switch w.opt.Fault {
			case FaultLagSpike:
				behind := int64(w.uniform(190<<20, 210<<20))
				n.sent, n.write, n.flush, n.replay = start-behind, start-behind, start-behind, start-behind
			case FaultStandbyDown:
				n.streaming = false
				n.why = "standby not connected: walreceiver not running on " + h
			}
		}
		w.dbs[h] = n
	}
}

// dbHosts returns the database hosts in a stable order, so the noise they draw is reproducible.
func (w *World) dbHosts() []string {
	hosts := make([]string, 0, len(w.dbs))
	for h := range w.dbs {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}

// advanceDatabases moves WAL, replication and the reverse sync forward by dt seconds. Callers hold w.mu.
func (w *World) advanceDatabases(now time.Time, dt float64) {
	live := w.inv.Sides.Get(w.bal.live).Database
	hosts := w.dbHosts()
	for _, h := range hosts {
		n := w.dbs[h]
		if n.role != rolePrimary {
			continue
		}
		n.rate = 0
		if !n.fenced {
			// The live side's database takes the users' writes; another primary only background work
			// (autovacuum, checkpoints, cron jobs): a few KB/s.
			share := 0.02
			if h == live {
				share = 1
			}
			n.rate = w.load * share * w.uniform(0.85, 1.15)
		}
		n.lsn += int64(n.rate * dt)
		n.record(now)
	}
	for _, l := range w.reverse {
		src, dst := w.dbs[l.from], w.dbs[l.to]
		if l.broken != "" || src == nil || src.role != rolePrimary {
			continue
		}
		moveToward(&l.sent, src.lsn-int64(src.rate*w.uniform(0.005, 0.02)), netSpeed, dt)
		before := l.applied
		moveToward(&l.applied, min(l.sent, src.lsn-int64(src.rate*w.uniform(0.02, 0.12))), applySpeed, dt)
		if dst != nil && dst.role == rolePrimary {
			dst.lsn += l.applied - before // applying rows writes WAL on the subscriber too
			dst.record(now)
		}
	}
	for _, h := range hosts {
		n := w.dbs[h]
		up := w.dbs[n.upstream]
		if n.role != roleStandby || !n.streaming || up == nil || up.role != rolePrimary {
			continue
		}
		r := up.rate
		moveToward(&n.sent, up.lsn-int64(r*w.uniform(0.001, 0.006)), netSpeed, dt)
		moveToward(&n.write, n.sent-int64(r*w.uniform(0, 0.003)), netSpeed, dt)
		moveToward(&n.flush, n.write-int64(r*w.uniform(0, 0.003)), netSpeed, dt)
		if !n.paused {
			moveToward(&n.replay, n.flush-int64(r*w.uniform(0.005, 0.06)), n.replaySpeed*w.uniform(0.9, 1.1), dt)
		}
		n.schema = max(n.schema, up.schemaAt(n.replay))
	}
}

// record appends the primary's WAL position to its history and forgets what is older than history.
func (n *dbNode) record(now time.Time) {
	if k := len(n.hist); k > 1 && now.Sub(n.hist[k-2].t) < 50*time.Millisecond {
		n.hist[k-1] = walSample{now, n.lsn} // keep one sample per 50 ms however often the world is read
		return
	}
	n.hist = append(n.hist, walSample{now, n.lsn})
	cut := 0
	for cut < len(n.hist)-1 && now.Sub(n.hist[cut].t) > history {
		cut++
	}
	if cut > len(n.hist)/2 {
		n.hist = append(n.hist[:0:0], n.hist[cut:]...)
	}
}

// timeAt returns when the primary's WAL reached lsn (the oldest time it knows if earlier).
func (n *dbNode) timeAt(lsn int64, now time.Time) time.Time {
	i := sort.Search(len(n.hist), func(i int) bool { return n.hist[i].lsn >= lsn })
	if i == len(n.hist) {
		return now
	}
	return n.hist[i].t
}

// schemaAt returns the schema version a server replaying this primary's WAL up to lsn has.
func (n *dbNode) schemaAt(lsn int64) int {
	s := 0
	for _, e := range n.events {
		if e.lsn <= lsn {
			s = max(s, e.schema)
		}
	}
	return s
}

// moveToward advances pos toward target at most speed×dt bytes; positions never go back.
func moveToward(pos *int64, target int64, speed, dt float64) {
	if target > *pos {
		*pos = min(target, *pos+int64(math.Ceil(speed*dt)))
	}
}

// lags reads every replication link. Callers hold w.mu.
func (w *World) lags(now time.Time) []steps.Lag {
	var out []steps.Lag
	seen := map[string]bool{}
	for _, h := range w.inv.Standbys() {
		n := w.dbs[h]
		if seen[h] || n == nil || n.role == rolePrimary {
			continue // a promoted standby has no physical link any more
		}
		seen[h] = true
		up := w.dbs[n.upstream]
		if n.role == roleRebuilding || up == nil {
			from := n.upstream
			if from == "" {
				from = w.inv.Sides.Production.Database
			}
			out = append(out, steps.Lag{From: from, To: h, Kind: steps.Physical,
				Err: h + " is being rebuilt: base backup in progress, not streaming yet"})
			continue
		}
		l := steps.Lag{From: n.upstream, To: h, Kind: steps.Physical,
			Streaming: n.streaming && up.role == rolePrimary, Paused: n.paused,
			Sent: up.lsn - n.sent, Write: up.lsn - n.write, Flush: up.lsn - n.flush, Replay: up.lsn - n.replay}
		if !n.streaming {
			l.Err = n.why
		} else if up.role != rolePrimary {
			l.Err = "upstream " + n.upstream + " is not running"
		}
		if l.Replay > backlogFloor || (n.paused && l.Replay > 0) {
			l.HasDelay, l.Delay = true, now.Sub(up.timeAt(n.replay, now))
		}
		out = append(out, l)
	}
	for _, r := range w.reverse {
		l := steps.Lag{From: r.from, To: r.to, Kind: steps.Logical, Err: r.broken}
		if src := w.dbs[r.from]; src != nil {
			l.Streaming = r.broken == "" && src.role == rolePrimary
			l.Sent = max(src.lsn-r.sent, 0)
			l.Write, l.Flush, l.Replay = max(src.lsn-r.applied, 0), max(src.lsn-r.applied, 0), max(src.lsn-r.applied, 0)
			if l.Replay > backlogFloor {
				l.HasDelay, l.Delay = true, now.Sub(src.timeAt(r.applied, now))
			}
		}
		out = append(out, l)
	}
	return out
}

// database implements steps.Database on the world.
type database struct{ w *World }

// node returns the server on host, or an error naming the host when there is none. Callers hold w.mu.
func (w *World) node(op, host string) (*dbNode, error) {
	n := w.dbs[host]
	if n == nil {
		return nil, fmt.Errorf("%s on %s: %q is not a database or replica host in inventory %s; check the host name",
			op, host, host, w.inv.Name)
	}
	if n.role == roleRebuilding {
		return nil, fmt.Errorf("%s on %s: could not connect: connection refused (%s is being rebuilt; wait for the rebuild to finish)",
			op, host, host)
	}
	return n, nil
}

// dbOp waits the simulated time a round trip takes, then runs f under the lock.
func (w *World) dbOp(ctx context.Context, f func() error) error {
	if err := w.clock.Sleep(ctx, w.randDuration(20*time.Millisecond, 80*time.Millisecond)); err != nil {
		return err
	}
	w.lock()
	defer w.mu.Unlock()
	return f()
}

// Replication reads every replication link: physical links from production's primary to each
// standby, then the logical reverse sync if there is one.
func (d database) Replication(ctx context.Context) ([]steps.Lag, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.w.lock()
	defer d.w.mu.Unlock()
	return d.w.lags(d.w.clock.Now()), nil
}

// PauseReplay pauses WAL replay on a standby; WAL keeps arriving, so the backlog grows.
func (d database) PauseReplay(ctx context.Context, host string) error {
	return d.w.dbOp(ctx, func() error {
		n, err := d.w.node("pause replay", host)
		if err != nil {
			return err
		}
		if n.role != roleStandby {
			return fmt.Errorf("pause replay on %s: ERROR: recovery is not in progress — %s is a primary; only a standby replays WAL", host, host)
		}
		n.paused = true
		return nil
	})
}

// ResumeReplay resumes WAL replay on a standby, which then catches up at several MB/s.
func (d database) ResumeReplay(ctx context.Context, host string) error {
	return d.w.dbOp(ctx, func() error {
		n, err := d.w.node("resume replay", host)
		if err != nil {
			return err
		}
		if n.role != roleStandby {
			return fmt.Errorf("resume replay on %s: ERROR: recovery is not in progress — %s is a primary; only a standby replays WAL", host, host)
		}
		n.paused = false
		return nil
	})
}

// Fence makes a primary refuse new write transactions.
func (d database) Fence(ctx context.Context, host string) error {
	return d.w.dbOp(ctx, func() error {
		n, err := d.w.node("fence", host)
		if err != nil {
			return err
		}
		if n.role != rolePrimary {
			return fmt.Errorf("fence %s: it is a standby and read-only already; fencing acts on a primary", host)
		}
		n.fenced = true
		return nil
	})
}

// Fenced tells whether host is a fenced primary.
func (d database) Fenced(ctx context.Context, host string) (bool, error) {
	var fenced bool
	err := d.w.dbOp(ctx, func() error {
		n, err := d.w.node("read the fence of", host)
		if err != nil {
			return err
		}
		fenced = n.fenced && n.role == rolePrimary
		return nil
	})
	return fenced, err
}

// Unfence lets a fenced primary take writes again.
func (d database) Unfence(ctx context.Context, host string) error {
	return d.w.dbOp(ctx, func() error {
		n, err := d.w.node("unfence", host)
		if err != nil {
			return err
		}
		if n.role != rolePrimary {
			return fmt.Errorf("unfence %s: it is a standby, not a fenced primary; a standby takes writes only once promoted", host)
		}
		n.fenced = false
		return nil
	})
}

// Promote turns a standby into a primary: it replays what it received, leaves its upstream and
// accepts writes. Its physical link disappears.
func (d database) Promote(ctx context.Context, host string) error {
	w := d.w
	w.lock()
	n, err := w.node("promote", host)
	if err == nil && n.role != roleStandby {
		err = fmt.Errorf("promote %s: it is a primary already (ERROR: recovery is not in progress): %w", host, steps.ErrNotStandby)
	}
	var wait time.Duration
	if err == nil {
		// Promotion replays everything received first.
		wait = w.between(100*time.Millisecond, 150*time.Millisecond) +
			time.Duration(float64(n.flush-n.replay)/n.replaySpeed*float64(time.Second))
	}
	w.mu.Unlock()
	if err != nil {
		return err
	}
	if err := w.clock.Sleep(ctx, wait); err != nil {
		return err
	}
	w.lock()
	defer w.mu.Unlock()
	if n.role != roleStandby {
		return fmt.Errorf("promote %s: it stopped being a standby while promoting; read the replication state and retry", host)
	}
	now := w.clock.Now()
	if up := w.dbs[n.upstream]; up != nil {
		n.schema = max(n.schema, up.schemaAt(n.flush))
	}
	n.role, n.upstream, n.paused, n.fenced = rolePrimary, "", false, false
	n.streaming, n.why = true, ""
	n.lsn, n.replay = n.flush, n.flush
	n.hist, n.events = []walSample{{now, n.lsn}}, nil
	return nil
}

// StartCapture creates the publication and logical slot on a primary so its changes can be replayed
// on another server later. Starting a capture that exists already does nothing.
func (d database) StartCapture(ctx context.Context, host string) error {
	return d.w.dbOp(ctx, func() error {
		n, err := d.w.node("start capture", host)
		if err != nil {
			return err
		}
		if n.role != rolePrimary {
			return fmt.Errorf("start capture on %s: ERROR: cannot execute CREATE PUBLICATION in a read-only transaction — %s is a standby; promote it first", host, host)
		}
		if !n.capture {
			n.capture, n.capLSN = true, n.lsn
		}
		return nil
	})
}

// StartReverseSync subscribes `to` to the capture on `from`; the logical link appears and first
// applies what was captured so far. Starting the same sync again does nothing.
func (d database) StartReverseSync(ctx context.Context, from, to string) error {
	return d.w.dbOp(ctx, func() error {
		w := d.w
		op := "start reverse sync " + from + "→" + to
		if from == to {
			return fmt.Errorf("%s: source and target are the same host", op)
		}
		src, err := w.node(op, from)
		if err != nil {
			return err
		}
		dst, err := w.node(op, to)
		if err != nil {
			return err
		}
		if l := w.link(from, to); l != nil {
			return nil
		}
		if !src.capture {
			return fmt.Errorf("%s: ERROR: replication slot %q does not exist on %s — start the capture on %s first", op, captureSlot, from, from)
		}
		if dst.role != rolePrimary {
			return fmt.Errorf("%s: ERROR: cannot execute CREATE SUBSCRIPTION in a read-only transaction — %s is a standby", op, to)
		}
		w.reverse = append(w.reverse, &logicalLink{from: from, to: to, sent: src.capLSN, applied: src.capLSN})
		return nil
	})
}

// AdvanceSequences moves the sequences on `to` past those on `from`. It needs the reverse sync
// from→to to exist.
func (d database) AdvanceSequences(ctx context.Context, from, to string) error {
	return d.w.dbOp(ctx, func() error {
		w := d.w
		op := "advance sequences " + from + "→" + to
		if _, err := w.node(op, from); err != nil {
			return err
		}
		if _, err := w.node(op, to); err != nil {
			return err
		}
		if w.link(from, to) == nil {
			return fmt.Errorf("%s: there is no reverse sync from %s to %s; start it before advancing sequences", op, from, to)
		}
		return nil
	})
}

// StopReverseSync drops the subscription on `to` and the capture on `from`.
func (d database) StopReverseSync(ctx context.Context, from, to string) error {
	return d.w.dbOp(ctx, func() error {
		w := d.w
		op := "stop reverse sync " + from + "→" + to
		src := w.dbs[from]
		if src == nil {
			_, err := w.node(op, from)
			return err
		}
		if w.dbs[to] == nil {
			_, err := w.node(op, to)
			return err
		}
		l := w.link(from, to)
		if l == nil && !src.capture {
			return fmt.Errorf("%s: there is no subscription on %s and no capture on %s; nothing to stop", op, to, from)
		}
		kept := w.reverse[:0]
		for _, r := range w.reverse {
			if r != l {
				kept = append(kept, r)
			}
		}
		w.reverse = kept
		src.capture = false
		return nil
	})
}

// link returns the reverse sync from→to, or nil. Callers hold w.mu.
func (w *World) link(from, to string) *logicalLink {
	for _, l := range w.reverse {
		if l.from == from && l.to == to {
			return l
		}
	}
	return nil
}

// migrationTarget names the database a migration run on host changes: the database of host's side.
func (w *World) migrationTarget(host string) string {
	if _, ok := w.dbs[host]; ok {
		return host
	}
	side := w.inv.SideOf(host)
	if side == "" {
		side = "production"
	}
	return w.inv.Sides.Get(side).Database
}

// applyMigration applies schema version n on db, writing walBytes of WAL. It fails like PostgreSQL
// would on a server that cannot take DDL. Callers hold w.mu.
func (w *World) applyMigration(db string, n int, walBytes int64) error {
	node := w.dbs[db]
	switch {
	case node == nil:
		return fmt.Errorf("psql: error: no database configured for this side (%q is not a database host)", db)
	case node.role == roleRebuilding:
		return fmt.Errorf("psql: error: connection to server on %s failed: Connection refused", db)
	case node.role == roleStandby:
		return fmt.Errorf("ERROR:  cannot execute ALTER TABLE in a read-only transaction (%s is a standby)", db)
	case node.fenced:
		return fmt.Errorf("ERROR:  cannot execute ALTER TABLE in a read-only transaction (%s is fenced: default_transaction_read_only = on; unfence it before migrating)", db)
	}
	node.lsn += walBytes
	node.schema = max(node.schema, n)
	node.events = append(node.events, schemaEvent{node.lsn, n})
	node.record(w.clock.Now())
	return nil
}

// rebuildBegin stops db for a rebuild: it goes down and the reverse sync from it breaks. Callers hold w.mu.
func (w *World) rebuildBegin(db string) error {
	n := w.dbs[db]
	prod := w.inv.Sides.Production.Database
	if n == nil {
		return nil
	}
	if db == prod {
		return fmt.Errorf("refusing to rebuild %s: it is production's database and the source of the rebuild", db)
	}
	n.role = roleRebuilding
	n.paused, n.fenced, n.capture = false, false, false
	for _, l := range w.reverse {
		if l.from == db {
			l.broken = "could not connect to the publisher " + db + ": connection refused"
		}
	}
	return nil
}

// rebuildEnd turns db into a streaming standby of production's primary, caught up. Callers hold w.mu.
func (w *World) rebuildEnd(db string) error {
	n := w.dbs[db]
	prod := w.inv.Sides.Production.Database
	up := w.dbs[prod]
	if n == nil {
		return nil
	}
	if up == nil || up.role != rolePrimary {
		return fmt.Errorf("pg_basebackup: error: could not connect to %s: it is not a running primary", prod)
	}
	n.role, n.upstream, n.streaming, n.why = roleStandby, prod, true, ""
	n.sent, n.write, n.flush, n.replay = up.lsn, up.lsn, up.lsn, up.lsn
	n.schema = up.schema
	n.hist, n.events = nil, nil
	if n.replaySpeed == 0 {
		n.replaySpeed = w.uniform(5<<20, 8<<20)
	}
	for _, l := range w.reverse {
		if l.from == db {
			l.broken = fmt.Sprintf("replication slot %q does not exist on %s (it was rebuilt)", captureSlot, db)
		}
	}
	return nil
}

// formatLSN writes a position the way PostgreSQL does, e.g. 3/1A2B3C40.
func formatLSN(lsn int64) string {
	return fmt.Sprintf("%X/%X", uint64(lsn)>>32, uint64(lsn)&0xFFFFFFFF)
}

// CheckReverseSync reports whether a reverse sync from→to could work. The simulated servers run with
// wal_level = logical and a key on every table, so it only checks that both are database hosts.
func (d database) CheckReverseSync(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.w.lock()
	defer d.w.mu.Unlock()
	op := "check reverse sync " + from + "→" + to
	if _, err := d.w.node(op, from); err != nil {
		return err
	}
	_, err := d.w.node(op, to)
	return err
}
