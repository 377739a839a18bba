package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/internal/records"
)

// storedRow reads one campaign_summaries row, every column as text.
const selectRowText = `
SELECT client_id::text, summary_type, summary_date::text, platform,
       total_spend::text, total_impressions::text, total_clicks::text, reach::text,
       frequency::text, average_ctr::text, average_cpc::text, average_cpm::text,
       active_campaigns::text, campaign_data::text, jsonb_typeof(campaign_data),
       meta_tables::text, jsonb_typeof(meta_tables),
       total_conversions::text, click_to_call::text, email_contacts::text,
       booking_step_1::text, booking_step_2::text, booking_step_3::text,
       reservations::text, reservation_value::text, kpi_days::text,
       roas::text, cost_per_reservation::text, currency, as_of::text, content_hash, data_source
FROM campaign_summaries
WHERE client_id = $1 AND summary_date = $2 AND summary_type = 'weekly' AND platform = 'meta'`

func str(v *string) string {
	if v == nil {
		return "NULL"
	}
	return *v
}

func i64(v *int64) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprint(*v)
}

// expectedText is what the row of s must read back as, column by column.
func expectedText(s records.Summary, dataSource string) []string {
	return []string{
		strings.ToLower(s.ClientID), "weekly", records.DayTime(s.SummaryDate).Format(time.DateOnly), "meta",
		s.TotalSpend, fmt.Sprint(s.TotalImpressions), fmt.Sprint(s.TotalClicks), fmt.Sprint(s.Reach),
		str(s.Frequency), str(s.AverageCTR), str(s.AverageCPC), str(s.AverageCPM),
		fmt.Sprint(s.ActiveCampaigns), "json:" + s.CampaignData, "array",
		"json:" + s.MetaTables, "object",
		i64(s.TotalConversions), i64(s.ClickToCall), i64(s.EmailContacts),
		i64(s.BookingStep1), i64(s.BookingStep2), i64(s.BookingStep3),
		i64(s.Reservations), str(s.ReservationValue), fmt.Sprint(s.KPIDays),
		str(s.ROAS), str(s.CostPerReservation), s.Currency, records.DayTime(s.AsOf).Format(time.DateOnly),
		s.ContentHash, dataSource,
	}
}

// sameJSON compares two JSON texts as values, numbers as their decimal text.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	dec := func(s string) any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("decode %q: %v", truncate(s, 80), err)
		}
		return v
	}
	return reflect.DeepEqual(dec(a), dec(b))
}

