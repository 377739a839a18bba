package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
	"github.com/metapipe/metapipe/store"
)

func newMigrateCommand() *cli.Command {
	var wait time.Duration
	return &cli.Command{Name: "migrate", Usage: "create or update the tables, metapipe's and River's (idempotent); with METAPIPE_TOKEN_KEY, encrypt the clients' tokens",
		Action: func(ctx context.Context, cmd *cli.Command) error { return runMigrate(ctx, cmd, wait) },
		Flags: []cli.Flag{&cli.DurationFlag{Name: "wait", Value: store.DefaultMigrateWait, Validator: between(time.Second, time.Hour), Destination: &wait,
			Usage: "the longest it waits while another migrate holds the migration lock (then exit 3, naming the holder)"}}}
}

func runMigrate(ctx context.Context, cmd *cli.Command, wait time.Duration) error {
	cfg, err := baseConfig(cmd)
	r, cfg, err := openRunner(ctx, cfg, err)
	if err != nil {
		return err
	}
	defer r.Close()
	// The version before: 0 on an empty database (no goose table yet).
	from, _, err := store.SchemaVersion(ctx, r.Pool())
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	if err := r.MigrateWait(ctx, wait); err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	river, err := service.MigrateRiverWith(ctx, r.Pool(), store.MigrateOptions{Lease: r.Lease(""), Wait: wait, Log: cfg.Logger})
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	version, _, err := store.SchemaVersion(ctx, r.Pool())
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	encrypted, tokens, err := r.EncryptTokens(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	if tokens.Plain > 0 {
		cfg.Logger.Warn("client tokens stored in plain text: set METAPIPE_TOKEN_KEY and run metapipe migrate again to encrypt them", "clients", tokens.Plain)
	}
	if tokens.Other > 0 {
		cfg.Logger.Warn("client tokens encrypted under a key not given (METAPIPE_TOKEN_KEY, METAPIPE_TOKEN_KEY_PREVIOUS): they cannot be read", "clients", tokens.Other)
	}
	if jsonMode(cmd) {
		event(cmd, "migrated", false, "from_version", from, "version", version, "applied", version-from, "river_applied", river,
			"tokens_encrypted", encrypted, "tokens_plain", tokens.Plain, "tokens_unreadable", tokens.Other)
		return nil
	}
	w := cmd.Root().Writer
	switch {
	case from == 0 && version > 0:
		fmt.Fprintf(w, "created metapipe's tables: %d migrations applied, schema at version %d", version, version)
	case version > from:
		fmt.Fprintf(w, "migrated metapipe's schema from version %d to %d (%d migrations applied)", from, version, version-from)
	default:
		fmt.Fprintf(w, "metapipe's schema already up to date at version %d (nothing applied)", version)
	}
	if river > 0 {
		fmt.Fprintf(w, "; River's: %d migrations applied\n", river)
	} else {
		fmt.Fprintln(w, "; River's: up to date")
	}
	if encrypted > 0 {
		fmt.Fprintf(w, "client tokens: %d encrypted now (METAPIPE_TOKEN_KEY)\n", encrypted)
	}
	return nil
}
