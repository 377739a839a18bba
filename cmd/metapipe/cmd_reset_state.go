package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/metapipe/metapipe/load"
	"github.com/metapipe/metapipe/pipeline"
)

func newResetStateCommand() *cli.Command {
	return &cli.Command{
		Name:  "reset-state",
		Usage: "make a client's weeks non-final, so that the next run refetches them and replaces the stored rows",
		Description: "Without --from every week of the client becomes non-final (its sync state is deleted: the next run\n" +
			"backfills the horizon); with --from DATE the weeks from DATE's week on. The stored rows of those weeks\n" +
			"forget their as-of date, so the next run replaces them even if its as-of date is earlier.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "client", Required: true, Usage: "client name or id (repeatable)"},
			&cli.StringFlag{Name: "from", Usage: "first day to make non-final, YYYY-MM-DD (its week's Monday on); default every week"},
		},
		Action: runResetState,
	}
}

func runResetState(c *cli.Context) error {
	var from time.Time
	if s := c.String("from"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return fmt.Errorf("%w: --from %q: want YYYY-MM-DD", pipeline.ErrUsage, s)
		}
		from = t
	}
	r, err := pipeline.Open(c.Context, config(c))
	if err != nil {
		return err
	}
	defer r.Close()
	resets, err := r.ResetState(c.Context, c.StringSlice("client"), from)
	for _, rs := range resets {
		printReset(c.App.Writer, rs)
	}
	return err
}

func printReset(w io.Writer, rs pipeline.Reset) {
	weeks := "every week"
	if rs.From != nil {
		weeks = "the weeks from " + rs.From.Format(time.DateOnly)
	}
	fmt.Fprintf(w, "%s: %s non-final; sync state %s -> %s; %d stored rows will be replaced by the next run\n",
		rs.Client.Name, weeks, describeState(rs.Before), describeState(rs.After), rs.RowsReset)
}

func describeState(s *load.SyncState) string {
	if s == nil {
		return "none (the next run backfills the horizon)"
	}
	final := "none"
	if s.FinalThrough != nil {
		final = s.FinalThrough.Format(time.DateOnly)
	}
	return fmt.Sprintf("covered from %s, final through %s, last as of %s", s.CoveredFrom.Format(time.DateOnly), final, s.LastAsOf.Format(time.DateOnly))
}
