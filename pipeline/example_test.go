package pipeline_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/pipeline"
)

// A whole run for two clients on the Graph API simulator: plan, extract, transform and load
// of four weeks as of Sunday 1 March 2026, then the same run again, which finds the run done and
// starts a new one that rewrites nothing.
func ExampleRunner_Run() {
	ctx := context.Background()
	sim := graphsim.New(graphsim.Config{Seed: 1, Accounts: 2, JobDuration: 50 * time.Millisecond})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	url, drop := pgtest.ExampleDatabase()
	defer drop()
	stage, _ := os.MkdirTemp("", "example-stage")
	defer os.RemoveAll(stage)

	r, err := pipeline.Open(ctx, pipeline.Config{
		DatabaseURL: url, GraphURL: srv.URL, Token: extract.NewToken(graphsim.DemoToken), StageDir: stage,
		Poll: extract.PollConfig{First: 50 * time.Millisecond},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	asOf := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	_ = r.Migrate(ctx)
	_, _ = graphsim.SeedDemo(ctx, r.Pool(), sim, asOf.AddDate(0, 0, -27), asOf) // clients and KPI rows

	for range 2 {
		rep, err := r.Run(ctx, pipeline.Options{AsOf: asOf, Weeks: 4, Lookback: 28}, "")
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %d clients, rows %+v\n", rep.Ledger.Status, len(rep.Plan.Clients), rep.Ledger.Rows)
	}
	// Output:
	// done: 2 clients, rows {Inserted:8 Updated:0 Unchanged:0 Confirmed:0 Kept:0 Deleted:0}
	// done: 2 clients, rows {Inserted:0 Updated:0 Unchanged:8 Confirmed:0 Kept:0 Deleted:0}
}
