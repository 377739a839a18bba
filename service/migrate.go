package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// MigrateRiver applies River's schema (its river_migration table, line "main"), idempotently,
// holding the lock "migrate river" of metapipe_locks (MigrateRiverWith, default options). log
// may be nil. It returns how many of River's migrations it applied (0: the schema was current).
func MigrateRiver(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (int, error) {
	return MigrateRiverWith(ctx, pool, pipeline.MigrateOptions{Log: log})
}

// MigrateRiverWith is MigrateRiver waiting for another migration as store.MigrateWith does: a
// lease row, not a session advisory lock (rivermigrate takes none of its own), so nothing is
// left on a pooled connection; a *store.WaitError names the holder after o.Wait.
func MigrateRiverWith(ctx context.Context, pool *pgxpool.Pool, o pipeline.MigrateOptions) (int, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var applied int
	err := pipeline.WithMigrationLock(ctx, pool, "migrate river", o, func(ctx context.Context) error {
		m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)}) // ours say what it applied
		if err != nil {
			return err
		}
		res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return err
		}
		for _, v := range res.Versions {
			log.Info("river migration applied", "version", v.Version, "name", v.Name)
		}
		applied = len(res.Versions)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("river %w", err)
	}
	return applied, nil
}

// checkSchemas says, clearly, when metapipe's schema is older than this binary's (a binary
// rolled out before metapipe migrate) or River's was never applied.
func checkSchemas(ctx context.Context, pool *pgxpool.Pool) error {
	current, latest, err := pipeline.SchemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	if current == 0 {
		return fmt.Errorf("metapipe's tables are not in this database (run metapipe migrate, as a role that may create tables in its schema: the database's owner)")
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
