package extract

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/metapipe/metapipe/internal/records"
)

// Querier is the one method of pgx the KPI read needs (a pool, a conn or a transaction).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// kpiQuery reads every planned client's daily KPI rows in one statement; it is served by the
// unique index on (client_id, date, platform).
const kpiQuery = `
SELECT client_id::text, date, total_clicks, total_impressions, total_spend::text, total_conversions,
       click_to_call, email_contacts, booking_step_1, booking_step_2, booking_step_3,
       reservations, reservation_value::text
FROM daily_kpi_data
WHERE client_id = ANY($1::uuid[]) AND platform = 'meta' AND date BETWEEN $2 AND $3
ORDER BY client_id, date`

// ReadKPI runs the one bulk KPI query for every given client over [from, to] (inclusive dates)
// and streams the rows to path as Parquet ([records.KPIRow], sorted by client and date), written
// atomically. It returns the number of rows. A database error leaves no file.
func ReadKPI(ctx context.Context, q Querier, clientIDs []string, from, to time.Time, path string) (int, error) {
	rows, err := q.Query(ctx, kpiQuery, clientIDs, from, to)
	if err != nil {
		return 0, fmt.Errorf("kpi query: %w", err)
	}
	defer rows.Close()
	w, err := records.CreateParquet[records.KPIRow](path, records.KPIRowGroupRows)
	if err != nil {
		return 0, err
	}
	defer w.Abort()
	n := 0
	batch := make([]records.KPIRow, 0, 1024)
	for rows.Next() {
		var r records.KPIRow
		var d pgtype.Date
		if err := rows.Scan(&r.ClientID, &d, &r.TotalClicks, &r.TotalImpressions, &r.TotalSpend, &r.TotalConversions,
			&r.ClickToCall, &r.EmailContacts, &r.BookingStep1, &r.BookingStep2, &r.BookingStep3,
			&r.Reservations, &r.ReservationValue); err != nil {
			return n, fmt.Errorf("kpi row %d: %w", n, err)
		}
		if !d.Valid || d.InfinityModifier != pgtype.Finite {
			return n, fmt.Errorf("kpi row %d (client %s): date is not a finite date", n, r.ClientID)
		}
		r.Date = records.DayNumber(d.Time)
		batch = append(batch, r)
		n++
		if len(batch) == cap(batch) {
			if err := w.Write(batch); err != nil {
				return n, err
			}
			batch = batch[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("kpi query: %w", err)
	}
	if err := w.Write(batch); err != nil {
		return n, err
	}
	return n, w.Commit()
}
