package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
)

// The lab's rehearsal host: `pitstop rehearse -i DIR/inventory.yaml` copies db-backup into
// DIR/pg/rehearsal on db-rehearse (127.0.0.15:base+34) and runs v2 on app-r1 (127.0.0.16:base+80)
// against the copy. Nothing of it runs until a rehearsal starts it.
const (
	addrRehearse    = "127.0.0.15"
	addrAppRehearse = "127.0.0.16"
	offDBRehearse   = 34
	hostDBRehearse  = "db-rehearse"
	hostAppRehearse = "app-r1"
)

// rehearsalDir is the rehearsal's data_dir: Pitstop creates and removes it.
func (l *layout) rehearsalDir() string { return filepath.Join(l.pgDir(), "rehearsal") }

// rehearsalCopy is the copy a rehearsal starts, as the lab sees it (to stop a leftover at down).
func (l *layout) rehearsalCopy() *Postgres {
	return &Postgres{Name: "pitstop-rehearsal", Addr: addrRehearse, Port: l.port(offDBRehearse),
		Data: filepath.Join(l.rehearsalDir(), "pgdata"), Socket: l.rehearsalDir(),
		Log: filepath.Join(l.rehearsalDir(), "postgres.log"), Bin: l.PGBin}
}

// asPostgres is the lab's rehearsal.as_postgres: root runs PostgreSQL's programs as user postgres,
// anyone else as themselves (as the lab's own servers do).
func asPostgres() string {
	if os.Geteuid() == 0 {
		return "runuser -u postgres --"
	}
	return ""
}

// rehearsal is the lab inventory's rehearsal section.
func (l *layout) rehearsal() inventory.Rehearsal {
	as := asPostgres()
	return inventory.Rehearsal{
		Host:       hostDBRehearse,
		DataDir:    l.rehearsalDir(),
		Port:       l.port(offDBRehearse),
		Listen:     addrRehearse,
		App:        hostAppRehearse,
		StopApp:    []string{shell.Quote(l.appctl()) + " stop {host}"},
		AsPostgres: &as,
		PGBin:      l.PGBin,
	}
}

// migrateCommand is the lab's migration: against {database_url} (production's primary in a run,
// the copy in a rehearsal), with --hold when the lab was started with a slow migration.
func (l *layout) migrateCommand() string {
	cmd := shell.Join(l.Pitstop, "lab", "migrate") + " --db {database_url}"
	if l.MigrateHold > 0 {
		cmd += fmt.Sprintf(" --hold %s", l.MigrateHold)
	}
	return cmd
}

// slowRewrite rewrites the items table (ALTER … USING forces a new file) and keeps its ACCESS
// EXCLUSIVE lock for hold in the same transaction: the slow migration of `lab migrate --hold`.
func slowRewrite(ctx context.Context, conn string, hold time.Duration) error {
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		return fmt.Errorf("migrate --hold: connect: %w", err)
	}
	defer c.Close(context.Background())
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		for _, q := range []string{
			`SET LOCAL lock_timeout = '5s'`,
			`ALTER TABLE items ALTER COLUMN note TYPE text USING note || ''`,
			fmt.Sprintf(`SELECT pg_sleep(%f)`, hold.Seconds()),
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("migrate --hold: %s: %w", q, err)
			}
		}
		return nil
	})
}