func checkRows(t *testing.T, pool *pgxpool.Pool, want []records.Summary, dataSource string) {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM campaign_summaries`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Errorf("campaign_summaries has %d rows, want %d", n, len(want))
	}
	for _, s := range want {
		got := make([]*string, 32)
		dest := make([]any, len(got))
		for i := range got {
			dest[i] = &got[i]
		}
		if err := pool.QueryRow(context.Background(), selectRowText, s.ClientID, records.DayTime(s.SummaryDate)).Scan(dest...); err != nil {
			t.Fatalf("row %s %d: %v", s.ClientID, s.SummaryDate, err)
		}
		exp := expectedText(s, dataSource)
		for i, e := range exp {
			g := str(got[i])
			if j, ok := strings.CutPrefix(e, "json:"); ok {
				if !sameJSON(t, g, j) {
					t.Errorf("row %s week %d column %d: JSON differs:\n got %s\nwant %s", s.ClientID, s.SummaryDate, i, truncate(g, 200), truncate(j, 200))
				}
				continue
			}
			if g != e {
				t.Errorf("row %s week %d column %d: got %q, want %q", s.ClientID, s.SummaryDate, i, g, e)
			}
		}
	}
}

type fixture struct {
	pool    *pgxpool.Pool
	a, b, c string // client ids; c's rows are in the file but c is not loaded
	rows    []records.Summary
	want    []records.Summary
	path    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{pool: newMigratedPool(t)}
	f.a = insertClient(t, f.pool, "Hotel Gołębiewski")
	f.b = insertClient(t, f.pool, "Pensjonat Złota Łąka")
	f.c = insertClient(t, f.pool, "Other client")
	for w := range 6 {
		f.want = append(f.want, summary(f.a, monday(w), w, 3000), summary(strings.ToUpper(f.b), monday(w), 100+w, 8000))
	}
	f.rows = append(f.rows, f.want...)
	f.rows = append(f.rows, summary(f.c, monday(0), 7, 100))
	dup := f.want[3]
	dup.TotalSpend = "1.00"
	dup.ContentHash = hashOf(dup)
	f.rows = append(f.rows, dup) // a later duplicate: dropped, the first occurrence wins
	f.path = writeSummaries(t, f.rows)
	return f
}

func (f *fixture) request() Request {
	final := monday(2).AddDate(0, 0, -1)
	return Request{
		SummariesPath: f.path,
		ClientIDs:     []string{f.b, f.a},
		Sync: []SyncState{
			{ClientID: f.a, CoveredFrom: monday(0), FinalThrough: &final, LastAsOf: monday(6), LastRunID: "run-1"},
			{ClientID: f.b, CoveredFrom: monday(0), LastAsOf: monday(6), LastRunID: "run-1"},
		},
		DataSource:  "metapipe",
		LockTimeout: 5 * time.Second,
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)

	res, err := Load(ctx, f.pool, f.request())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if res.Inserted != 12 || res.Updated != 0 || res.Unchanged != 0 || res.Copied != 12 || res.Duplicates != 1 || res.Attempts != 1 {
		t.Errorf("first load: %+v", res)
	}
	checkRows(t, f.pool, f.want, "metapipe")

	// The server has lz4 (PostgreSQL 15 on Debian does): large JSON is stored with it.
	var lz4 bool
	if err := f.pool.QueryRow(ctx, `SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'`).Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	if lz4 {
		var methods string
		if err := f.pool.QueryRow(ctx, `SELECT string_agg(DISTINCT pg_column_compression(campaign_data), ',') FROM campaign_summaries WHERE client_id = $1`, f.b).Scan(&methods); err != nil {
			t.Fatal(err)
		}
		if methods != "lz4" {
			t.Errorf("campaign_data compression %q, want lz4", methods)
		}
	}

	states, err := ReadSyncStates(ctx, f.pool, []string{f.a, f.b, f.c})
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[f.a].LastRunID != "run-1" || states[f.a].FinalThrough == nil ||
		!states[f.a].FinalThrough.Equal(monday(2).AddDate(0, 0, -1)) || states[f.b].FinalThrough != nil ||
		!states[f.b].CoveredFrom.Equal(monday(0)) || !states[f.b].LastAsOf.Equal(monday(6)) {
		t.Errorf("sync states: %+v", states)
	}

	t.Run("again unchanged", func(t *testing.T) {
		before := dump(t, f.pool, "campaign_summaries")
		req := f.request()
		req.Sync = nil
		res, err := Load(ctx, f.pool, req)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if res.Inserted != 0 || res.Updated != 0 || res.Unchanged != 12 || res.Copied != 0 {
			t.Errorf("rerun: %+v", res)
		}
		if after := dump(t, f.pool, "campaign_summaries"); after != before {
			t.Errorf("an unchanged load changed the table (xmin or last_updated)")
		}
	})

	t.Run("one changed row", func(t *testing.T) {
		before := dumpByKey(t, f.pool)
		rows := append([]records.Summary(nil), f.want...)
		rows[5].TotalSpend = "9999.99"
		rows[5].CampaignData = `[{"campaign_id":"1","campaign_name":"Nowa – zmiana ✓","spend":9999.99,"impressions":1,"clicks":0,"reach":1,"ctr":0,"cpc":null,"cpm":9999990,"actions":{}}]`
		rows[5].ContentHash = hashOf(rows[5])
		req := f.request()
		req.SummariesPath = writeSummaries(t, rows)
		res, err := Load(ctx, f.pool, req)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if res.Inserted != 0 || res.Updated != 1 || res.Unchanged != 11 || res.Copied != 1 {
			t.Errorf("changed load: %+v", res)
		}
		after := dumpByKey(t, f.pool)
		changedKey := f.b + " " + records.DayTime(rows[5].SummaryDate).Format(time.DateOnly)
		for k, v := range before {
			if (after[k] != v) != (k == changedKey) {
				t.Errorf("row %s: changed=%t, want %t", k, after[k] != v, k == changedKey)
			}
		}
		checkRows(t, f.pool, rows, "metapipe")
	})
}

