package store

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// LoadTx commits or rolls back with the caller's transaction: rolled back, nothing is left of
// the load (rows or sync state); committed, the rows and the caller's own writes are in
// together.
func TestLoadTxFollowsTheCallersTransaction(t *testing.T) {
	ctx := context.Background()
	pool := newMigratedPool(t)
	a := insertClient(t, pool, "Tx A")
	rows := weeks(a, 3, 300)
	req := Request{SummariesPath: writeSummaries(t, rows), ClientIDs: []string{a},
		Sync: []SyncState{{ClientID: a, CoveredFrom: monday(0), LastAsOf: monday(3), LastRunID: "tx"}}}
	before := dump(t, pool, "campaign_summaries") + dump(t, pool, "client_sync_state")

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := LoadTx(ctx, tx, req)
	if err != nil || res.Inserted != 3 {
		t.Fatalf("LoadTx: %+v %v", res, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if after := dump(t, pool, "campaign_summaries") + dump(t, pool, "client_sync_state"); after != before {
		t.Error("a rolled back LoadTx left something behind")
	}

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := LoadTx(ctx, tx, req); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE clients SET active = false WHERE id = $1`, a) // the caller's own write
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var n, inactive int
	_ = pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM campaign_summaries), (SELECT count(*) FROM clients WHERE NOT active)`).Scan(&n, &inactive)
	if n != 3 || inactive != 1 {
		t.Errorf("after commit: %d rows, %d inactive clients; want 3 and 1", n, inactive)
	}
}
