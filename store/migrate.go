package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsTable is goose's version table; a name of our own so that another goose user in
// the same database is not confused with us.
const migrationsTable = "metapipe_schema_migrations"

// bootstrapLockID serializes the creation of metapipe_locks by two first migrations at once
// (a transaction's advisory lock: it holds through any pooler and ends with the transaction).
const bootstrapLockID = 0x6d65746170697065 // "metapipe"

// DefaultMigrateWait is how long a migration waits for another one (MigrateOptions.Wait).
const DefaultMigrateWait = time.Minute

// MigrateOptions say how a migration waits for another.
type MigrateOptions struct {
	Lease Lease         // the migration lock's holder and TTL
	Wait  time.Duration // the longest it waits for another migration (DefaultMigrateWait)
	Log   *slog.Logger  // says whom it waits for; nil: discard
}

// Migrate brings the schema up to date: clients, daily_kpi_data, campaign_summaries and
// client_sync_state, created or, when the old application's tables exist, extended in place.
// It is idempotent; see MigrateWith for two processes migrating at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return MigrateWith(ctx, pool, MigrateOptions{})
}

// MigrateWith is Migrate holding the migration lock ("migrate" in metapipe_locks, a lease
// row: no session lock is left behind on a pooled connection). While another process holds
// it, it waits at most o.Wait, logging whom it waits for every 5 s, then returns a
// *WaitError naming the holder.
func MigrateWith(ctx context.Context, pool *pgxpool.Pool, o MigrateOptions) error {
	return WithMigrationLock(ctx, pool, "migrate", o, func(ctx context.Context) error {
		p, err := newProvider(pool)
		if err != nil {
			return err
		}
		defer p.Close()
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
}

// WithMigrationLock runs f holding the lock name of metapipe_locks (created first when it is
// not there), waiting for another holder as MigrateWith does.
// f's context is cancelled if the lock is lost.
func WithMigrationLock(ctx context.Context, pool *pgxpool.Pool, name string, o MigrateOptions, f func(context.Context) error) error {
	if o.Wait == 0 {
		o.Wait = DefaultMigrateWait
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Lease.Holder == "" {
		o.Lease.Holder = DefaultHolder("metapipe migrate")
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(bootstrapLockID)); err != nil {
			return err
		}
		// Only when missing: CREATE … IF NOT EXISTS needs the CREATE privilege even when the
		// table exists, which a role granted only the tables' privileges has not.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('metapipe_locks') IS NOT NULL`).Scan(&exists); err != nil || exists {
			return err
		}
		_, err := tx.Exec(ctx, locksTable)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: create metapipe_locks: %w", err)
	}
	ls, err := waitLocks(ctx, pool, []string{name}, "the migration lock ("+name+")", o.Wait, o.Lease, o.Log)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer ls.Release()
	ctx, stop := ls.Bind(ctx)
	defer stop()
	return f(ctx)
}

// SchemaVersion returns the current and the latest known schema version; current is 0 on a
// database metapipe never migrated (nothing is created: a role that may not create tables
// gets the versions, not "permission denied").
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (current, latest int64, err error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, migrationsTable).Scan(&exists); err != nil {
		return 0, 0, fmt.Errorf("schema version: %w", err)
	}
	if !exists {
		fsys, err := fs.Sub(migrationFiles, "migrations")
		if err != nil {
			return 0, 0, err
		}
		files, err := fs.Glob(fsys, "*.sql")
		if err != nil || len(files) == 0 {
			return 0, 0, fmt.Errorf("schema version: no migrations embedded")
		}
		latest, err := goose.NumericComponent(files[len(files)-1])
		if err != nil {
			return 0, 0, fmt.Errorf("schema version: %w", err)
		}
		return 0, latest, nil
	}
	p, err := newProvider(pool)
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("schema version: %w", err)
	}
	return current, latest, nil
}

func newProvider(pool *pgxpool.Pool) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	// No goose locker: its session advisory lock would stay on a pooled server connection;
	// MigrateWith holds metapipe_locks' "migrate" instead.
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(migrationsTable),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return p, nil
}
