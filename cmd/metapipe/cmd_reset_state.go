package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/store"
)

func newResetStateCommand() *cli.Command {
	o := &resetStateOptions{}
	o.fromFlag = &cli.StringFlag{Name: "from", Destination: &o.from,
		Usage: "first day to make non-final, `YYYY-MM-DD` (its week's Monday on); default every week"}
	return &cli.Command{
		Name:  "reset-state",
		Usage: "make a client's weeks non-final, so that the next run refetches them and replaces the stored rows",
		Description: "Without --from every week of the client becomes non-final (its sync state is deleted: the next run\n" +
			"backfills the horizon); with --from DATE the weeks from DATE's week on. The stored rows of those weeks\n" +
			"forget their as-of date, so the next run replaces them even if its as-of date is earlier.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "client", Required: true, Usage: "client name or id (repeatable)", Destination: &o.clients},
			o.fromFlag,
		},
		Action: func(ctx context.Context, cmd *cli.Command) error { return runResetState(ctx, cmd, o) },
	}
}

// resetStateOptions are metapipe reset-state's flags.
type resetStateOptions struct {
	clients  []string
	from     string
	fromFlag *cli.StringFlag // its IsSet: an empty --from is refused
}

func runResetState(ctx context.Context, cmd *cli.Command, o *resetStateOptions) error {
	var from time.Time
	if s := o.from; s != "" || o.fromFlag.IsSet() {
		// An empty --from (an unset shell variable) is refused: without --from every week is
		// reset, which is not what a --from meant.
		t, err := time.Parse(time.DateOnly, s)
		if err != nil || t.IsZero() {
			return fmt.Errorf("%w: --from %q: want YYYY-MM-DD (leave --from out to reset every week)", pipeline.ErrUsage, s)
		}
		from = t
	}
	cfg, err := baseConfig(cmd)
	r, _, err := openRunner(ctx, cfg, err)
	if err != nil {
		return err
	}
	defer r.Close()
	resets, err := r.ResetState(ctx, o.clients, from)
	for _, rs := range resets {
		if jsonMode(cmd) {
			event(cmd, "state_reset", false, "client", rs.Client.Name, "client_id", rs.Client.ID, "from", dateOrNil(rs.From),
				"before", syncStateJSON(rs.Before), "after", syncStateJSON(rs.After), "rows_reset", rs.RowsReset)
			continue
		}
		printReset(cmd.Root().Writer, rs)
	}
	return err
}

func printReset(w io.Writer, rs pipeline.Reset) {
	weeks := "every week"
	if rs.From != nil {
		weeks = "the weeks from " + rs.From.Format(time.DateOnly)
	}
	fmt.Fprintf(w, "%s: %s non-final; %d stored rows forgot their as-of date (the next run that covers their week replaces them)\n",
		rs.Client.Name, weeks, rs.RowsReset)
	fmt.Fprintf(w, "  before: %s\n  after:  %s\n", describeState(rs.Before), describeState(rs.After))
}

func describeState(s *store.SyncState) string {
	if s == nil {
		return "no sync state (the next run backfills the horizon)"
	}
	return fmt.Sprintf("covered from %s, final through %s, last as of %s", s.CoveredFrom.Format(time.DateOnly), dateOr(s.FinalThrough, "none"), s.LastAsOf.Format(time.DateOnly))
}

// dateOr is *t as YYYY-MM-DD, or none.
func dateOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.Format(time.DateOnly)
}

// syncStateJSON is a sync state as the other events write it: snake_case names, dates as
// YYYY-MM-DD; nil when there is none.
func syncStateJSON(st *store.SyncState) map[string]any {
	if st == nil {
		return nil
	}
	return map[string]any{"covered_from": st.CoveredFrom.Format(time.DateOnly), "final_through": dateOrNil(st.FinalThrough),
		"last_as_of": st.LastAsOf.Format(time.DateOnly), "last_run_id": st.LastRunID}
}

// dateOrNil is *t as YYYY-MM-DD, or nil.
func dateOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Format(time.DateOnly)
}
