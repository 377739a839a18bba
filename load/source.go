package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/parquet-go/parquet-go"

	"github.com/metapipe/metapipe/transform"
)

// batchRows is how many Parquet rows are decoded at a time: memory stays bounded by one batch
// whatever the file's size.
const batchRows = 256

// rowKey is the part of the upsert key that varies within a load: summary_type is 'weekly'
// and platform 'meta' for every row.
type rowKey struct {
	client [16]byte
	day    int32 // summary_date, days since 1970-01-01
}

// summaryFile is an open summaries.parquet.
type summaryFile struct {
	f      *os.File
	reader *parquet.GenericReader[transform.Summary]
}

func openSummaries(path string) (_ *summaryFile, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// parquet-go panics on a schema it cannot map onto the struct.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: not a summaries file: %v", path, r)
		}
	}()
	return &summaryFile{f: f, reader: parquet.NewGenericReader[transform.Summary](pf)}, nil
}

func (s *summaryFile) Close() error {
	s.reader.Close()
	return s.f.Close()
}

// summarySource is the pgx.CopyFromSource of a load: it streams the summaries of the loaded
// clients, skipping rows whose content hash equals the stored one and every occurrence of a
// key after the first, and validates each row it sends.
type summarySource struct {
	ctx      context.Context
	file     *summaryFile
	clients  map[[16]byte]string // the loaded clients, by uuid → canonical text
	stored   map[rowKey]string   // stored content hashes of the loaded clients
	seen     map[rowKey]struct{}
	afterRow func(copied int64) // test hook, may be nil

	buf    []transform.Summary
	n, i   int
	eof    bool
	values []any
	err    error
	primed int // 1: Next already returned true once before the COPY started; 2: and a row is pending

	sent       []rowKey // in COPY order: line n of the COPY is sent[n-1]
	unchanged  int64
	duplicates int64
	readTime   time.Duration
}

func newSummarySource(ctx context.Context, file *summaryFile, clients map[[16]byte]string, stored map[rowKey]string) *summarySource {
	return &summarySource{
		ctx:     ctx,
		file:    file,
		clients: clients,
		stored:  stored,
		seen:    make(map[rowKey]struct{}, len(stored)+64),
		buf:     make([]transform.Summary, batchRows),
		values:  make([]any, len(stagingColumns), len(directColumns)),
	}
}

// prime reads ahead to the first row to copy, so that a load with nothing to copy skips the
// COPY altogether. It reports whether there is such a row.
func (s *summarySource) prime() bool {
	if s.next() {
		s.primed = 2
		return true
	}
	return false
}

func (s *summarySource) Next() bool {
	if s.primed == 2 {
		s.primed = 1
		return true
	}
	return s.next()
}

func (s *summarySource) next() bool {
	if s.err != nil {
		return false
	}
	for {
		if s.i >= s.n {
			if s.eof {
				return false
			}
			if err := s.ctx.Err(); err != nil {
				s.err = err
				return false
			}
			start := time.Now()
			n, err := s.file.reader.Read(s.buf)
			s.readTime += time.Since(start)
			s.n, s.i = n, 0
			if errors.Is(err, io.EOF) {
				s.eof = true
			} else if err != nil {
				s.err = fmt.Errorf("read summaries: %w", err)
				return false
			}
			if n == 0 {
				if s.eof {
					return false
				}
				continue
			}
		}
		row := &s.buf[s.i]
		s.i++
		id, err := parseUUID(row.ClientID)
		if err != nil {
			s.err = &RowError{ClientID: row.ClientID, Week: dayToTime(row.SummaryDate), Field: "client_id", Reason: "not a uuid", Err: err}
			return false
		}
		clientID, ok := s.clients[id.Bytes]
		if !ok {
			continue // another client's row: not part of this load
		}
		key := rowKey{client: id.Bytes, day: row.SummaryDate}
		if _, dup := s.seen[key]; dup {
			s.duplicates++
			continue
		}
		s.seen[key] = struct{}{}
		if h, ok := s.stored[key]; ok && h == row.ContentHash {
			s.unchanged++
			continue
		}
		if err := s.setValues(clientID, id, row); err != nil {
			s.err = err
			return false
		}
		s.sent = append(s.sent, key)
		if s.afterRow != nil {
			s.afterRow(int64(len(s.sent)))
		}
		return true
	}
}

func (s *summarySource) Values() ([]any, error) { return s.values, nil }

// direct makes the source also fill the columns that only a COPY straight into
// campaign_summaries needs (see directColumns).
func (s *summarySource) direct(dataSource *string, now time.Time) {
	s.values = append(s.values[:len(stagingColumns)], "weekly", "meta", dataSource, now)
}

func (s *summarySource) Err() error { return s.err }

// directColumns are the columns of a COPY straight into campaign_summaries: the staging
// columns, then what the merge would otherwise set.
var directColumns = append(append([]string(nil), stagingColumns...), "summary_type", "platform", "data_source", "last_updated")

