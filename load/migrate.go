package load

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsTable is goose's version table; a name of our own so that another goose user in
// the same database is not confused with us.
const migrationsTable = "metapipe_schema_migrations"

// migrateLockID is the session advisory lock that serializes concurrent migrations.
const migrateLockID = 0x6d65746170697065 // "metapipe"

// Migrate brings the schema up to date: clients, daily_kpi_data, campaign_summaries and
// client_sync_state, created or, when the old application's tables exist, extended in place.
// It is idempotent, and two processes migrating at once are serialized by a session
// advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	p, err := newProvider(pool)
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// SchemaVersion returns the current and the latest known schema version.
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (current, latest int64, err error) {
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
	// Probe every second for up to five minutes while another process migrates.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("migrate: session locker: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(migrationsTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return p, nil
}
