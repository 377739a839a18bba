package main

import (
	"github.com/urfave/cli/v2"
)

func newPlanCommand() *cli.Command {
	return &cli.Command{Name: "plan", Usage: "print what a run would fetch (changes nothing)",
		Flags: append(planFlags(), flagJSON), Action: runPlan}
}

func runPlan(c *cli.Context) error {
	r, o, err := openWithOptions(c)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := r.Plan(c.Context, o)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, p)
	}
	printPlan(c.App.Writer, p)
	return nil
}
