package store

import (
	"context"
	"sync"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// A first load copies straight into campaign_summaries. If a row appears meanwhile that the
// read of stored hashes did not show (a writer that does not take the advisory lock), the
// direct COPY meets a unique violation and the load is retried through the staging table and
// the merge: the file's rows win, nothing is lost or duplicated.
func TestDirectCopyFallsBackToMerge(t *testing.T) {
	ctx := context.Background()
	pool := newMigratedPool(t)
	a := insertClient(t, pool, "Direct")
	rows := weeks(a, 8, 2000)
	path := writeSummaries(t, rows)

	var once sync.Once
	req := Request{SummariesPath: path, ClientIDs: []string{a}, DataSource: "test"}
	req.afterRow = func(copied int64) {
		if copied != 2 {
			return
		}
		once.Do(func() {
			// Another writer, without the lock, inserts week 6 and commits.
			if _, err := pool.Exec(ctx, `INSERT INTO campaign_summaries (client_id, summary_date, total_spend, content_hash)
				VALUES ($1, $2, 1.00, 'intruder')`, a, monday(6)); err != nil {
				t.Errorf("intruder insert: %v", err)
			}
		})
	}
	res, err := Load(ctx, pool, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 {
		t.Errorf("attempts = %d, want 2 (direct, then through the staging table)", res.Attempts)
	}
	if res.Inserted != 7 || res.Updated != 1 {
		t.Errorf("inserted %d updated %d, want 7 and 1 (the intruder's row replaced)", res.Inserted, res.Updated)
	}
	var n int
	var hashes int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE content_hash <> 'intruder') FROM campaign_summaries`).Scan(&n, &hashes); err != nil {
		t.Fatal(err)
	}
	if n != 8 || hashes != 8 {
		t.Errorf("%d rows, %d with the file's hash; want 8 and 8", n, hashes)
	}
	// A first load without interference is direct: one attempt, no merge needed.
	b := insertClient(t, pool, "Direct B")
	res, err = Load(ctx, pool, Request{SummariesPath: writeSummaries(t, []records.Summary{summary(b, monday(1), 1, 500)}), ClientIDs: []string{b}})
	if err != nil || res.Attempts != 1 || res.Inserted != 1 {
		t.Errorf("plain first load: %+v, %v", res, err)
	}
}