// stagingColumns are the columns of the staging table, in COPY order. summary_type,
// platform, data_source and last_updated are set by the merge.
var stagingColumns = []string{
	"client_id", "summary_date",
	"total_spend", "total_impressions", "total_clicks", "reach", "frequency",
	"average_ctr", "average_cpc", "average_cpm", "active_campaigns",
	"campaign_data", "meta_tables",
	"total_conversions", "click_to_call", "email_contacts",
	"booking_step_1", "booking_step_2", "booking_step_3",
	"reservations", "reservation_value", "kpi_days",
	"roas", "cost_per_reservation", "content_hash",
}

// setValues validates a row (the same rules as the table's constraints, so that the error
// names the client, the week and the field) and fills s.values.
func (s *summarySource) setValues(clientID string, id pgtype.UUID, r *transform.Summary) error {
	week := dayToTime(r.SummaryDate)
	bad := func(field, reason string, err error) error {
		return &RowError{ClientID: clientID, Week: week, Field: field, Reason: reason, Err: err}
	}
	if week.Weekday() != time.Monday {
		return bad("summary_date", "not a Monday ("+week.Weekday().String()+")", nil)
	}
	if r.KPIDays < 0 || r.KPIDays > 7 {
		return bad("kpi_days", fmt.Sprintf("%d is outside 0..7", r.KPIDays), nil)
	}
	if r.ContentHash == "" {
		return bad("content_hash", "empty", nil)
	}
	for _, c := range []struct {
		field string
		v     int64
	}{
		{"total_impressions", r.TotalImpressions}, {"total_clicks", r.TotalClicks},
		{"reach", r.Reach}, {"active_campaigns", int64(r.ActiveCampaigns)},
	} {
		if c.v < 0 {
			return bad(c.field, fmt.Sprintf("negative (%d)", c.v), nil)
		}
	}
	for _, c := range []struct {
		field string
		v     *int64
	}{
		{"total_conversions", r.TotalConversions}, {"click_to_call", r.ClickToCall},
		{"email_contacts", r.EmailContacts}, {"booking_step_1", r.BookingStep1},
		{"booking_step_2", r.BookingStep2}, {"booking_step_3", r.BookingStep3},
		{"reservations", r.Reservations},
	} {
		if c.v != nil && *c.v < 0 {
			return bad(c.field, fmt.Sprintf("negative (%d)", *c.v), nil)
		}
	}
	num := func(field string, v *string, nonNegative bool) (pgtype.Numeric, error) {
		if v == nil {
			return pgtype.Numeric{}, nil
		}
		var n pgtype.Numeric
		if err := n.ScanScientific(*v); err != nil || !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite {
			return n, bad(field, fmt.Sprintf("not a decimal (%q)", truncate(*v, 40)), err)
		}
		if nonNegative && n.Int.Sign() < 0 {
			return n, bad(field, fmt.Sprintf("negative (%s)", *v), nil)
		}
		return n, nil
	}
	spend := r.TotalSpend
	nums := [...]struct {
		field       string
		v           *string
		nonNegative bool
		idx         int
	}{
		{"total_spend", &spend, true, 2},
		{"frequency", r.Frequency, true, 6},
		{"average_ctr", r.AverageCTR, true, 7},
		{"average_cpc", r.AverageCPC, true, 8},
		{"average_cpm", r.AverageCPM, true, 9},
		{"reservation_value", r.ReservationValue, false, 20},
		{"roas", r.ROAS, false, 22},
		{"cost_per_reservation", r.CostPerReservation, false, 23},
	}
	for _, c := range nums {
		n, err := num(c.field, c.v, c.nonNegative)
		if err != nil {
			return err
		}
		s.values[c.idx] = n
	}
	v := s.values
	v[0] = id
	v[1] = pgtype.Date{Time: week, Valid: true}
	v[3] = r.TotalImpressions
	v[4] = r.TotalClicks
	v[5] = r.Reach
	v[10] = r.ActiveCampaigns
	v[11] = r.CampaignData // a string goes to jsonb as is, never re-encoded
	v[12] = r.MetaTables
	v[13] = r.TotalConversions
	v[14] = r.ClickToCall
	v[15] = r.EmailContacts
	v[16] = r.BookingStep1
	v[17] = r.BookingStep2
	v[18] = r.BookingStep3
	v[19] = r.Reservations
	v[21] = int16(r.KPIDays)
	v[24] = r.ContentHash
	return nil
}

func dayToTime(day int32) time.Time {
	return time.Unix(int64(day)*86400, 0).UTC()
}

func parseUUID(s string) (pgtype.UUID, error) {
	var u pgtype.UUID
	if err := u.Scan(strings.TrimSpace(s)); err != nil {
		return u, err
	}
	if !u.Valid {
		return u, errors.New("empty")
	}
	return u, nil
}

// uuidText is the canonical lowercase text form of a uuid.
func uuidText(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
