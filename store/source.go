package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/metapipe/metapipe/internal/records"
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

// storedRow is what the load needs to know of a stored row: its content hash and the as-of
// date its figures were true at (math.MinInt32, older than any run, for a row that has none:
// written before as_of existed, or reset).
type storedRow struct {
	hash string
	asOf int32 // days since 1970-01-01
}

// confirmed is an unchanged row whose figures a later as-of found again: its as_of moves
// forward, nothing else of it changes.
type confirmed struct {
	key  rowKey
	asOf int32
}

// summaryFile is an open summaries.parquet.
type summaryFile = records.ParquetReader[records.Summary]

func openSummaries(path string) (*summaryFile, error) {
	return records.OpenParquet[records.Summary](path)
}

// summarySource is the pgx.CopyFromSource of a load: it streams the summaries of the loaded
// clients and validates each row it sends. It skips every occurrence of a key after the first,
// a row whose stored twin is as of a later date (kept), and a row whose content hash equals the
// stored one (unchanged; confirmed when its as-of is later than the stored row's).
type summarySource struct {
	ctx      context.Context
	file     *summaryFile
	clients  map[[16]byte]string  // the loaded clients, by uuid → canonical text
	stored   map[rowKey]storedRow // the stored rows of the loaded clients
	seen     map[rowKey]struct{}
	afterRow func(copied int64) // test hook, may be nil
	replace  bool               // Request.Replace: no stored row is kept for its later as-of

	buf    []records.Summary
	n, i   int
	eof    bool
	values []any
	err    error
	primed int // 1: Next already returned true once before the COPY started; 2: and a row is pending

	sent       []rowKey // in COPY order: line n of the COPY is sent[n-1]
	confirm    []confirmed
	unchanged  int64
	kept       int64
	duplicates int64
	readTime   time.Duration
}

func newSummarySource(ctx context.Context, file *summaryFile, clients map[[16]byte]string, stored map[rowKey]storedRow) *summarySource {
	return &summarySource{
		ctx:     ctx,
		file:    file,
		clients: clients,
		stored:  stored,
		seen:    make(map[rowKey]struct{}, len(stored)+64),
		buf:     make([]records.Summary, batchRows),
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
			n, err := s.file.Read(s.buf)
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
			s.err = &RowError{ClientID: row.ClientID, Week: records.DayTime(row.SummaryDate), Field: "client_id", Reason: "not a uuid", Err: err}
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
		if st, ok := s.stored[key]; ok {
			switch {
			case st.asOf > row.AsOf && !s.replace:
				// The table's figures are as of a later date: fresher data always wins.
				s.kept++
				continue
			case st.hash == row.ContentHash:
				s.unchanged++
				if row.AsOf > st.asOf {
					s.confirm = append(s.confirm, confirmed{key: key, asOf: row.AsOf})
				}
				continue
			}
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
var directColumns = append(records.SummaryColumnNames(), "summary_type", "platform", "data_source", "last_updated")

// stagingColumns are the columns of the staging table, in COPY order: the summary column table.
// summary_type, platform, data_source and last_updated are set by the merge.
var stagingColumns = records.SummaryColumnNames()

// setValues validates a row (the same rules as the table's constraints, so that the error
// names the client, the week and the field) and fills s.values, one per entry of
// records.SummaryColumns.
func (s *summarySource) setValues(clientID string, id pgtype.UUID, r *records.Summary) error {
	week := records.DayTime(r.SummaryDate)
	bad := func(field, reason string, err error) error {
		return &RowError{ClientID: clientID, Week: week, Field: field, Reason: reason, Err: err}
	}
	if week.Weekday() != time.Monday {
		return bad("summary_date", "not a Monday ("+week.Weekday().String()+")", nil)
	}
	for i := range records.SummaryColumns {
		c := &records.SummaryColumns[i]
		v, err := columnValue(c, c.Value(r), id)
		if err != nil {
			return bad(c.Name, err.Error(), errors.Unwrap(err))
		}
		s.values[i] = v
	}
	return nil
}

// columnValue converts a summary value to what pgx writes into the column, checking it on the
// way: decimals must parse as finite numbers, and the column's sign and bound hold.
func columnValue(c *records.SummaryColumn, v any, id pgtype.UUID) (any, error) {
	switch c.Type {
	case records.TypeUUID:
		return id, nil // parsed once per row, by the caller
	case records.TypeDate:
		return pgtype.Date{Time: records.DayTime(int32(v.(int64))), Valid: true}, nil
	case records.TypeInt:
		n := optional[int64](v)
		if n == nil {
			return nil, nil
		}
		if c.NonNegative && *n < 0 {
			return nil, fmt.Errorf("negative (%d)", *n)
		}
		if c.Max != 0 && *n > c.Max {
			return nil, fmt.Errorf("%d is outside 0..%d", *n, c.Max)
		}
		return *n, nil
	case records.TypeDecimal:
		text := optional[string](v)
		if text == nil {
			return pgtype.Numeric{}, nil
		}
		var n pgtype.Numeric
		if err := n.ScanScientific(*text); err != nil || !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite {
			return nil, &reasonError{reason: fmt.Sprintf("not a decimal (%q)", truncate(*text, 40)), err: err}
		}
		if c.NonNegative && n.Int.Sign() < 0 {
			return nil, fmt.Errorf("negative (%s)", *text)
		}
		return n, nil
	case records.TypeText:
		if c.Pattern != nil && !c.Pattern.MatchString(v.(string)) {
			return nil, fmt.Errorf("%q does not match %s", truncate(v.(string), 40), c.Pattern)
		}
		return v, nil
	default: // TypeJSON: a string goes to jsonb as is, never re-encoded
		return v, nil
	}
}

// optional reads a column value of type T or *T as a *T (nil is NULL).
func optional[T any](v any) *T {
	switch x := v.(type) {
	case T:
		return &x
	case *T:
		return x
	}
	return nil
}

// reasonError is a validation reason with the parse error behind it.
type reasonError struct {
	reason string
	err    error
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.err }

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
