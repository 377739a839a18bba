package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/fixtures"
)

// SeedDemo inserts one client per simulator account (named "Demo <account name>", with the
// account's own token) and their daily KPI rows over [from, to]; existing rows are kept. It
// returns the clients' ids in account order.
func SeedDemo(ctx context.Context, pool *pgxpool.Pool, sim *fixtures.Simulator, from, to time.Time) ([]string, error) {
	var ids []string
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, a := range sim.Accounts() {
		var id string
		err := tx.QueryRow(ctx, `
INSERT INTO clients (name, meta_ad_account_id, meta_access_token, active)
VALUES ($1, $2, $3, true)
ON CONFLICT (name) DO UPDATE SET meta_ad_account_id = EXCLUDED.meta_ad_account_id
RETURNING id::text`, "Demo "+a.Name, "act_"+a.ID, a.Token).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("seed client %s: %w", a.Name, err)
		}
		ids = append(ids, id)
		days := sim.KPIDays(a.ID, from, to)
		rows := make([][]any, 0, len(days))
		for _, k := range days {
			rows = append(rows, []any{id, pgtype.Date{Time: k.Date, Valid: true}, k.TotalClicks, k.TotalImpressions,
				cents(k.TotalSpendCents), k.TotalConversions, k.ClickToCall, k.EmailContacts, k.BookingStep1,
				k.BookingStep2, k.BookingStep3, k.Reservations, cents(k.ReservationValueCents)})
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS kpi_seed (LIKE daily_kpi_data INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `TRUNCATE kpi_seed`); err != nil {
			return nil, err
		}
		cols := []string{"client_id", "date", "total_clicks", "total_impressions", "total_spend", "total_conversions",
			"click_to_call", "email_contacts", "booking_step_1", "booking_step_2", "booking_step_3", "reservations", "reservation_value"}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"kpi_seed"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return nil, fmt.Errorf("seed kpi rows of %s: %w", a.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO daily_kpi_data (`+strings.Join(cols, ", ")+`, platform)
SELECT `+strings.Join(cols, ", ")+`, 'meta' FROM kpi_seed ON CONFLICT (client_id, date, platform) DO NOTHING`); err != nil {
			return nil, fmt.Errorf("seed kpi rows of %s: %w", a.Name, err)
		}
	}
	return ids, tx.Commit(ctx)
}

// cents formats an amount of cents as exact decimal text.
func cents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// PrintLanded writes what campaign_summaries holds for the given clients: weeks, spend, reach
// and reservations per client.
func PrintLanded(ctx context.Context, w io.Writer, pool *pgxpool.Pool, clientIDs []string) error {
	rows, err := pool.Query(ctx, `
SELECT c.name, count(*), min(s.summary_date)::text, max(s.summary_date)::text,
       coalesce(sum(s.total_spend), 0)::text, coalesce(sum(s.total_impressions), 0), coalesce(max(s.reach), 0),
       coalesce(sum(s.reservations), 0), coalesce(sum(s.reservation_value), 0)::text
FROM campaign_summaries s JOIN clients c ON c.id = s.client_id
WHERE s.client_id = ANY($1::uuid[]) AND s.platform = 'meta' AND s.summary_type = 'weekly'
GROUP BY c.name ORDER BY c.name`, clientIDs)
	if err != nil {
		return err
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CLIENT\tWEEKS\tFROM\tTO\tSPEND\tIMPRESSIONS\tBEST WEEKLY REACH\tRESERVATIONS\tRESERVATION VALUE\t")
	for rows.Next() {
		var name, from, to, spend, value string
		var n, imp, reach, res int64
		if err := rows.Scan(&name, &n, &from, &to, &spend, &imp, &reach, &res, &value); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t\n", name, n, from, to, spend, imp, reach, res, value)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}
