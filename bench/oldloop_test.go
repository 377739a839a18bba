package bench

// The old loop: the collector metapipe replaces, rebuilt here as a baseline and nowhere else.
// For each client, for each of the 54 weeks one after another: four synchronous Insights
// calls for that week (campaigns, placements, demographics, ad rankings), one daily_kpi_data
// query for that week, one INSERT … ON CONFLICT into campaign_summaries for that week, and a
// pause between weeks (100 ms in the old code, WeekPause here: scaled like the latency).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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

// oldLoop runs the old collector over every client, strictly sequentially.
func oldLoop(ctx context.Context, hc *http.Client, graphURL string, pool *pgxpool.Pool, clients []records.Client) (oldLoopStats, error) {
	var st oldLoopStats
	for _, c := range clients {
		for w := range Weeks {
			if w > 0 {
				time.Sleep(WeekPause)
			}
			since := horizon().AddDate(0, 0, 7*w)
			until := since.AddDate(0, 0, 6)
			if until.After(asOf) {
				until = asOf
			}
			if err := oldWeek(ctx, hc, graphURL, pool, c, since, until, &st); err != nil {
				return st, fmt.Errorf("client %s week %s: %w", c.Name, since.Format(time.DateOnly), err)
			}
		}
	}
	return st, nil
}

func oldWeek(ctx context.Context, hc *http.Client, graphURL string, pool *pgxpool.Pool, c records.Client, since, until time.Time, st *oldLoopStats) error {
	rows := map[records.Kind][]map[string]any{}
	start := time.Now()
	for _, k := range oldKinds {
		r, n, err := syncInsights(ctx, hc, graphURL, c, extract.Specs[k], since, until)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if r == nil {
			r = []map[string]any{} // a week without delivery: [] rather than null
		}
		rows[k] = r
		st.apiCalls += n
		st.rows += int64(len(r))
	}
	st.apiTime += time.Since(start)

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

// syncInsights reads one report synchronously, following the paging links.
func syncInsights(ctx context.Context, hc *http.Client, graphURL string, c records.Client, spec extract.ReportSpec, since, until time.Time) ([]map[string]any, int64, error) {
	q := url.Values{}
	q.Set("access_token", c.Token)
	q.Set("level", spec.Level)
	q.Set("fields", strings.Join(spec.Fields, ","))
	if len(spec.Breakdowns) > 0 {
		q.Set("breakdowns", strings.Join(spec.Breakdowns, ","))
	}
	q.Set("time_range", fmt.Sprintf(`{"since":%q,"until":%q}`, since.Format(time.DateOnly), until.Format(time.DateOnly)))
	q.Set("limit", "100")
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
