package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// stageOptions are the flags of one stage's command: the run directory and, for extract, the
// pacing of the Graph API.
type stageOptions struct {
	run     string
	extract extractOptions
}

// newStageCommand is `metapipe extract|transform|load --run DIR`: one stage of a run directory.
func newStageCommand(stage pipeline.Stage) *cli.Command {
	o := &stageOptions{}
	cmd := &cli.Command{Name: string(stage), Flags: []cli.Flag{flagRun(true, &o.run)},
		Action: func(ctx context.Context, cmd *cli.Command) error { return runStage(ctx, cmd, stage, o) }}
	switch stage {
	case pipeline.StageExtract:
		cmd.Usage = "run the extract stage of a run directory"
		cmd.Flags = append(o.extract.flags(), flagRun(true, &o.run))
	case pipeline.StageTransform:
		cmd.Usage = "run the transform stage of a run directory (no database, no API)"
	case pipeline.StageLoad:
		cmd.Usage = "run the load stage of a run directory"
	}
	return cmd
}

func runStage(ctx context.Context, cmd *cli.Command, stage pipeline.Stage, o *stageOptions) error {
	rep, err := stageReport(ctx, cmd, stage, o)
	status := pipeline.StatusPending
	if rep != nil {
		if s := rep.Ledger.Stages[stage]; s != nil {
			status = s.Status
		}
	}
	return finish(cmd, "stage_finished", string(stage), rep, status, err, "stage", stage)
}

func stageReport(ctx context.Context, cmd *cli.Command, stage pipeline.Stage, o *stageOptions) (*pipeline.Report, error) {
	dir := records.RunDir(o.run)
	if stage == pipeline.StageTransform {
		return pipeline.TransformDir(ctx, dir, logger(cmd))
	}
	cfg, err := stageConfig(cmd, &o.extract)
	r, _, err := openRunner(ctx, cfg, err)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Stage(ctx, dir, stage)
}