// dumpByKey maps "client week" to the row's xmin, last_updated and content.
func dumpByKey(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT client_id::text || ' ' || summary_date::text, xmin::text || ' ' || last_updated::text || ' ' || x::text FROM campaign_summaries x`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var k, v string
	_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error { out[k] = v; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadFailureLeavesTablesAsTheyWere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if _, err := Load(ctx, f.pool, f.request()); err != nil {
		t.Fatalf("Load: %v", err)
	}

	changed := func(mod func(rows []records.Summary) []records.Summary) Request {
		rows := append([]records.Summary(nil), f.want...)
		for i := range rows { // every row changes, so that the load writes before it fails
			rows[i].Reach++
			rows[i].ContentHash = hashOf(rows[i])
		}
		rows = mod(rows)
		req := f.request()
		req.SummariesPath = writeSummaries(t, rows)
		for i := range req.Sync {
			req.Sync[i].LastRunID = "run-2"
		}
		return req
	}
	unknownClient := "5b3c9a58-0000-4000-8000-00000000abcd"

	tests := []struct {
		name    string
		req     func() Request
		wantErr string
		check   func(t *testing.T, err error)
	}{
		{
			name: "kpi_days 9",
			req: func() Request {
				return changed(func(rows []records.Summary) []records.Summary {
					rows[7].KPIDays = 9
					rows[7].ContentHash = hashOf(rows[7])
					return rows
				})
			},
			wantErr: "kpi_days",
			check: func(t *testing.T, err error) {
				var re *RowError
				if !errors.As(err, &re) || re.ClientID != f.b || !re.Week.Equal(monday(3)) || re.Field != "kpi_days" {
					t.Errorf("want a RowError naming client b, week 3, kpi_days; got %v", err)
				}
			},
		},
		{
			name: "summary_date not a Monday",
			req: func() Request {
				return changed(func(rows []records.Summary) []records.Summary {
					rows[8].SummaryDate += 2
					rows[8].ContentHash = hashOf(rows[8])
					return rows
				})
			},
			wantErr: "not a Monday",
		},
		{
			name: "client missing from clients (foreign key, in the merge)",
			req: func() Request {
				req := changed(func(rows []records.Summary) []records.Summary {
					return append(rows, summary(unknownClient, monday(4), 3, 500))
				})
				req.ClientIDs = append(req.ClientIDs, unknownClient)
				return req
			},
			wantErr: "campaign_summaries_client_id_fkey",
			check: func(t *testing.T, err error) {
				var de *DBError
				if !errors.As(err, &de) || de.ClientID != unknownClient || de.Step != "merge" {
					t.Errorf("want a merge DBError naming the client; got %v", err)
				}
			},
		},
		{
			name: "invalid JSON (in the COPY)",
			req: func() Request {
				return changed(func(rows []records.Summary) []records.Summary {
					rows[4].CampaignData = `[{"campaign_name": "broken`
					rows[4].ContentHash = hashOf(rows[4])
					return rows
				})
			},
			wantErr: "invalid input syntax for type json",
			check: func(t *testing.T, err error) {
				var de *DBError
				if !errors.As(err, &de) || de.Step != "copy" || de.ClientID != f.a || !de.Week.Equal(monday(2)) {
					t.Errorf("want a copy DBError naming client a week 2; got %v", err)
				}
			},
		},
		{
			name: "connection killed mid-COPY",
			req: func() Request {
				req := changed(func(rows []records.Summary) []records.Summary { return rows })
				var once sync.Once
				req.afterRow = func(copied int64) {
					if copied == 6 {
						once.Do(func() { killCopy(t, f.pool) })
					}
				}
				return req
			},
			wantErr: "copy",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, beforeSync := dump(t, f.pool, "campaign_summaries"), dump(t, f.pool, "client_sync_state")
			_, err := Load(ctx, f.pool, tt.req())
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			if after := dump(t, f.pool, "campaign_summaries"); after != before {
				t.Errorf("campaign_summaries changed by a failed load")
			}
			if after := dump(t, f.pool, "client_sync_state"); after != beforeSync {
				t.Errorf("client_sync_state changed by a failed load")
			}
		})
	}
	checkRows(t, f.pool, f.want, "metapipe")
}

