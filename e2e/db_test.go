package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/internal/lab"
)

// dbConn is the connection string of a database host of the lab (the postgres superuser, trusted on
// loopback in the lab).
func (l *testLab) dbConn(host string) string { return l.Inv.Hosts[host].Postgres }

// assertStored fails unless every name is in host's items table within d (a standby may lag a little).
func (l *testLab) assertStored(t *testing.T, host string, names []string, d time.Duration) {
	t.Helper()
	if len(names) == 0 {
		t.Errorf("no acknowledged write to look for on %s: the load made none", host)
		return
	}
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		miss, err := lab.MissingNames(ctx, l.dbConn(host), names)
		cancel()
		if err == nil && len(miss) == 0 {
			t.Logf("all %d acknowledged writes are in %s", len(names), host)
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Errorf("query %s for the acknowledged writes: %v", host, err)
			} else {
				t.Errorf("%d of %d acknowledged writes are missing on %s, e.g. %q", len(miss), len(names), host, miss[:min(5, len(miss))])
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// assertStreaming fails unless production's primary shows the backup's standby streaming in
// pg_stat_replication with nothing left to replay, and the standby is in recovery, within d.
func (l *testLab) assertStreaming(t *testing.T, d time.Duration) {
	t.Helper()
	prod, back := l.Inv.Sides.Production.Database, l.Inv.Sides.Backup.Database
	deadline := time.Now().Add(d)
	last := ""
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		state, behind, recovery, err := replication(ctx, l.dbConn(prod), l.dbConn(back), back)
		cancel()
		if err == nil && state == "streaming" && behind == 0 && recovery {
			t.Logf("%s streams from %s, 0 bytes to replay", back, prod)
			return
		}
		last = fmt.Sprintf("state %q, %d bytes to replay, in recovery %t, err %v", state, behind, recovery, err)
		if time.Now().After(deadline) {
			t.Errorf("%s→%s after %s: %s", prod, back, d, last)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// replication reads the standby's row of pg_stat_replication on the primary, and whether the standby
// is in recovery.
func replication(ctx context.Context, primary, standby, app string) (state string, behind int64, recovery bool, err error) {
	p, err := pgx.Connect(ctx, primary)
	if err != nil {
		return "", 0, false, err
	}
	defer p.Close(context.Background())
	err = p.QueryRow(ctx, `SELECT state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint
		FROM pg_stat_replication WHERE application_name = $1`, app).Scan(&state, &behind)
	if err != nil {
		return "", 0, false, fmt.Errorf("pg_stat_replication on the primary, application_name %s: %w", app, err)
	}
	s, err := pgx.Connect(ctx, standby)
	if err != nil {
		return state, behind, false, err
	}
	defer s.Close(context.Background())
	err = s.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&recovery)
	return state, behind, recovery, err
}

// countItems counts the rows of the items table on host.
func (l *testLab) countItems(t *testing.T, host string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, l.dbConn(host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// assertVersion fails unless the app host answers GET /health directly with 200 and version.
func (l *testLab) assertVersion(t *testing.T, host, version string) {
	t.Helper()
	addr := l.Inv.Hosts[host].Serve
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/health")
	if err != nil {
		t.Errorf("GET /health on %s (%s): %v", host, addr, err)
		return
	}
	defer resp.Body.Close()
	var h struct {
		Version     string `json:"version"`
		SchemaReady bool   `json:"schema_ready"`
	}
	err = json.NewDecoder(resp.Body).Decode(&h)
	if err != nil || resp.StatusCode != 200 || h.Version != version || resp.Header.Get("X-App-Version") != version || !h.SchemaReady {
		t.Errorf("GET /health on %s: %d, version %q (header %q), schema ready %t, err %v; want 200 and %s",
			host, resp.StatusCode, h.Version, resp.Header.Get("X-App-Version"), h.SchemaReady, err, version)
	}
}
