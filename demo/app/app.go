// Package app is the demo application Pitstop upgrades in the local lab: a small HTTP service backed by
// PostgreSQL that runs as version v1 or v2. v2 needs the schema change Migrate applies; v1 names its
// columns and keeps working after it, so both versions can run against one database during an upgrade.
//
// When its database refuses writes (a hot standby, or a primary fenced with default_transaction_read_only)
// reads keep working and writes get 503 with Retry-After; when the database is down every request that
// needs it gets 503. The application never answers 500 for either.
package app

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Versions are the application versions Run can serve.
var Versions = []string{"v1", "v2"}

// Config is what one application instance needs to start.
type Config struct {
	// Version is "v1" or "v2".
	Version string
	// Listen is the host:port the HTTP server binds.
	Listen string
	// DB is the libpq connection string (key=value or postgres:// URL) of the database.
	DB string
	// Instance names this instance in the X-App-Instance header and /health (e.g. "app-p1").
	Instance string
	// Logger receives start, stop and database state changes; nil logs to stderr.
	Logger *log.Logger
	// Variant makes the application behave like another kind of app: VariantJSON reports its
	// version only in the JSON body of GET /status ({"release":…}, no X-App-Version header) and
	// refuses writes with a plain-text 503 "read-only maintenance". "" is the usual behaviour.
	Variant string
}

// VariantJSON is the application that says its version only in JSON and refuses in plain text.
const VariantJSON = "json"

func (c *Config) validate() error {
	if !slices.Contains(Versions, c.Version) {
		return fmt.Errorf("app: unknown version %q: choose one of %s", c.Version, strings.Join(Versions, ", "))
	}
	if c.Listen == "" {
		return errors.New("app: no listen address: pass host:port, e.g. 127.0.0.11:16080")
	}
	if c.DB == "" {
		return errors.New("app: no database connection string")
	}
	if c.Instance == "" {
		return errors.New("app: no instance name")
	}
	if c.Variant != "" && c.Variant != VariantJSON {
		return fmt.Errorf("app: unknown variant %q: leave it empty or use %q", c.Variant, VariantJSON)
	}
	if c.Logger == nil {
		c.Logger = log.New(os.Stderr, c.Instance+" ", log.LstdFlags|log.Lmsgprefix)
	}
	return nil
}

// Run serves the application on cfg.Listen until ctx is cancelled, then shuts down gracefully (requests
// in flight may finish within 5 s). It starts even when the database is unreachable and connects when
// the database comes back. It returns an error when the configuration is invalid or the address cannot
// be bound.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("app %s: listen on %s: %w (is another instance still running there?)", cfg.Instance, cfg.Listen, err)
	}
	return serve(ctx, cfg, ln)
}

// serve runs the application, configured by a validated cfg, on ln, which it closes.
func serve(ctx context.Context, cfg Config, ln net.Listener) error {
	connCfg, err := parseDB(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	pool := newConnPool(connCfg, 8)
	defer pool.close()
	st := &store{pool: pool, version: cfg.Version, log: cfg.Logger}

	// Create the schema before serving when the database lets us, so the first write finds its table;
	// otherwise keep trying in the background (a standby receives the table by replication).
	if !st.ensureSchema(ctx, 3*time.Second) {
		go st.ensureSchemaLoop(ctx)
	}

	srv := &http.Server{
		Handler:           newHandler(cfg, st),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          cfg.Logger,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	cfg.Logger.Printf("serving %s on http://%s (database %s)", cfg.Version, ln.Addr(), describeDB(connCfg))

	select {
	case err := <-done:
		return fmt.Errorf("app %s: serve on %s: %w", cfg.Instance, cfg.Listen, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	cfg.Logger.Printf("stopped")
	if err != nil {
		return fmt.Errorf("app %s: graceful shutdown: %w", cfg.Instance, err)
	}
	return nil
}

// parseDB parses the connection string and sets what the application needs: a short connect timeout
// and the instance as application_name (visible in pg_stat_activity).
func parseDB(cfg Config) (*pgx.ConnConfig, error) {
	cc, err := pgx.ParseConfig(cfg.DB)
	if err != nil {
		// pgx redacts any password in the error it returns.
		return nil, fmt.Errorf("app %s: parse the database connection string: %w", cfg.Instance, err)
	}
	if cc.ConnectTimeout == 0 || cc.ConnectTimeout > 2*time.Second {
		cc.ConnectTimeout = 2 * time.Second
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = cfg.Instance
	}
	return cc, nil
}

// describeDB names a database without its password.
func describeDB(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
