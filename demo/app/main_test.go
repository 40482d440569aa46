package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/lab"
)

// The tests share one real PostgreSQL 15 primary and one streaming standby, on ports 16232/16233.
// Each test works in a database of its own.
var primary, standby *lab.Postgres

// clusterDir is fixed, so a run that died without cleaning up is cleaned up by the next one.
const clusterDir = "/tmp/pitstop-app-test-16200"

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) (code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primary = &lab.Postgres{Name: "app-test-primary", Addr: "127.0.0.13", Port: 16232,
		Data: filepath.Join(clusterDir, "pg", "primary"), Socket: filepath.Join(clusterDir, "sock-p"),
		Log: filepath.Join(clusterDir, "primary.log")}
	standby = &lab.Postgres{Name: "app-test-standby", Addr: "127.0.0.14", Port: 16233,
		Data: filepath.Join(clusterDir, "pg", "standby"), Socket: filepath.Join(clusterDir, "sock-s"),
		Log: filepath.Join(clusterDir, "standby.log")}
	stop := func() {
		standby.Stop(context.Background())
		primary.Stop(context.Background())
	}
	stop() // a previous run's leftovers
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintln(os.Stderr, "panic:", r)
			code = 2
		}
		stop()
		if code == 0 {
			os.RemoveAll(clusterDir)
		}
	}()
	if err := setupCluster(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "start the test cluster:", err)
		return 1
	}
	return m.Run()
}

func setupCluster(ctx context.Context) error {
	if err := os.RemoveAll(clusterDir); err != nil {
		return err
	}
	for _, d := range []string{clusterDir, filepath.Join(clusterDir, "pg")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(clusterDir, "pg"), postgresUID(), -1); err != nil {
			return err
		}
	}
	if err := primary.InitPrimary(ctx); err != nil {
		return err
	}
	if err := primary.Start(ctx); err != nil {
		return err
	}
	if err := standby.CloneFrom(ctx, primary, "app-test-standby"); err != nil {
		return err
	}
	return standby.Start(ctx)
}
