package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

func newStatusCommand() *cli.Command {
	return &cli.Command{Name: "status", Usage: "print a run's ledger (default the latest run)",
		Flags: []cli.Flag{flagRun(false), flagJSON()}, Action: runStatus}
}

func runStatus(_ context.Context, cmd *cli.Command) error {
	dir := records.RunDir(cmd.String("run"))
	if dir == "" {
		dir = pipeline.LatestRun(cmd.String("stage-dir"))
		if dir == "" {
			return fmt.Errorf("%w: no run directory in %s", pipeline.ErrUsage, cmd.String("stage-dir"))
		}
	}
	l, err := pipeline.ReadLedger(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrUsage, err)
	}
	switch {
	case jsonMode(cmd):
		event(cmd, "status", false, "dir", string(dir), "ledger", l)
		return nil
	case cmd.Bool("json"):
		return writeJSON(cmd.Root().Writer, l)
	}
	printLedger(cmd.Root().Writer, dir, l)
	return nil
}
