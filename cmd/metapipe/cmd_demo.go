package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// demoOptions are metapipe demo's flags: the planning ones but the clients and the shard, the
// extract ones that matter on a simulator, the simulator's.
type demoOptions struct {
	plan    planOptions
	extract extractOptions
	sim     simOptions
}

func newDemoCommand() *cli.Command {
	return command("demo", "everything local: simulator, demo clients and KPI rows, a full run (what make run calls)", func(d *demoOptions) []cli.Flag {
		flags := append(d.plan.flags("client", "shard"), d.extract.concurrencyFlag())
		flags = append(append(flags, d.extract.readFlags()...), d.extract.pageSizeFlag())
		return append(flags, d.sim.flags()...)
	}, runDemo)
}

// runDemo serves the simulator, seeds its accounts as clients with a year of KPI rows, runs the
// whole pipeline for them and prints what landed, the API cost and the timings.
func runDemo(ctx context.Context, cmd *cli.Command, d *demoOptions) error {
	o, err := d.plan.options()
	if err != nil {
		return err
	}
	start := time.Now()
	sim, err := d.sim.simulator()
	if err != nil {
		return err
	}
	cfg, err := stageConfig(cmd, &d.extract)
	if err != nil {
		return err
	}
	url, stop, err := serveSim(ctx, "127.0.0.1:0", sim, cfg.Logger)
	if err != nil {
		return err
	}
	defer stop()
	cfg.GraphURL, cfg.Token = url, extract.NewToken(graphsim.DemoToken)
	r, err := pipeline.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	w := cmd.Root().Writer
	if jsonMode(cmd) {
		event(cmd, "demo_started", false, "simulator", url, "accounts", len(sim.Accounts()))
	} else {
		fmt.Fprintf(w, "simulator on %s; migrating and seeding %d demo clients\n", url, len(sim.Accounts()))
	}
	if err := r.Migrate(ctx); err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	// River's schema too, as metapipe migrate does: the demo's database serves the service.
	if _, err := service.MigrateRiver(ctx, r.Pool(), nil); err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	// KPI rows from the horizon's first Monday to the latest today (the simulator has none later).
	last := o.AsOf
	if last.IsZero() {
		last = time.Now().In(time.FixedZone("UTC+14", 14*3600))
	}
	horizon := pipeline.Monday(last).AddDate(0, 0, -7*o.Weeks)
	ids, err := graphsim.SeedDemo(ctx, r.Pool(), sim, horizon, last)
	if err != nil {
		return fmt.Errorf("%w: seed demo: %w", pipeline.ErrCannotStart, err)
	}
	for _, a := range sim.Accounts() {
		o.Clients = append(o.Clients, "Demo "+a.Name)
	}
	rep, runErr := r.Run(ctx, o, "")
	landed, err := queryLanded(ctx, r.Pool(), ids)
	if err != nil {
		return err
	}
	cnt := sim.Counters()
	var status pipeline.Status
	if rep != nil {
		status = rep.Ledger.Status
	}
	if jsonMode(cmd) {
		event(cmd, "demo_landed", false, "clients", landed, "graph_api_requests", cnt.Requests,
			"wall_seconds", time.Since(start).Seconds())
		return finish(cmd, "run_finished", "run", rep, status, runErr)
	}
	if rep != nil {
		fmt.Fprintf(w, "\nrun %s: %s\n", rep.Dir, rep.Ledger.Status)
	}
	fmt.Fprintln(w, "\nwhat landed in campaign_summaries:")
	printLanded(w, landed)
	fmt.Fprintf(w, "\nGraph API requests: %d (%s)\n", sumCounts(cnt.Requests), fmtCounts(cnt.Requests))
	if rep != nil {
		printCost(w, rep.Plan, &rep.Ledger, d.extract.pageSize)
		printTimings(w, &rep.Ledger)
	}
	// The hint names the binary as it was called (bin/metapipe under make run).
	fmt.Fprintf(w, "demo wall time %.2fs; `%s --stage-dir %s status` shows the ledger\n", time.Since(start).Seconds(), os.Args[0], globals.stageDir)
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
	for _, k := range []string{graphsim.KindAccount, graphsim.KindSubmit, graphsim.KindPoll, graphsim.KindResults, graphsim.KindSync, graphsim.KindOther} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}
