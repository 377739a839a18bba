// Package e2etest holds what the end-to-end tests of every package share: the test world (New:
// the simulator, its loopback server, a migrated database with the demo clients), the
// simulator's truth for campaign_summaries, computed from its daily facts without the
// pipeline, and the comparison of the table with it. It imports neither pipeline nor service,
// so that tests inside those packages may use it too; it imports store (its migrations), so
// store's own tests, inside package store, cannot.
package e2etest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/metapipe/metapipe/graphsim"
)

// LastSunday is the newest Sunday up to today in every time zone (today in UTC−12, where each
// date begins last): an as-of date no ad account finds in its future, and the simulator has
// data up to it for every account.
var LastSunday = func() time.Time {
	y, m, d := time.Now().In(time.FixedZone("UTC-12", -12*3600)).Date()
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return t.AddDate(0, 0, -int(t.Weekday()))
}()

// WeekTruth is what campaign_summaries must hold for one client-week.
type WeekTruth struct {
	SpendCents, Imp, Clicks, Reach int64
	Active                         int
	KPIDays                        int
	Reservations, ResValueCents    int64
}

// Truth is the expected rows of one account from the Monday from up to asOf, by Monday
// (YYYY-MM-DD). Weeks without delivery have no row.
func Truth(sim *graphsim.Simulator, account string, from, asOf time.Time) map[string]WeekTruth {
	out := map[string]WeekTruth{}
	kpi := map[string]graphsim.KPIDay{}
	for _, k := range sim.KPIDays(account, from, asOf) {
		kpi[k.Date.Format(time.DateOnly)] = k
	}
	for mon := from; !mon.After(asOf); mon = mon.AddDate(0, 0, 7) {
		end := mon.AddDate(0, 0, 6)
		if end.After(asOf) {
			end = asOf
		}
		var w WeekTruth
		for _, c := range sim.Campaigns(account) {
			var cimp int64
			for _, ad := range c.Ads {
				for d := mon; !d.After(end); d = d.AddDate(0, 0, 1) {
					f := sim.AdDay(account, ad.ID, d)
					w.SpendCents += f.SpendCents
					w.Imp += f.Impressions
					w.Clicks += f.Clicks
					cimp += f.Impressions
				}
			}
			if cimp > 0 {
				w.Active++
			}
		}
		if w.Imp == 0 {
			continue // no delivery: no row
		}
		w.Reach = sim.AccountReach(account, mon, end)
		for d := mon; !d.After(end); d = d.AddDate(0, 0, 1) {
			if k, ok := kpi[d.Format(time.DateOnly)]; ok {
				w.KPIDays++
				w.Reservations += k.Reservations
				w.ResValueCents += k.ReservationValueCents
			}
		}
		out[mon.Format(time.DateOnly)] = w
	}
	return out
}

// Monday is the Monday of t's ISO week.
func Monday(t time.Time) time.Time {
	y, m, d := t.Date()
	t = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return t.AddDate(0, 0, -(int(t.Weekday())+6)%7)
}

// Cents formats cents as the decimal text PostgreSQL prints for numeric(…, 2).
func Cents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

// CheckClient compares the campaign_summaries rows of one client over the weeks weeks ending
// with asOf's week with the truth of its account; it returns the number of rows compared.
func CheckClient(t testing.TB, pool *pgxpool.Pool, sim *graphsim.Simulator, a graphsim.Account, clientID string, asOf time.Time, weeks int) int {
	t.Helper()
	horizon := Monday(asOf).AddDate(0, 0, -7*(weeks-1))
	want := Truth(sim, a.ID, horizon, asOf)
	rows, err := pool.Query(context.Background(), `
SELECT summary_date::text, total_spend::text, total_impressions, total_clicks, reach, active_campaigns, kpi_days,
       coalesce(reservations, -1), coalesce(reservation_value::text, ''), coalesce(average_ctr::text, ''),
       jsonb_array_length(campaign_data), coalesce(currency, 'NULL')
FROM campaign_summaries WHERE client_id = $1 AND summary_date >= $2 AND summary_date <= $3 ORDER BY summary_date`, clientID, horizon, asOf)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var wk, spend, resValue, ctr, currency string
		var imp, clicks, reach, res int64
		var active, kpiDays, ncamp int
		if err := rows.Scan(&wk, &spend, &imp, &clicks, &reach, &active, &kpiDays, &res, &resValue, &ctr, &ncamp, &currency); err != nil {
			t.Fatal(err)
		}
		got++
		if currency != a.Currency {
			t.Errorf("%s week %s: currency %s, want the ad account's %s", a.Name, wk, currency, a.Currency)
		}
		w, ok := want[wk]
		if !ok {
			t.Errorf("%s week %s: a row where the truth has no delivery", a.Name, wk)
			continue
		}
		wantCTR := decimal.NewFromInt(w.Clicks*100).DivRound(decimal.NewFromInt(w.Imp), 4).StringFixed(4)
		if spend != Cents(w.SpendCents) || imp != w.Imp || clicks != w.Clicks || reach != w.Reach || active != w.Active ||
			kpiDays != w.KPIDays || ctr != wantCTR || ncamp != w.Active {
			t.Errorf("%s week %s: got spend %s imp %d clicks %d reach %d active %d kpi_days %d ctr %s campaigns %d;\n want %s %d %d %d %d %d %s %d",
				a.Name, wk, spend, imp, clicks, reach, active, kpiDays, ctr, ncamp, Cents(w.SpendCents), w.Imp, w.Clicks, w.Reach, w.Active, w.KPIDays, wantCTR, w.Active)
		}
		if w.KPIDays == 0 && (res != -1 || resValue != "") {
			t.Errorf("%s week %s: no KPI day but reservations %d value %q (want NULL)", a.Name, wk, res, resValue)
		}
		if w.KPIDays > 0 && (res != w.Reservations || resValue != Cents(w.ResValueCents)) {
			t.Errorf("%s week %s: reservations %d value %s, want %d %s", a.Name, wk, res, resValue, w.Reservations, Cents(w.ResValueCents))
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if got != len(want) {
		t.Errorf("%s: %d rows, want %d", a.Name, got, len(want))
	}
	return got
}

// CheckTable compares every account's client (ids in account order) with the truth; it
// returns the rows compared.
func CheckTable(t testing.TB, pool *pgxpool.Pool, sim *graphsim.Simulator, ids []string, asOf time.Time, weeks int) int {
	t.Helper()
	total := 0
	for i, a := range sim.Accounts() {
		total += CheckClient(t, pool, sim, a, ids[i], asOf, weeks)
	}
	return total
}

// Rows counts a client's rows in campaign_summaries.
func Rows(t testing.TB, pool *pgxpool.Pool, clientID string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM campaign_summaries WHERE client_id = $1`, clientID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TableText is campaign_summaries and client_sync_state as text, in a stable order: equal
// texts mean the tables were left exactly as they were.
func TableText(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(), `
SELECT coalesce((SELECT string_agg(c::text, E'\n' ORDER BY c.client_id, c.summary_date) FROM campaign_summaries c), '') || E'\n--\n' ||
       coalesce((SELECT string_agg(s::text, E'\n' ORDER BY s.client_id) FROM client_sync_state s), '')`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Buffer is a bytes.Buffer that several goroutines may write while a test reads it: a
// process's output, or the log of the loggers of a service under test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
