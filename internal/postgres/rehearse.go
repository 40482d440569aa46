package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pitstop-ops/pitstop/steps"
)

// Copy is a rehearsal's copy of production's database: a standalone server Pitstop started from a
// base backup, which it inspects and whose locks it samples while the migration runs.
type Copy struct {
	cfg   *pgx.ConnConfig
	every time.Duration
}

// NewCopy returns the copy reached with conn (a libpq connection string, never printed: it may hold
// a password), through dial when it is not nil; its locks are sampled every `every`.
func NewCopy(conn string, dial DialFunc, every time.Duration) (*Copy, error) {
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return nil, errors.New("the copy's connection string cannot be parsed; check the source's postgres: string")
	}
	if dial != nil {
		cfg.DialFunc = pgconn.DialFunc(dial)
		cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	cfg.RuntimeParams["application_name"] = "pitstop-rehearse"
	if every <= 0 {
		every = 50 * time.Millisecond
	}
	return &Copy{cfg: cfg, every: every}, nil
}

// Where is the copy's address, for messages.
func (c *Copy) Where() string { return fmt.Sprintf("%s:%d", c.cfg.Host, c.cfg.Port) }

func (c *Copy) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("connect to the copy at %s: %w", c.Where(), scrub(err, c.cfg.Password))
	}
	return conn, nil
}

// userTables restricts pg_class (alias c, joined to pg_namespace n) to the application's tables.
const userTables = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`

// Inspect connects to the copy and describes it.
func (c *Copy) Inspect(ctx context.Context) (steps.CopyInfo, error) {
	var info steps.CopyInfo
	conn, err := c.connect(ctx)
	if err != nil {
		return info, err
	}
	defer conn.Close(context.Background())
	var inRecovery bool
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), pg_database_size(current_database()),
		(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND `+userTables+`),
		pg_is_in_recovery()`).Scan(&info.Version, &info.Bytes, &info.Tables, &inRecovery)
	if err != nil {
		return info, fmt.Errorf("read the copy at %s: %w", c.Where(), scrub(err, c.cfg.Password))
	}
	info.Primary = !inRecovery
	return info, nil
}

// table is one table's file as pg_class has it.
type table struct {
	name     string
	filenode int64
	bytes    int64
}

func (c *Copy) tables(ctx context.Context, conn *pgx.Conn) (map[int64]table, error) {
	rows, err := conn.Query(ctx, `SELECT c.oid::int8, c.oid::regclass::text, c.relfilenode::int8, pg_relation_size(c.oid)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm') AND `+userTables)
	if err != nil {
		return nil, err
	}
	out := map[int64]table{}
	for rows.Next() {
		var oid int64
		var t table
		if err := rows.Scan(&oid, &t.name, &t.filenode, &t.bytes); err != nil {
			return nil, err
		}
		out[oid] = t
	}
	return out, rows.Err()
}

// Watch notes the copy's tables and WAL position, then samples its table locks until Stop.
func (c *Copy) Watch(ctx context.Context) (steps.LockSampler, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	w := &watch{copy: c, conn: conn, holds: map[heldLock]*hold{}}
	if w.before, err = c.tables(ctx, conn); err == nil {
		err = conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&w.lsn)
	}
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("read the copy's tables and WAL position: %w", scrub(err, c.cfg.Password))
	}
	sampler, err := c.connect(ctx)
	if err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	w.done = make(chan struct{})
	go w.sample(sctx, sampler)
	return w, nil
}

// heldLock is one lock mode on one table.
type heldLock struct{ table, mode string }

// hold is what the samples saw of one heldLock.
type hold struct {
	open            bool
	start, lastSeen time.Time
	longest, total  time.Duration
	query           string
}

// watch is a running sampler.
type watch struct {
	copy   *Copy
	conn   *pgx.Conn
	before map[int64]table
	lsn    string
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	holds   map[heldLock]*hold
	samples int
	prev    time.Time // the previous sample's time
	err     error     // the first failed sample
}

// locksQuery lists the table locks held by other sessions in the copy's database, each with the
// statement its session runs (pg_stat_activity).
const locksQuery = `SELECT l.relation::regclass::text, l.mode, left(coalesce(a.query, ''), 300)
	FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
	LEFT JOIN pg_stat_activity a ON a.pid = l.pid
	WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
	AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND c.relkind IN ('r', 'p', 'm') AND ` + userTables

