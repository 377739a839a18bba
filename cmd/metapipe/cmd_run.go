package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// runOptions are metapipe run's flags.
type runOptions struct {
	plan    planOptions
	extract extractOptions
	run     string
}

func newRunCommand() *cli.Command {
	return command("run", "plan, extract, transform and load; resumes an unfinished run", func(o *runOptions) []cli.Flag {
		return append(append(o.plan.flags(), o.extract.flags()...), flagRun(false, &o.run))
	}, runRun)
}

func runRun(ctx context.Context, cmd *cli.Command, o *runOptions) error {
	r, opts, err := openPlanned(ctx, cmd, &o.plan, &o.extract)
	if err != nil {
		return finish(cmd, "run_finished", "run", nil, "", err)
	}
	defer r.Close()
	rep, err := r.Run(ctx, opts, records.RunDir(o.run))
	var status pipeline.Status
	if rep != nil {
		status = rep.Ledger.Status
	}
	return finish(cmd, "run_finished", "run", rep, status, err)
}

// openPlanned reads the planning flags and the stage config, then connects: a bad flag is
// reported before the database is tried.
func openPlanned(ctx context.Context, cmd *cli.Command, p *planOptions, x *extractOptions) (*pipeline.Runner, pipeline.Options, error) {
	opts, err := p.options()
	if err != nil {
		return nil, opts, err
	}
	cfg, err := stageConfig(cmd, x)
	r, _, err := openRunner(ctx, cfg, err)
	return r, opts, err
}

func flagRun(required bool, dest *string) cli.Flag {
	return &cli.StringFlag{Name: "run", Required: required, TakesFile: true, Usage: "run directory (stage/<run-id>)", Destination: dest}
}

func flagJSON(dest *bool) cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print JSON", Destination: dest}
}