// killCopy terminates, from another connection, the backend that is running a COPY into the
// staging table in this database, and waits until it is gone.
func killCopy(t *testing.T, pool *pgxpool.Pool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pool.Config().ConnConfig.ConnString())
	if err != nil {
		t.Errorf("killCopy: connect: %v", err)
		return
	}
	defer conn.Close(ctx)
	for ctx.Err() == nil {
		var killed bool
		err := conn.QueryRow(ctx, `
			SELECT coalesce(bool_or(pg_terminate_backend(pid, 5000)), false) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'copy%metapipe_staging%'`).Scan(&killed)
		if err != nil {
			t.Errorf("killCopy: %v", err)
			return
		}
		if killed {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("killCopy: no COPY to kill")
}

func TestConcurrentLoadsSerialize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	var wg sync.WaitGroup
	results := make([]Result, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = Load(ctx, f.pool, f.request()) })
	}
	wg.Wait()
	var inserted, unchanged int64
	for i, err := range errs {
		if err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		inserted += results[i].Inserted
		unchanged += results[i].Unchanged
		if results[i].Updated != 0 {
			t.Errorf("load %d updated %d rows", i, results[i].Updated)
		}
	}
	// Serialized, one load inserts everything and the others find every row unchanged.
	if inserted != 12 || unchanged != 36 {
		t.Errorf("inserted %d unchanged %d, want 12 and 36: %+v", inserted, unchanged, results)
	}
	checkRows(t, f.pool, f.want, "metapipe")
}

func TestLoadRetriesLockTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	conn, err := f.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, LockKey(ScopeLoad, f.a)); err != nil {
		t.Fatal(err)
	}
	unlocked := make(chan struct{})
	go func() {
		defer close(unlocked)
		time.Sleep(400 * time.Millisecond)
		_, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, LockKey(ScopeLoad, f.a))
	}()
	req := f.request()
	req.LockTimeout = 100 * time.Millisecond
	res, err := Load(ctx, f.pool, req)
	<-unlocked // the connection goes back to the pool only once the goroutine is done with it
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if res.Attempts < 2 || res.Inserted != 12 {
		t.Errorf("want a retried load inserting 12 rows, got %+v", res)
	}
}

func TestLoadBadRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := Load(ctx, nil, Request{}); !errors.Is(err, ErrNoClients) {
		t.Errorf("no clients: %v", err)
	}
	if _, err := Load(ctx, nil, Request{ClientIDs: []string{"nope"}}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("bad id: %v", err)
	}
	id := "5b3c9a58-0000-4000-8000-00000000abcd"
	req := Request{ClientIDs: []string{id}, Sync: []SyncState{{ClientID: "5b3c9a58-0000-4000-8000-00000000ffff"}}}
	if _, err := Load(ctx, nil, req); !errors.Is(err, ErrBadRequest) {
		t.Errorf("sync state of a client not loaded: %v", err)
	}
}

func TestClientNeverShowsToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newMigratedPool(t)
	id := insertClient(t, pool, "Villa Różana")
	if _, err := pool.Exec(ctx, `INSERT INTO clients (name, active) VALUES ('Inactive, no account', false)`); err != nil {
		t.Fatal(err)
	}
	clients, err := ReadClients(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 2 || clients[1].ID != id || clients[1].Token != "EAAB-secret-Villa Różana" || !clients[1].Active ||
		clients[0].Active || clients[0].Token != "" || clients[0].AdAccountID != "" {
		t.Fatalf("ReadClients: %#v", clients)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v %+v %s %#v", clients[1], clients[1], clients[1], clients[1])
	fmt.Fprintf(&buf, "%v", clients)
	logJSON(&buf, clients[1])
	if strings.Contains(buf.String(), "secret") {
		t.Errorf("token leaked: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "Villa Różana") {
		t.Errorf("name missing: %s", buf.String())
	}
}

func TestLockKeyIsStable(t *testing.T) {
	id := "5B3C9A58-0000-4000-8000-00000000ABCD"
	if LockKey(ScopeLoad, id) != LockKey(ScopeLoad, strings.ToLower(id)) {
		t.Error("LockKey depends on case")
	}
	// FNV-64a of "metapipe:client:5b3c9a58-0000-4000-8000-00000000abcd": the pipeline and
	// other tools must keep computing this value.
	if got, want := LockKey(ScopeLoad, id), int64(advisoryKeyGolden); got != want {
		t.Errorf("LockKey = %d, want %d", got, want)
	}
}

// advisoryKeyGolden was computed outside Go (Python FNV-1a 64).
const advisoryKeyGolden = 63813780149247411

func logJSON(w *bytes.Buffer, c records.Client) {
	slog.New(slog.NewJSONHandler(w, nil)).Info("client", "client", c)
}

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
