package graphsim

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Beginner starts a transaction: a *pgxpool.Pool, a *pgx.Conn.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// SeedDemo writes the demo's sample data into a migrated database, in one transaction: one row
// of clients per simulator account (named "Demo <account name>", active, with the account's own
// token) and its daily_kpi_data rows (platform 'meta') over [from, to] from [Simulator.KPIDays].
// Rows that exist are kept. It returns the clients' ids in account order.
func SeedDemo(ctx context.Context, db Beginner, sim *Simulator, from, to time.Time) ([]string, error) {
	var ids []string
	tx, err := db.Begin(ctx)
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
		// kpi_seed has daily_kpi_data's columns in its order, platform defaulting to 'meta'.
		if _, err := tx.Exec(ctx, `INSERT INTO daily_kpi_data SELECT * FROM kpi_seed ON CONFLICT (client_id, date, platform) DO NOTHING`); err != nil {
			return nil, fmt.Errorf("seed kpi rows of %s: %w", a.Name, err)
		}
	}
	return ids, tx.Commit(ctx)
}
