package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// newStageCommand is `metapipe extract|transform|load --run DIR`: one stage of a run directory.
func newStageCommand(stage pipeline.Stage) *cli.Command {
	cmd := &cli.Command{Name: string(stage), Flags: []cli.Flag{required(flagRun)}, Action: runStage(stage)}
	switch stage {
	case pipeline.StageExtract:
		cmd.Usage = "run the extract stage of a run directory"
		cmd.Flags = append(extractFlags(), required(flagRun))
	case pipeline.StageTransform:
		cmd.Usage = "run the transform stage of a run directory (no database, no API)"
	case pipeline.StageLoad:
		cmd.Usage = "run the load stage of a run directory"
	}
	return cmd
}

func runStage(stage pipeline.Stage) cli.ActionFunc {
	return func(c *cli.Context) error {
		dir := records.RunDir(c.String("run"))
		var rep *pipeline.Report
		var err error
		if stage == pipeline.StageTransform {
			rep, err = pipeline.TransformDir(c.Context, dir, logger(c))
		} else {
			r, oerr := pipeline.Open(c.Context, config(c))
			if oerr != nil {
				return oerr
			}
			defer r.Close()
			rep, err = r.Stage(c.Context, dir, stage)
		}
		if rep != nil {
			status := pipeline.StatusPending
			if s := rep.Ledger.Stages[stage]; s != nil {
				status = s.Status
			}
			fmt.Fprintf(c.App.Writer, "%s %s: %s\n", stage, rep.Dir, status)
			printTimings(c.App.Writer, &rep.Ledger)
		}
		return err
	}
}
