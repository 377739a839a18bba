package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// A week that lost all its delivery in a refetched range is deleted; rows outside the range,
// and other clients' rows, stay.
func TestLoadDeletesWeeksGoneFromTheRange(t *testing.T) {
	ctx := context.Background()
	pool := newMigratedPool(t)
	a := insertClient(t, pool, "Gone A")
	b := insertClient(t, pool, "Gone B")
	var first []records.Summary
	for i := 0; i < 6; i++ {
		first = append(first, summary(a, monday(i), i, 300), summary(b, monday(i), 10+i, 300))
	}
	if _, err := Load(ctx, pool, Request{SummariesPath: writeSummaries(t, first), ClientIDs: []string{a, b}}); err != nil {
		t.Fatal(err)
	}
	// Client a is refetched from week 2 to week 5: week 4 has no row any more.
	var again []records.Summary
	for _, i := range []int{2, 3, 5} {
		again = append(again, summary(a, monday(i), i, 300))
	}
	req := Request{SummariesPath: writeSummaries(t, again), ClientIDs: []string{a},
		Ranges: []ClientRange{{ClientID: a, From: monday(2), To: monday(5).AddDate(0, 0, 6)}}}
	res, err := Load(ctx, pool, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 1 || res.Unchanged != 3 || res.Inserted != 0 || res.Updated != 0 {
		t.Errorf("result %+v, want 1 deleted and 3 unchanged", res)
	}
	rows, err := pool.Query(ctx, `SELECT client_id::text, (summary_date - date '2025-01-06') / 7 FROM campaign_summaries ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]int{}
	for rows.Next() {
		var id string
		var wk int
		if err := rows.Scan(&id, &wk); err != nil {
			t.Fatal(err)
		}
		got[id] = append(got[id], wk)
	}
	if want := "[0 1 2 3 5]"; fmt.Sprint(got[a]) != want {
		t.Errorf("client a weeks %v, want %s", got[a], want)
	}
	if len(got[b]) != 6 {
		t.Errorf("client b weeks %v, want all 6", got[b])
	}
	// Without a range nothing is deleted.
	res, err = Load(ctx, pool, Request{SummariesPath: writeSummaries(t, again[:1]), ClientIDs: []string{a}})
	if err != nil || res.Deleted != 0 {
		t.Errorf("no range: %+v %v", res, err)
	}
}
