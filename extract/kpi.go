package extract

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/parquet-go/parquet-go"
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

// ReadKPI runs the one bulk KPI query for all clients over [from, to] and streams the rows to
// path as Parquet. It returns the number of rows.
func ReadKPI(ctx context.Context, q Querier, clientIDs []string, from, to time.Time, path string) (int, error) {
	rows, err := q.Query(ctx, kpiQuery, clientIDs, from, to)
	if err != nil {
		return 0, fmt.Errorf("kpi query: %w", err)
	}
	defer rows.Close()
	n := 0
	err = WriteAtomic(path, func(w io.Writer) error {
		pw := parquet.NewGenericWriter[KPIRow](w, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(RowGroupRows))
		batch := make([]KPIRow, 0, 1024)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			_, err := pw.Write(batch)
			batch = batch[:0]
			return err
		}
		for rows.Next() {
			var r KPIRow
			var d pgtype.Date
			if err := rows.Scan(&r.ClientID, &d, &r.TotalClicks, &r.TotalImpressions, &r.TotalSpend, &r.TotalConversions,
				&r.ClickToCall, &r.EmailContacts, &r.BookingStep1, &r.BookingStep2, &r.BookingStep3,
				&r.Reservations, &r.ReservationValue); err != nil {
				return fmt.Errorf("kpi row %d: %w", n, err)
			}
			if !d.Valid || d.InfinityModifier != pgtype.Finite {
				return fmt.Errorf("kpi row %d (client %s): date is not a finite date", n, r.ClientID)
			}
			r.Date = DayNumber(d.Time)
			batch = append(batch, r)
			n++
			if len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("kpi query: %w", err)
		}
		if err := flush(); err != nil {
			return err
		}
		return pw.Close()
	})
	return n, err
}
