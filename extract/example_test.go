package extract_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/records"
)

// One client's three weeks, asked of the Graph API simulator: five report runs (one per kind),
// their rows staged as Parquet in the client's folder of a run directory.
func ExampleExtractor_Extract() {
	sim := graphsim.New(graphsim.Config{Seed: 1, Accounts: 1, JobDuration: 50 * time.Millisecond})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	account := sim.Accounts()[0]

	run, _ := os.MkdirTemp("", "example-run")
	defer os.RemoveAll(run)
	dir := records.RunDir(run).Client("client-1")

	x := &extract.Extractor{
		Client: extract.NewClient(srv.URL, "v25.0", ""), // META_GRAPH_URL, META_API_VERSION, META_APP_SECRET
		Poll:   extract.PollConfig{First: 50 * time.Millisecond},
	}
	res := x.Extract(context.Background(), extract.Request{
		ClientID: "client-1", ClientName: account.Name, Account: "act_" + account.ID,
		Token: extract.NewToken(account.Token),
		Range: extract.Range{ // Monday 5 January to Sunday 25 January 2026
			Since: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
			Until: time.Date(2026, 1, 25, 0, 0, 0, 0, time.UTC),
		},
		Dir: dir,
	}, nil)
	if res.Err != nil {
		fmt.Println(res.Err)
		return
	}
	fmt.Println("report runs:", res.Stats.Submits)
	rows, _ := records.ReadParquet[records.InsightRow](dir.Report(records.KindAccount))
	for _, r := range rows {
		fmt.Println(records.DayTime(r.DateStart).Format(time.DateOnly), "spend", r.Spend, "reach", r.Reach)
	}
	// The simulator's third week has no delivery, so no row: weeks without delivery have none.

	// Output:
	// report runs: 5
	// 2026-01-05 spend 1413.92 reach 57303
	// 2026-01-12 spend 1153.83 reach 45507
}
