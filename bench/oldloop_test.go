package bench

// The old loop: the collector metapipe replaces, rebuilt here as a baseline and nowhere else.
// For each client, for each of the 54 weeks one after another: four synchronous Insights
// calls for that week (campaigns, placements, demographics, ad rankings), one daily_kpi_data
// query for that week, one INSERT … ON CONFLICT into campaign_summaries for that week, and a
// pause between weeks (100 ms in the old code, scaled like the latency). Its planned fix makes
// the same calls, Parallel at once.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
)

// oldKinds are the four synchronous calls of a week.
var oldKinds = []records.Kind{records.KindCampaigns, records.KindPlacements, records.KindDemographics, records.KindAdRelevance}

const oldKPIWeek = `
SELECT count(*), sum(total_conversions), sum(click_to_call), sum(email_contacts), sum(booking_step_1),
       sum(booking_step_2), sum(booking_step_3), sum(reservations), sum(reservation_value)::text
FROM daily_kpi_data
WHERE client_id = $1 AND platform = 'meta' AND date BETWEEN $2 AND $3`

const oldUpsert = `
INSERT INTO campaign_summaries (client_id, summary_type, summary_date, platform, total_spend, total_impressions,
    total_clicks, active_campaigns, campaign_data, meta_tables, total_conversions, click_to_call, email_contacts,
    booking_step_1, booking_step_2, booking_step_3, reservations, reservation_value, kpi_days, data_source, last_updated)
VALUES ($1, 'weekly', $2, 'meta', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'old loop', now())
ON CONFLICT (client_id, summary_type, summary_date, platform) DO UPDATE SET
    total_spend = EXCLUDED.total_spend, total_impressions = EXCLUDED.total_impressions,
    total_clicks = EXCLUDED.total_clicks, active_campaigns = EXCLUDED.active_campaigns,
    campaign_data = EXCLUDED.campaign_data, meta_tables = EXCLUDED.meta_tables,
    total_conversions = EXCLUDED.total_conversions, click_to_call = EXCLUDED.click_to_call,
    email_contacts = EXCLUDED.email_contacts, booking_step_1 = EXCLUDED.booking_step_1,
    booking_step_2 = EXCLUDED.booking_step_2, booking_step_3 = EXCLUDED.booking_step_3,
    reservations = EXCLUDED.reservations, reservation_value = EXCLUDED.reservation_value,
    kpi_days = EXCLUDED.kpi_days, data_source = EXCLUDED.data_source, last_updated = now()`

// oldLoopStats is what one run of the old loop did.
type oldLoopStats struct {
	apiCalls, dbRoundTrips, rows int64
	apiTime                      time.Duration
}

// oldLoop runs the old collector over every client from since to asOf: strictly sequentially
// when parallel is 0 (the collector as it is), else its planned fix: the same calls and
// database round trips, `parallel` calls at once (the weeks of all clients run parallel/4 at a
// time, each week's four calls together).
func oldLoop(ctx context.Context, m model, hc *http.Client, graphURL string, pool *pgxpool.Pool, clients []records.Client, since time.Time, parallel int) (oldLoopStats, error) {
	var st oldLoopStats
	var mu sync.Mutex
	week := func(c records.Client, w int) error {
		from := since.AddDate(0, 0, 7*w)
		until := from.AddDate(0, 0, 6)
		if until.After(asOf) {
			until = asOf
		}
		var ws oldLoopStats
		err := oldWeek(ctx, hc, graphURL, pool, c, from, until, &ws, parallel > 0)
		mu.Lock()
		st.apiCalls, st.dbRoundTrips, st.rows, st.apiTime = st.apiCalls+ws.apiCalls, st.dbRoundTrips+ws.dbRoundTrips, st.rows+ws.rows, st.apiTime+ws.apiTime
		mu.Unlock()
		if err != nil {
			return fmt.Errorf("client %s week %s: %w", c.Name, from.Format(time.DateOnly), err)
		}
		return nil
	}
	weeks := int(asOf.Sub(since).Hours()/24)/7 + 1
	if parallel == 0 {
		for _, c := range clients {
			for w := range weeks {
				if w > 0 {
					time.Sleep(m.d(weekPause))
				}
				if err := week(c, w); err != nil {
					return st, err
				}
			}
		}
		return st, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, parallel/len(oldKinds)))
	for _, c := range clients {
		for w := range weeks {
			g.Go(func() error {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				return week(c, w)
			})
		}
	}
	return st, g.Wait()
}

