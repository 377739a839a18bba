package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// newStageCommand is `metapipe extract|transform|load --run DIR`: one stage of a run directory.
func newStageCommand(stage pipeline.Stage) *cli.Command {
	cmd := &cli.Command{Name: string(stage), Flags: []cli.Flag{flagRun(true)}, Action: runStage(stage)}
	switch stage {
	case pipeline.StageExtract:
		cmd.Usage = "run the extract stage of a run directory"
		cmd.Flags = append(extractFlags(), flagRun(true))
	case pipeline.StageTransform:
		cmd.Usage = "run the transform stage of a run directory (no database, no API)"
	case pipeline.StageLoad:
		cmd.Usage = "run the load stage of a run directory"
	}
	return cmd
}

func runStage(stage pipeline.Stage) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		rep, err := stageReport(ctx, cmd, stage)
		status := pipeline.StatusPending
		if rep != nil {
			if s := rep.Ledger.Stages[stage]; s != nil {
				status = s.Status
			}
		}
		return finish(cmd, "stage_finished", string(stage), rep, status, err, "stage", stage)
	}
}

func stageReport(ctx context.Context, cmd *cli.Command, stage pipeline.Stage) (*pipeline.Report, error) {
	dir := records.RunDir(cmd.String("run"))
	if stage == pipeline.StageTransform {
		return pipeline.TransformDir(ctx, dir, logger(cmd))
	}
	cfg, err := config(cmd)
	if err != nil {
		return nil, err
	}
	r, err := pipeline.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Stage(ctx, dir, stage)
}
