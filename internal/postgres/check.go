package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/steps"
)

// grants is what one role may do on one server.
type grants struct {
	version   int
	recovery  bool
	user      string // quoted as an identifier
	super     bool
	monitor   bool // pg_monitor or pg_read_all_stats: every column of pg_stat_replication
	replay    bool // pg_wal_replay_pause() and pg_wal_replay_resume()
	promote   bool // pg_promote(boolean, integer)
	fence     bool // ALTER SYSTEM on default_transaction_read_only, pg_reload_conf()
	terminate bool // pg_signal_backend
	walLevel  string
}

const qGrants = `SELECT pg_is_in_recovery(), quote_ident(current_user),
	coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
	pg_has_role('pg_monitor', 'MEMBER') OR pg_has_role('pg_read_all_stats', 'MEMBER'),
	has_function_privilege('pg_wal_replay_pause()', 'EXECUTE') AND has_function_privilege('pg_wal_replay_resume()', 'EXECUTE'),
	has_function_privilege('pg_promote(boolean, integer)', 'EXECUTE'),
	has_parameter_privilege('default_transaction_read_only', 'ALTER SYSTEM') AND has_function_privilege('pg_reload_conf()', 'EXECUTE'),
	pg_has_role('pg_signal_backend', 'MEMBER'),
	current_setting('wal_level')`

func (n *node) grants(ctx context.Context) (g grants, err error) {
	err = n.with(ctx, false, func(conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&g.version); err != nil {
			return err
		}
		if g.version < 150000 {
			return nil
		}
		return conn.QueryRow(ctx, qGrants).Scan(&g.recovery, &g.user, &g.super, &g.monitor, &g.replay,
			&g.promote, &g.fence, &g.terminate, &g.walLevel)
	})
	if err != nil {
		return g, n.fail("read the role's privileges", err)
	}
	return g, nil
}

// missing lists what the role lacks, each with the statement that grants it; reverse says whether
// the reverse sync is configured.
func (g grants) missing(reverse bool) []string {
	if g.super {
		return nil
	}
	var out []string
	add := func(ok bool, what, grant string) {
		if !ok {
			out = append(out, fmt.Sprintf("%s (%s)", what, fmt.Sprintf(grant, g.user)))
		}
	}
	add(g.monitor, "reading every column of pg_stat_replication, and seeing other roles' transactions when fencing", "GRANT pg_monitor TO %s")
	add(g.replay, "pausing and resuming replay", "GRANT EXECUTE ON FUNCTION pg_wal_replay_pause(), pg_wal_replay_resume() TO %s")
	add(g.promote, "promoting", "GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer) TO %s")
	add(g.fence, "fencing", "GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO %[1]s; GRANT EXECUTE ON FUNCTION pg_reload_conf() TO %[1]s")
	add(g.terminate, "ending open transactions when fencing", "GRANT pg_signal_backend TO %s")
	add(!reverse, "the reverse sync (CREATE PUBLICATION FOR ALL TABLES, CREATE SUBSCRIPTION)", "ALTER ROLE %s SUPERUSER: PostgreSQL 15 allows them to superusers only")
	return out
}

// Check is `pitstop check` for the databases: every database host is reachable and runs PostgreSQL
// 15 or later; production's database is a primary; the backup's database and every replica are
// standbys streaming from it; the role has the privileges the actions need (each missing one is
// reported with the GRANT that gives it). When the inventory configures the reverse sync it also
// needs superuser and wal_level = logical. It returns nil when all is well.
func (c *Cluster) Check(ctx context.Context) []error {
	prim := c.primaryName()
	if prim == "" {
		return []error{fmt.Errorf("%s: sides.production.database is not set", c.inv.Source)}
	}
	reverse := len(c.inv.ReverseSync.Rebuild) > 0
	hosts := c.databaseHosts(nil)
	res := make([]error, len(hosts))
	unreachable := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			err := c.checkHost(ctx, h, h == prim, reverse)
			mu.Lock()
			defer mu.Unlock()
			res[i] = err
			var ce *connectError
			if err != nil && (errors.As(err, &ce) || errors.Is(err, ErrNoDatabase)) {
				unreachable[h] = true
			}
		})
	}
	wg.Wait()
	var errs []error
	for _, err := range res {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if unreachable[prim] {
		return errs
	}
	lags, err := c.Replication(ctx)
	if err != nil {
		return append(errs, err)
	}
	for _, l := range lags {
		if l.Kind != steps.Physical || unreachable[l.To] {
			continue
		}
		if !l.Streaming {
			errs = append(errs, fmt.Errorf("standby %s is not streaming from %s: %s", l.To, l.From, l.Err))
		}
	}
	return errs
}

// checkHost checks one database host's role and privileges.
func (c *Cluster) checkHost(ctx context.Context, host string, primary, reverse bool) error {
	n, err := c.node(host)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.QueryTimeout)
	defer cancel()
	g, err := n.grants(ctx)
	if err != nil {
		return err
	}
	var problems []string
	if g.version < 150000 {
		return fmt.Errorf("postgres on %s: server version %d; pitstop needs PostgreSQL 15 or later", host, g.version)
	}
	switch {
	case primary && g.recovery:
		problems = append(problems, "it is in recovery, but production's database must be the primary")
	case !primary && !g.recovery:
		problems = append(problems, "it is a primary, but the backup's database and replicas must be standbys streaming from production's")
	}
	if m := g.missing(reverse); len(m) > 0 {
		problems = append(problems, fmt.Sprintf("role %s lacks privileges for: %s (run the GRANTs on production's primary; standbys receive them by replication)",
			g.user, strings.Join(m, "; ")))
	}
	if reverse && host == c.inv.Sides.Backup.Database && g.walLevel != "logical" {
		problems = append(problems, fmt.Sprintf("wal_level is %s; the reverse sync needs logical (postgresql.conf, then restart)", g.walLevel))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("postgres on %s: %s", host, strings.Join(problems, "; "))
}
