package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/metapipe/metapipe/pipeline"
)

func newMigrateCommand() *cli.Command {
	return &cli.Command{Name: "migrate", Usage: "create or update the tables", Action: runMigrate}
}

func runMigrate(c *cli.Context) error {
	r, err := pipeline.Open(c.Context, config(c))
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Migrate(c.Context); err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	fmt.Fprintln(c.App.Writer, "schema up to date")
	return nil
}