// oldWeek is one client-week of the old loop: its four calls (one after another, or together
// when concurrent), its KPI query and its upsert.
func oldWeek(ctx context.Context, hc *http.Client, graphURL string, pool *pgxpool.Pool, c records.Client, since, until time.Time, st *oldLoopStats, concurrent bool) error {
	rows := make([][]map[string]any, len(oldKinds))
	calls := make([]int64, len(oldKinds))
	start := time.Now()
	var g errgroup.Group
	if !concurrent {
		g.SetLimit(1)
	}
	for i, k := range oldKinds {
		g.Go(func() error {
			r, n, err := syncInsights(ctx, hc, graphURL, c, extract.Specs[k], since, until)
			calls[i] = n
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if r == nil {
				r = []map[string]any{} // a week without delivery: [] rather than null
			}
			rows[i] = r
			return nil
		})
	}
	err := g.Wait()
	for i := range oldKinds {
		st.apiCalls += calls[i]
		st.rows += int64(len(rows[i]))
	}
	st.apiTime += time.Since(start)
	if err != nil {
		return err
	}
	byKind := map[records.Kind][]map[string]any{}
	for i, k := range oldKinds {
		byKind[k] = rows[i]
	}
	return oldWrite(ctx, pool, c, since, until, byKind, st)
}

// oldWrite is the old loop's KPI query and upsert of one week.
func oldWrite(ctx context.Context, pool *pgxpool.Pool, c records.Client, since, until time.Time, rows map[records.Kind][]map[string]any, st *oldLoopStats) error {

	var spendCents, imp, clicks int64
	active := 0
	for _, r := range rows[records.KindCampaigns] {
		spendCents += cents(r["spend"])
		i := num(r["impressions"])
		imp += i
		clicks += num(r["clicks"])
		if i > 0 {
			active++
		}
	}
	campaignData, _ := json.Marshal(rows[records.KindCampaigns])
	metaTables, _ := json.Marshal(map[string]any{
		"placementPerformance":   rows[records.KindPlacements],
		"demographicPerformance": rows[records.KindDemographics],
		"adRelevanceResults":     rows[records.KindAdRelevance],
	})

	var kpiDays int
	var conv, ctc, email, b1, b2, b3, res *int64
	var resValue *string
	if err := pool.QueryRow(ctx, oldKPIWeek, c.ID, since, until).Scan(&kpiDays, &conv, &ctc, &email, &b1, &b2, &b3, &res, &resValue); err != nil {
		return fmt.Errorf("kpi query: %w", err)
	}
	if _, err := pool.Exec(ctx, oldUpsert, c.ID, since, fmt.Sprintf("%d.%02d", spendCents/100, spendCents%100), imp, clicks,
		active, string(campaignData), string(metaTables), conv, ctc, email, b1, b2, b3, res, resValue, kpiDays); err != nil {
		return fmt.Errorf("upsert: %w", err)
	}
	st.dbRoundTrips += 2
	return nil
}

// oldParams are the old loop's Insights parameters for one report of one week: no
// time_increment (one row per object for the week), pages of 100.
func oldParams(spec extract.ReportSpec, since, until time.Time) url.Values {
	q := url.Values{}
	q.Set("level", spec.Level)
	q.Set("fields", strings.Join(spec.Fields, ","))
	if len(spec.Breakdowns) > 0 {
		q.Set("breakdowns", strings.Join(spec.Breakdowns, ","))
	}
	q.Set("time_range", fmt.Sprintf(`{"since":%q,"until":%q}`, since.Format(time.DateOnly), until.Format(time.DateOnly)))
	q.Set("limit", "100")
	return q
}

// syncInsights reads one report synchronously, following the paging links.
func syncInsights(ctx context.Context, hc *http.Client, graphURL string, c records.Client, spec extract.ReportSpec, since, until time.Time) ([]map[string]any, int64, error) {
	q := oldParams(spec, since, until)
	q.Set("access_token", c.Token)
	next := graphURL + "/" + extract.DefaultAPIVersion + "/act_" + strings.TrimPrefix(c.AdAccountID, "act_") + "/insights?" + q.Encode()
	var out []map[string]any
	var calls int64
	for next != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, calls, err
		}
		resp, err := hc.Do(req)
		calls++
		if err != nil {
			return nil, calls, err
		}
		var page struct {
			Data   []map[string]any `json:"data"`
			Paging struct {
				Next string `json:"next"`
			} `json:"paging"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, calls, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, calls, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		out = append(out, page.Data...)
		next = page.Paging.Next
	}
	return out, calls, nil
}

func num(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func cents(v any) int64 {
	s, _ := v.(string)
	whole, frac, _ := strings.Cut(s, ".")
	w, _ := strconv.ParseInt(whole, 10, 64)
	frac = (frac + "00")[:2]
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f
}
