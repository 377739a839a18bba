package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/metapipe/metapipe/load"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// riverMigrateLockID serializes River's migrations (rivermigrate takes no lock of its own);
// distinct from goose's lock, which load.Migrate takes.
const riverMigrateLockID = 0x6d70726976657221 // "mpriver!"

// MigrateRiver applies River's schema (its river_migration table, line "main"), idempotently.
// Two processes migrating at once are serialized by a session advisory lock held on a
// connection of its own, outside the pool (the migrator needs the pool's connections). log may
// be nil. It returns how many of River's migrations it applied (0: the schema was current).
func MigrateRiver(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return 0, fmt.Errorf("river migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) // releases the lock
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(riverMigrateLockID)); err != nil {
		return 0, fmt.Errorf("river migrate: lock: %w", err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)}) // ours say what it applied
	if err != nil {
		return 0, fmt.Errorf("river migrate: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("river migrate: %w", err)
	}
	for _, v := range res.Versions {
		log.Info("river migration applied", "version", v.Version, "name", v.Name)
	}
	return len(res.Versions), nil
}

// checkSchemas says, clearly, when metapipe's schema is older than this binary's (a binary
// rolled out before metapipe migrate) or River's was never applied.
func checkSchemas(ctx context.Context, pool *pgxpool.Pool) error {
	current, latest, err := load.SchemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	if current < latest {
		return fmt.Errorf("metapipe schema at version %d, this binary needs %d (run metapipe migrate)", current, latest)
	}
	return checkRiverSchema(ctx, pool)
}

// checkRiverSchema says, clearly, when River's schema was never applied.
func checkRiverSchema(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("river schema: %w", err)
	}
	if !res.OK {
		return fmt.Errorf("river schema not up to date (run metapipe migrate): %v", res.Messages)
	}
	return nil
}
