package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

func newRunCommand() *cli.Command {
	return &cli.Command{Name: "run", Usage: "plan, extract, transform and load; resumes an unfinished run",
		Flags: append(append(planFlags(), extractFlags()...), flagRun(false)), Action: runRun}
}

func runRun(ctx context.Context, cmd *cli.Command) error {
	r, o, err := openWithOptions(ctx, cmd)
	if err != nil {
		return finish(cmd, "run_finished", "run", nil, "", err)
	}
	defer r.Close()
	rep, err := r.Run(ctx, o, records.RunDir(cmd.String("run")))
	var status pipeline.Status
	if rep != nil {
		status = rep.Ledger.Status
	}
	return finish(cmd, "run_finished", "run", rep, status, err)
}
