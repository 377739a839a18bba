package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// asOfOf moves a row's as-of date and leaves its content (and hash) as they are.
func asOfOf(s records.Summary, asOf time.Time) records.Summary {
	s.AsOf = days(asOf)
	return s
}

// rowState reads the row's as_of, total_spend and xmin.
func rowState(t *testing.T, ctx context.Context, l *fixture, client string, week time.Time) (asOf, spend, xmin string) {
	t.Helper()
	err := l.pool.QueryRow(ctx, `SELECT as_of::text, total_spend::text, xmin::text FROM campaign_summaries
		WHERE client_id = $1 AND summary_date = $2`, client, week).Scan(&asOf, &spend, &xmin)
	if err != nil {
		t.Fatal(err)
	}
	return asOf, spend, xmin
}

// Fresher data always wins: a file as of an earlier date than the stored rows changes none of
// them (their xmin stays), but fills weeks never loaded; a file as of a later date with the
// same figures only moves as_of forward (last_updated stays), with other figures replaces.
func TestLoadFresherDataWins(t *testing.T) {
	ctx := context.Background()
	l := &fixture{pool: newMigratedPool(t)}
	a := insertClient(t, l.pool, "Fresh A")
	nov29 := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	nov20 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	dec06 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)

	// Weeks 1 to 3 as of 29 November.
	var current []records.Summary
	for i := 1; i <= 3; i++ {
		current = append(current, asOfOf(summary(a, monday(i), i, 300), nov29))
	}
	if _, err := Load(ctx, l.pool, Request{SummariesPath: writeSummaries(t, current), ClientIDs: []string{a}}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, l.pool, "campaign_summaries")

	// A backdated file as of 20 November: week 0 was never loaded; weeks 1-3 have other
	// (less complete) figures, and week 3 is missing, as if it had lost its delivery.
	var backdated []records.Summary
	for i := 0; i <= 2; i++ {
		s := asOfOf(summary(a, monday(i), 100+i, 300), nov20)
		backdated = append(backdated, s)
	}
	res, err := Load(ctx, l.pool, Request{SummariesPath: writeSummaries(t, backdated), ClientIDs: []string{a},
		Ranges: []ClientRange{{ClientID: a, From: monday(0), To: nov20}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 1 || res.Updated != 0 || res.Kept != 2 || res.Deleted != 0 || res.Confirmed != 0 {
		t.Errorf("backdated load: %+v, want 1 inserted (the new week) and 2 kept", res)
	}
	after := dump(t, l.pool, "campaign_summaries")
	for _, line := range strings.Split(before, "\n") {
		if !strings.Contains(after, line) {
			t.Errorf("a row as of 29 November changed:\n%s", line)
		}
	}
	if asOf, _, _ := rowState(t, ctx, l, a, monday(0)); asOf != "2026-11-20" {
		t.Errorf("the new week's as_of = %s", asOf)
	}

	// The same figures as of 6 December: as_of moves forward, nothing else.
	_, spend1, _ := rowState(t, ctx, l, a, monday(1))
	var lastUpdated time.Time
	_ = l.pool.QueryRow(ctx, `SELECT last_updated FROM campaign_summaries WHERE client_id = $1 AND summary_date = $2`, a, monday(1)).Scan(&lastUpdated)
	later := []records.Summary{asOfOf(current[0], dec06), asOfOf(summary(a, monday(2), 222, 300), dec06)}
	res, err = Load(ctx, l.pool, Request{SummariesPath: writeSummaries(t, later), ClientIDs: []string{a}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged != 1 || res.Confirmed != 1 || res.Updated != 1 || res.Kept != 0 {
		t.Errorf("later load: %+v, want 1 unchanged and confirmed, 1 updated", res)
	}
	asOf1, spend1b, _ := rowState(t, ctx, l, a, monday(1))
	var lastUpdatedB time.Time
	_ = l.pool.QueryRow(ctx, `SELECT last_updated FROM campaign_summaries WHERE client_id = $1 AND summary_date = $2`, a, monday(1)).Scan(&lastUpdatedB)
	if asOf1 != "2026-12-06" || spend1b != spend1 || !lastUpdatedB.Equal(lastUpdated) {
		t.Errorf("confirmed row: as_of %s, spend %s (was %s), last_updated %v (was %v)", asOf1, spend1b, spend1, lastUpdatedB, lastUpdated)
	}
	if asOf2, spend2, _ := rowState(t, ctx, l, a, monday(2)); asOf2 != "2026-12-06" || spend2 != later[1].TotalSpend {
		t.Errorf("replaced row: as_of %s, spend %s, want 2026-12-06 and %s", asOf2, spend2, later[1].TotalSpend)
	}
}

// A stored week as of a later date than the run is not deleted when the run does not see it:
// the later run saw delivery the earlier one had not.
func TestLoadKeepsWeeksALaterAsOfSaw(t *testing.T) {
	ctx := context.Background()
	pool := newMigratedPool(t)
	a := insertClient(t, pool, "Fresh B")
	nov29 := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	nov20 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	if _, err := Load(ctx, pool, Request{SummariesPath: writeSummaries(t, []records.Summary{asOfOf(summary(a, monday(1), 1, 300), nov29)}),
		ClientIDs: []string{a}}); err != nil {
		t.Fatal(err)
	}
	res, err := Load(ctx, pool, Request{SummariesPath: writeSummaries(t, []records.Summary{asOfOf(summary(a, monday(0), 0, 300), nov20)}),
		ClientIDs: []string{a}, Ranges: []ClientRange{{ClientID: a, From: monday(0), To: nov20}}})
	if err != nil || res.Deleted != 0 || res.Inserted != 1 {
		t.Fatalf("%+v %v: want week 1 kept and week 0 inserted", res, err)
	}
}

// Sync states only move forward, unless recomputed (metapipe run --full).
func TestSyncStateMovesForwardUnlessRecomputed(t *testing.T) {
	ctx := context.Background()
	pool := newMigratedPool(t)
	a := insertClient(t, pool, "Sync A")
	d := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	p := func(s string) *time.Time { v := d(s); return &v }
	file := writeSummaries(t, []records.Summary{summary(a, monday(0), 0, 300)})
	load := func(st SyncState, recompute bool) SyncState {
		t.Helper()
		st.ClientID = a
		if _, err := Load(ctx, pool, Request{SummariesPath: file, ClientIDs: []string{a}, Sync: []SyncState{st}, RecomputeSync: recompute}); err != nil {
			t.Fatal(err)
		}
		got, err := ReadSyncStates(ctx, pool, []string{a})
		if err != nil {
			t.Fatal(err)
		}
		return got[a]
	}
	check := func(got SyncState, covered, final, asOf, run string) {
		t.Helper()
		f := "NULL"
		if got.FinalThrough != nil {
			f = got.FinalThrough.Format(time.DateOnly)
		}
		if got.CoveredFrom.Format(time.DateOnly) != covered || f != final || got.LastAsOf.Format(time.DateOnly) != asOf || got.LastRunID != run {
			t.Errorf("sync state %s %s %s %s, want %s %s %s %s", got.CoveredFrom.Format(time.DateOnly), f,
				got.LastAsOf.Format(time.DateOnly), got.LastRunID, covered, final, asOf, run)
		}
	}
	check(load(SyncState{CoveredFrom: d("2025-11-17"), FinalThrough: p("2026-10-25"), LastAsOf: d("2026-11-29"), LastRunID: "r1"}, false),
		"2025-11-17", "2026-10-25", "2026-11-29", "r1")
	// A backdated run: covered_from moves back, the rest stays.
	check(load(SyncState{CoveredFrom: d("2025-11-10"), FinalThrough: p("2026-10-18"), LastAsOf: d("2026-11-20"), LastRunID: "r2"}, false),
		"2025-11-10", "2026-10-25", "2026-11-29", "r1")
	// No final week in the run: final_through stays.
	check(load(SyncState{CoveredFrom: d("2025-12-01"), LastAsOf: d("2026-11-30"), LastRunID: "r3"}, false),
		"2025-11-10", "2026-10-25", "2026-11-30", "r3")
	// --full recomputes: a final_through pushed into the future comes back.
	if _, err := pool.Exec(ctx, `UPDATE client_sync_state SET final_through = '2027-05-02' WHERE client_id = $1`, a); err != nil {
		t.Fatal(err)
	}
	check(load(SyncState{CoveredFrom: d("2025-11-24"), FinalThrough: p("2026-11-01"), LastAsOf: d("2026-12-01"), LastRunID: "r4"}, false),
		"2025-11-10", "2027-05-02", "2026-12-01", "r4")
	check(load(SyncState{CoveredFrom: d("2025-11-24"), FinalThrough: p("2026-11-01"), LastAsOf: d("2026-12-01"), LastRunID: "r5"}, true),
		"2025-11-10", "2026-11-01", "2026-12-01", "r5")
	// From a state as of 2026-11-29 (not after today: the rule below reads the clock).
	if _, err := pool.Exec(ctx, `UPDATE client_sync_state SET covered_from = '2025-11-10', final_through = '2026-10-25',
		last_as_of = '2026-11-29', last_run_id = 'r5' WHERE client_id = $1`, a); err != nil {
		t.Fatal(err)
	}
	// A narrow --full (two weeks) leaves covered_from: the older rows are still there.
	check(load(SyncState{CoveredFrom: d("2026-11-16"), FinalThrough: p("2026-10-25"), LastAsOf: d("2026-11-29"), LastRunID: "r6"}, true),
		"2025-11-10", "2026-10-25", "2026-11-29", "r6")
	// A backdated --full (an old {{ ds }}) moves nothing, forward or back, but covered_from.
	check(load(SyncState{CoveredFrom: d("2025-06-02"), FinalThrough: p("2026-05-03"), LastAsOf: d("2026-06-01"), LastRunID: "r7"}, true),
		"2025-06-02", "2026-10-25", "2026-11-29", "r6")
	// A last_as_of after tomorrow is impossible (a state of the versions that took a future
	// as-of): --full replaces it.
	if _, err := pool.Exec(ctx, `UPDATE client_sync_state SET last_as_of = CURRENT_DATE + 30, final_through = '2027-05-02' WHERE client_id = $1`, a); err != nil {
		t.Fatal(err)
	}
	check(load(SyncState{CoveredFrom: d("2025-11-24"), FinalThrough: p("2026-10-25"), LastAsOf: d("2026-11-29"), LastRunID: "r8"}, true),
		"2025-06-02", "2026-10-25", "2026-11-29", "r8")
}

// A row without a currency code is refused before anything is written, naming the field.
func TestLoadRefusesARowWithoutCurrency(t *testing.T) {
	ctx := context.Background()
	pool := newMigratedPool(t)
	a := insertClient(t, pool, "Currency A")
	s := summary(a, monday(0), 0, 300)
	s.Currency = "zł"
	_, err := Load(ctx, pool, Request{SummariesPath: writeSummaries(t, []records.Summary{s}), ClientIDs: []string{a}})
	if err == nil || !strings.Contains(err.Error(), "field currency") {
		t.Fatalf("err = %v, want a row error naming currency", err)
	}
}
