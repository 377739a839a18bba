package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/metapipe/metapipe/internal/records"
)

func newRunCommand() *cli.Command {
	return &cli.Command{Name: "run", Usage: "plan, extract, transform and load; resumes an unfinished run",
		Flags: append(append(planFlags(), extractFlags()...), flagRun), Action: runRun}
}

func runRun(c *cli.Context) error {
	r, o, err := openWithOptions(c)
	if err != nil {
		return err
	}
	defer r.Close()
	rep, err := r.Run(c.Context, o, records.RunDir(c.String("run")))
	if rep != nil {
		fmt.Fprintf(c.App.Writer, "run %s: %s\n", rep.Dir, rep.Ledger.Status)
		printTimings(c.App.Writer, &rep.Ledger)
	}
	return err
}
