package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

func newStatusCommand() *cli.Command {
	return &cli.Command{Name: "status", Usage: "print a run's ledger (default the latest run)",
		Flags: []cli.Flag{flagRun, flagJSON}, Action: runStatus}
}

func runStatus(c *cli.Context) error {
	dir := records.RunDir(c.String("run"))
	if dir == "" {
		dir = pipeline.LatestRun(c.String("stage-dir"))
		if dir == "" {
			return fmt.Errorf("%w: no run directory in %s", pipeline.ErrUsage, c.String("stage-dir"))
		}
	}
	l, err := pipeline.ReadLedger(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrUsage, err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, l)
	}
	printLedger(c.App.Writer, dir, l)
	return nil
}
