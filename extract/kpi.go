package extract

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/metapipe/metapipe/internal/records"
)

// Querier is the one method of pgx the KPI read needs (a pool, a conn or a transaction).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// kpiQuery reads the daily KPI rows of a chunk of the planned clients; it is served by the
// unique index on (client_id, date, platform).
const kpiQuery = `
SELECT client_id::text, date, total_clicks, total_impressions, total_spend::text, total_conversions,
       click_to_call, email_contacts, booking_step_1, booking_step_2, booking_step_3,
       reservations, reservation_value::text
FROM daily_kpi_data
WHERE client_id = ANY($1::uuid[]) AND platform = 'meta' AND date BETWEEN $2 AND $3
ORDER BY client_id, date`

// kpiChunk is how many clients one KPI statement reads: about 40,000 rows for a year of each,
// read in well under a second, so that a role's statement_timeout of a few seconds (common on
// managed PostgreSQL) never cancels the read, and no statement stays open while rows are
// written to disk.
const kpiChunk = 100

// ReadKPI reads the daily KPI rows of every given client over [from, to] (inclusive dates), in
// statements of kpiChunk clients each (ids in ascending order), each read whole before its rows
// are written, and writes them to path as Parquet ([records.KPIRow], sorted by client and
// date), atomically. It returns the number of rows. A database error leaves no file.
func ReadKPI(ctx context.Context, q Querier, clientIDs []string, from, to time.Time, path string) (int, error) {
	ids := make([]string, len(clientIDs))
	for i, id := range clientIDs {
		ids[i] = strings.ToLower(strings.TrimSpace(id)) // uuid order is the order of the lowercase text
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	w, err := records.CreateParquet[records.KPIRow](path, records.KPIRowGroupRows)
	if err != nil {
		return 0, err
	}
	defer w.Abort()
	n := 0
	for len(ids) > 0 {
		chunk := ids[:min(kpiChunk, len(ids))]
		ids = ids[len(chunk):]
		batch, err := readKPIChunk(ctx, q, chunk, from, to, n)
		if err != nil {
			return n, err
		}
		n += len(batch)
		if err := w.Write(batch); err != nil {
			return n, err
		}
	}
	return n, w.Commit()
}

// readKPIChunk runs kpiQuery for a chunk of clients and returns its rows; n is the rows read
// before, for the errors' row numbers.
func readKPIChunk(ctx context.Context, q Querier, chunk []string, from, to time.Time, n int) ([]records.KPIRow, error) {
	rows, err := q.Query(ctx, kpiQuery, chunk, from, to)
	if err != nil {
		return nil, fmt.Errorf("kpi query: %w", err)
	}
	defer rows.Close()
	batch := make([]records.KPIRow, 0, 1024)
	for rows.Next() {
		var r records.KPIRow
		var d pgtype.Date
		if err := rows.Scan(&r.ClientID, &d, &r.TotalClicks, &r.TotalImpressions, &r.TotalSpend, &r.TotalConversions,
			&r.ClickToCall, &r.EmailContacts, &r.BookingStep1, &r.BookingStep2, &r.BookingStep3,
			&r.Reservations, &r.ReservationValue); err != nil {
			return nil, fmt.Errorf("kpi row %d: %w", n+len(batch), err)
		}
		if !d.Valid || d.InfinityModifier != pgtype.Finite {
			return nil, fmt.Errorf("kpi row %d (client %s): date is not a finite date", n+len(batch), r.ClientID)
		}
		r.Date = records.DayNumber(d.Time)
		batch = append(batch, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("kpi query: %w", err)
	}
	return batch, nil
}
