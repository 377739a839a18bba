package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/load"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

func newMigrateCommand() *cli.Command {
	return &cli.Command{Name: "migrate", Usage: "create or update the tables, metapipe's and River's (idempotent)", Action: runMigrate,
		Flags: []cli.Flag{&cli.DurationFlag{Name: "wait", Value: load.DefaultMigrateWait, Validator: between(time.Second, time.Hour),
			Usage: "the longest it waits while another migrate holds the migration lock (then exit 3, naming the holder)"}}}
}

func runMigrate(ctx context.Context, cmd *cli.Command) error {
	cfg, err := config(cmd)
	if err != nil {
		return err
	}
	r, err := pipeline.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.MigrateWait(ctx, cmd.Duration("wait")); err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	river, err := service.MigrateRiverWith(ctx, r.Pool(), load.MigrateOptions{Lease: r.Lease(""), Wait: cmd.Duration("wait"), Log: cfg.Logger})
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	version, _, err := load.SchemaVersion(ctx, r.Pool())
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	if jsonMode(cmd) {
		event(cmd, "migrated", false, "version", version, "river_applied", river)
		return nil
	}
	fmt.Fprintf(cmd.Root().Writer, "schema up to date: metapipe's at version %d; River's: %d migrations applied now\n", version, river)
	return nil
}
