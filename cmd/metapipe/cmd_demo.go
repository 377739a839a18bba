package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/fixtures"
	"github.com/metapipe/metapipe/pipeline"
)

func newDemoCommand() *cli.Command {
	return &cli.Command{Name: "demo", Usage: "everything local: simulator, demo clients and KPI rows, a full run (what make run calls)",
		Flags: append([]cli.Flag{flagAsOf, flagWeeks, flagLookback, flagFull, flagConcurrency, flagPageSize}, simFlags()...), Action: runDemo}
}

// runDemo serves the simulator, seeds its accounts as clients with a year of KPI rows, runs the
// whole pipeline for them and prints what landed, the API cost and the timings.
func runDemo(c *cli.Context) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	start := time.Now()
	sim := newSim(c, c.Int("accounts"))
	url, stop, err := serveSim(c.Context, "127.0.0.1:0", sim)
	if err != nil {
		return err
	}
	defer stop()
	cfg := config(c)
	cfg.GraphURL, cfg.Token = url, extract.NewToken(fixtures.DemoToken)
	r, err := pipeline.Open(c.Context, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	w := c.App.Writer
	fmt.Fprintf(w, "simulator on %s; migrating and seeding %d demo clients\n", url, c.Int("accounts"))
	if err := r.Migrate(c.Context); err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	// KPI rows from the horizon's first Monday to the latest today (the simulator has none later).
	last := o.AsOf
	if last.IsZero() {
		last = time.Now().In(time.FixedZone("UTC+14", 14*3600))
	}
	horizon := pipeline.Monday(last).AddDate(0, 0, -7*o.Weeks)
	ids, err := fixtures.SeedDemo(c.Context, r.Pool(), sim, horizon, last)
	if err != nil {
		return fmt.Errorf("%w: seed demo: %w", pipeline.ErrCannotStart, err)
	}
	for _, a := range sim.Accounts() {
		o.Clients = append(o.Clients, "Demo "+a.Name)
	}
	rep, runErr := r.Run(c.Context, o, "")
	if rep != nil {
		fmt.Fprintf(w, "\nrun %s: %s\n", rep.Dir, rep.Ledger.Status)
	}
	fmt.Fprintln(w, "\nwhat landed in campaign_summaries:")
	if err := printLanded(c.Context, w, r.Pool(), ids); err != nil {
		return err
	}
	cnt := sim.Counters()
	fmt.Fprintf(w, "\nGraph API requests: %d (%s)\n", sumCounts(cnt.Requests), fmtCounts(cnt.Requests))
	if rep != nil {
		printCost(w, rep.Plan, &rep.Ledger, c.Int("page-size"))
		printTimings(w, &rep.Ledger)
	}
	fmt.Fprintf(w, "demo wall time %.2fs; `metapipe --stage-dir %s status` shows the ledger\n", time.Since(start).Seconds(), c.String("stage-dir"))
	return runErr
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func fmtCounts(m map[string]int64) string {
	var parts []string
	for _, k := range []string{fixtures.KindAccount, fixtures.KindSubmit, fixtures.KindPoll, fixtures.KindResults, fixtures.KindSync, fixtures.KindOther} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}
