package main

import (
	"context"

	"github.com/urfave/cli/v3"
)

// planCommandOptions are metapipe plan's flags: the planning ones and the read planning's.
type planCommandOptions struct {
	plan    planOptions
	extract extractOptions
	json    bool
}

func newPlanCommand() *cli.Command {
	return command("plan", "print what a run would fetch (changes nothing)", func(o *planCommandOptions) []cli.Flag {
		return append(append(o.plan.flags(), flagJSON(&o.json)), o.extract.readFlags()...)
	}, runPlan)
}

func runPlan(ctx context.Context, cmd *cli.Command, o *planCommandOptions) error {
	opts, err := o.plan.options()
	if err != nil {
		return err
	}
	cfg, err := baseConfig(cmd) // no progress display: plan runs no stage
	if err == nil {
		o.extract.apply(&cfg)
	}
	r, _, err := openRunner(ctx, cfg, err)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := r.Plan(ctx, opts)
	if err != nil {
		return err
	}
	switch {
	case jsonMode(cmd):
		event(cmd, "plan", false, "plan", p)
		return nil
	case o.json:
		return writeJSON(cmd.Root().Writer, p)
	}
	printPlan(cmd.Root().Writer, p, r.SyncWeeks())
	return nil
}
