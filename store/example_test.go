package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

// A summaries file of one client-week loaded twice: the first load inserts the row, the second
// finds its content hash unchanged and writes nothing.
func ExampleLoad() {
	ctx := context.Background()
	url, drop := pgtest.ExampleDatabase() // a database of its own on TEST_DATABASE_URL's server
	defer drop()
	pool, _ := pgxpool.New(ctx, url)
	defer pool.Close()
	if err := store.Migrate(ctx, pool); err != nil {
		fmt.Println(err)
		return
	}
	var client string
	_ = pool.QueryRow(ctx, `INSERT INTO clients (name, meta_ad_account_id) VALUES ('Hotel Alpenblick', 'act_1')
		RETURNING id::text`).Scan(&client)

	dir, _ := os.MkdirTemp("", "example-run")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "summaries.parquet")
	s := records.Summary{ClientID: client, SummaryDate: records.DayNumber(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)),
		TotalSpend: "150.00", TotalImpressions: 30000, TotalClicks: 600, Reach: 20000,
		CampaignData: "[]", MetaTables: "{}", Currency: "CHF", AsOf: records.DayNumber(time.Date(2026, 1, 11, 0, 0, 0, 0, time.UTC))}
	s.ContentHash = s.Hash()
	_ = records.WriteParquet(path, []records.Summary{s}, records.SummaryRowGroupRows)

	req := store.Request{SummariesPath: path, ClientIDs: []string{client}, DataSource: "example"}
	for range 2 {
		res, err := store.Load(ctx, pool, req)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("inserted %d, updated %d, unchanged %d\n", res.Inserted, res.Updated, res.Unchanged)
	}
	var spend string
	_ = pool.QueryRow(ctx, `SELECT total_spend::text FROM campaign_summaries WHERE client_id = $1`, client).Scan(&spend)
	fmt.Println("total_spend", spend)
	// Output:
	// inserted 1, updated 0, unchanged 0
	// inserted 0, updated 0, unchanged 1
	// total_spend 150.00
}
