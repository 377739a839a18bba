package main

import (
	"context"

	"github.com/urfave/cli/v3"
)

func newPlanCommand() *cli.Command {
	return &cli.Command{Name: "plan", Usage: "print what a run would fetch (changes nothing)",
		Flags: append(planFlags(), flagJSON(), flagSyncWeeks(), flagSyncBudget()), Action: runPlan}
}

func runPlan(ctx context.Context, cmd *cli.Command) error {
	r, o, err := openWithOptions(ctx, cmd)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := r.Plan(ctx, o)
	if err != nil {
		return err
	}
	switch {
	case jsonMode(cmd):
		event(cmd, "plan", false, "plan", p)
		return nil
	case cmd.Bool("json"):
		return writeJSON(cmd.Root().Writer, p)
	}
	printPlan(cmd.Root().Writer, p, r.SyncWeeks())
	return nil
}