func (w *watch) sample(ctx context.Context, conn *pgx.Conn) {
	defer close(w.done)
	defer conn.Close(context.Background())
	tick := time.NewTicker(w.copy.every)
	defer tick.Stop()
	for {
		at := time.Now()
		seen, err := w.read(ctx, conn)
		if ctx.Err() != nil {
			return
		}
		w.note(at, seen, err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *watch) read(ctx context.Context, conn *pgx.Conn) (map[heldLock]string, error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := conn.Query(qctx, locksQuery)
	if err != nil {
		return nil, err
	}
	seen := map[heldLock]string{}
	for rows.Next() {
		var k heldLock
		var query string
		if err := rows.Scan(&k.table, &k.mode, &query); err != nil {
			return nil, err
		}
		seen[k] = query
	}
	return seen, rows.Err()
}

// note records one sample taken at `at`. A stretch of a held lock starts halfway between the last
// sample without it and the first with it, and ends halfway between the last with it and the first
// without it: the midpoint estimate, off by at most half a sampling interval at each end.
func (w *watch) note(at time.Time, seen map[heldLock]string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	w.samples++
	prev := w.prev
	if prev.IsZero() {
		prev = at
	}
	for k, query := range seen {
		h := w.holds[k]
		if h == nil {
			h = &hold{}
			w.holds[k] = h
		}
		if !h.open {
			h.open, h.start = true, mid(prev, at)
		}
		h.lastSeen = at
		if h.query == "" {
			// The first statement seen holding it: the one that took it, or one soon after.
			h.query = redactSQL(query)
		}
	}
	for k, h := range w.holds {
		if _, held := seen[k]; h.open && !held {
			h.close(mid(h.lastSeen, at))
		}
	}
	w.prev = at
}

func (h *hold) close(end time.Time) {
	d := end.Sub(h.start)
	h.total += d
	h.longest = max(h.longest, d)
	h.open = false
}

// sqlPassword matches a password literal in a statement (CREATE/ALTER ROLE … PASSWORD '…').
var sqlPassword = regexp.MustCompile(`(?i)(password\s+)'(?:[^']|'')*'`)

// redactSQL hides passwords in a statement the report and the journal keep.
func redactSQL(q string) string {
	return steps.Redact(sqlPassword.ReplaceAllString(q, "${1}'xxxxx'"))
}

func mid(a, b time.Time) time.Time { return a.Add(b.Sub(a) / 2) }

// Stop ends the sampling and compares the copy's tables and WAL position with the start.
func (w *watch) Stop(ctx context.Context) (steps.MigrationReport, error) {
	w.cancel()
	<-w.done
	defer w.conn.Close(context.Background())
	now := time.Now()
	w.mu.Lock()
	rep := steps.MigrationReport{Samples: w.samples, SampleEvery: w.copy.every}
	for k, h := range w.holds {
		if h.open {
			h.close(mid(h.lastSeen, now))
		}
		rep.Locks = append(rep.Locks, steps.LockHold{Table: k.table, Mode: k.mode, Longest: h.longest, Total: h.total, Query: h.query})
	}
	sampleErr := w.err
	w.mu.Unlock()
	sort.Slice(rep.Locks, func(i, j int) bool {
		a, b := rep.Locks[i], rep.Locks[j]
		if a.Longest != b.Longest {
			return a.Longest > b.Longest
		}
		return a.Table+a.Mode < b.Table+b.Mode
	})
	after, err := w.copy.tables(ctx, w.conn)
	if err == nil {
		err = w.conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::int8`, w.lsn).Scan(&rep.WALBytes)
	}
	if err != nil {
		return rep, fmt.Errorf("read the copy's tables and WAL position after the migration: %w", scrub(err, w.copy.cfg.Password))
	}
	for oid, t := range after {
		b, ok := w.before[oid]
		switch {
		case !ok:
			rep.NewTables = append(rep.NewTables, t.name)
		case b.filenode != t.filenode:
			rep.Rewritten = append(rep.Rewritten, steps.Rewrite{Table: t.name, Before: b.bytes, After: t.bytes})
		}
	}
	sort.Strings(rep.NewTables)
	sort.Slice(rep.Rewritten, func(i, j int) bool { return rep.Rewritten[i].Table < rep.Rewritten[j].Table })
	if rep.Samples == 0 && sampleErr != nil {
		return rep, fmt.Errorf("no lock sample succeeded: %w", scrub(sampleErr, w.copy.cfg.Password))
	}
	return rep, nil
}
