package transform

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/quagmt/udecimal"
)

// kpiCounts is the number of integer KPI columns carried to the summary.
const kpiCounts = 7

// kpiColumns are the columns of kpi.parquet the transform reads: the client, the day, the integer
// KPI columns in Summary order (total_conversions, click_to_call, email_contacts,
// booking_step_1..3, reservations) and reservation_value. The staged ad totals of
// daily_kpi_data are not used.
var kpiColumns = []string{"client_id", "date", "total_conversions", "click_to_call", "email_contacts",
	"booking_step_1", "booking_step_2", "booking_step_3", "reservations", "reservation_value"}

// kpiDay is one parsed daily_kpi_data row; a column not in has (and value when !hasValue) is
// NULL.
type kpiDay struct {
	date     int32
	counts   [kpiCounts]int64
	has      [kpiCounts]bool
	value    udecimal.Decimal
	hasValue bool
}

// kpiFile reads the days of one client at a time from kpi.parquet, so that memory holds one
// client's KPI rows, not the run's. Opening it reads the client_id column once and keeps, per
// wanted client, the runs of consecutive rows that are theirs (one run per client in the sorted
// file the extract writes; any order works, at the cost of more runs). days then seeks one Arrow
// column reader per column to each run and reads exactly its rows. Clients come in the plan's
// order (by name), not the file's, so a read decodes from the start of the page holding the run:
// the extract writes row groups of records.KPIRowGroupRows rows to keep that small.
type kpiFile struct {
	cf     *columnFile
	leaves []int   // of kpiColumns
	starts []int64 // first row of each row group, and the row count at the end
	runs   map[string][]rowRun

	readers []*pqarrow.ColumnReader // of kpiColumns, created at the first read
}

type rowRun struct{ start, n int64 }

func openKPI(path string, want map[string]bool) (_ *kpiFile, err error) {
	cf, err := openColumnFile(path)
	if err != nil {
		return nil, &InputError{File: fileName(path), Row: -1, Err: err}
	}
	k := &kpiFile{cf: cf, runs: make(map[string][]rowRun)}
	defer func() {
		if p := recover(); p != nil {
			err = &InputError{File: cf.name, Row: -1, Err: fmt.Errorf("read: %v", p)}
		}
		if err != nil {
			k.Close()
		}
	}()
	if k.leaves, err = cf.leaves(kpiColumns); err != nil {
		return nil, &InputError{File: cf.name, Row: -1, Err: err}
	}
	md := cf.pf.MetaData()
	row := int64(0)
	for i := range md.NumRowGroups() {
		k.starts = append(k.starts, row)
		row += md.RowGroup(i).NumRows()
	}
	k.starts = append(k.starts, row)

	last := ""
	for rg := range md.NumRowGroups() {
		ch, err := cf.fr.RowGroup(rg).Column(k.leaves[0]).Read(context.Background())
		if err != nil {
			return nil, &InputError{File: cf.name, Row: int(k.starts[rg]), Err: err}
		}
		row := k.starts[rg]
		for _, chunk := range ch.Chunks() {
			ids, ok := chunk.(*array.String)
			if !ok {
				ch.Release()
				return nil, &InputError{File: cf.name, Row: -1, Err: errSchema(cf.name, "client_id", chunk.DataType())}
			}
			for i := range ids.Len() {
				id := ids.Value(i)
				switch {
				case !want[id]:
					last = ""
				case last == id:
					runs := k.runs[last]
					runs[len(runs)-1].n++
				default:
					last = strings.Clone(id) // id aliases the batch, released below
					k.runs[last] = append(k.runs[last], rowRun{start: row + int64(i), n: 1})
				}
			}
			row += int64(ids.Len())
		}
		ch.Release()
	}
	return k, nil
}

func (k *kpiFile) Close() error {
	for _, r := range k.readers {
		r.Release()
	}
	k.readers = nil
	return k.cf.Close()
}

// read reads rows [start, start+n) of every column: each column reader seeks to the page that
// holds start (the file's offset index says where) and decodes from there.
func (k *kpiFile) read(start, n int64) ([]arrow.Array, error) {
	if k.readers == nil {
		for _, leaf := range k.leaves {
			r, err := k.cf.fr.GetColumn(context.Background(), leaf)
			if err != nil {
				return nil, err
			}
			k.readers = append(k.readers, r)
		}
	}
	cols := make([]arrow.Array, len(k.readers))
	for c, r := range k.readers {
		if err := r.SeekToRow(start); err != nil {
			releaseAll(cols)
			return nil, err
		}
		ch, err := r.NextBatch(n)
		if err != nil {
			releaseAll(cols)
			return nil, err
		}
		if ch.Len() != int(n) {
			ch.Release()
			releaseAll(cols)
			return nil, fmt.Errorf("column %s: read %d of %d rows", kpiColumns[c], ch.Len(), n)
		}
		if len(ch.Chunks()) == 1 {
			cols[c] = ch.Chunk(0)
			cols[c].Retain()
		} else {
			cols[c], err = array.Concatenate(ch.Chunks(), memory.DefaultAllocator)
		}
		ch.Release()
		if err != nil {
			releaseAll(cols)
			return nil, err
		}
	}
	return cols, nil
}

func releaseAll(as []arrow.Array) {
	for _, a := range as {
		if a != nil {
			a.Release()
		}
	}
}

// days reads one client's KPI days. Any malformed row is an error for the whole run (the file
// is shared by every client).
func (k *kpiFile) days(clientID string) (out []kpiDay, err error) {
	file := k.cf.name
	defer func() {
		if p := recover(); p != nil {
			err = &InputError{ClientID: clientID, File: file, Row: -1, Err: fmt.Errorf("read: %v", p)}
		}
	}()
	for _, run := range k.runs[clientID] {
		for row := run.start; row < run.start+run.n; {
			n := min(run.start+run.n-row, recordsPerRead)
			cols, err := k.read(row, n)
			if err != nil {
				return nil, &InputError{ClientID: clientID, File: file, Row: int(row), Err: err}
			}
			err = k.readDays(clientID, cols, int(n), int(row), &out)
			releaseAll(cols)
			if err != nil {
				return nil, err
			}
			row += n
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].date < out[j].date })
	for i := 1; i < len(out); i++ {
		if out[i].date == out[i-1].date {
			p := rowParser{client: clientID, file: file, row: -1}
			return nil, p.fail("date", dayText(out[i].date), ErrDuplicate)
		}
	}
	return out, nil
}

// recordsPerRead bounds the rows one read decodes.
const recordsPerRead = 10_000

// readDays appends the n rows of cols, read from row start, which the first scan found to be
// clientID's.
func (k *kpiFile) readDays(clientID string, cols []arrow.Array, n, start int, out *[]kpiDay) error {
	file := k.cf.name
	ids, ok1 := cols[0].(*array.String)
	dates, ok2 := cols[1].(*array.Date32)
	value, ok3 := cols[len(cols)-1].(*array.String)
	var counts [kpiCounts]*array.Int64
	ok := ok1 && ok2 && ok3
	for c := range counts {
		counts[c], ok2 = cols[2+c].(*array.Int64)
		ok = ok && ok2
	}
	if !ok {
		return &InputError{ClientID: clientID, File: file, Row: -1, Err: fmt.Errorf("%s: not a file of this schema", file)}
	}
	for i := range n {
		p := rowParser{client: clientID, file: file, row: start + i}
		if id := ids.Value(i); id != clientID {
			return p.fail("client_id", id, fmt.Errorf("the file changed while it was read"))
		}
		d := kpiDay{date: int32(dates.Value(i))}
		for c, col := range counts {
			if col.IsValid(i) {
				d.counts[c], d.has[c] = col.Value(i), true
			}
		}
		if value.IsValid(i) {
			v, err := p.decimal("reservation_value", value.Value(i))
			if err != nil {
				return err
			}
			d.value, d.hasValue = v, true
		}
		*out = append(*out, d)
	}
	return nil
}

// kpiSums is the KPI part of a summary.
type kpiSums struct {
	days   int32
	counts [kpiCounts]*int64
	value  *udecimal.Decimal
}

// sumKPI sums the days in [from, to]. A NULL on a present day is left out of its column's sum;
// a column NULL on every present day stays NULL; with no day present everything is NULL.
func sumKPI(days []kpiDay, from, to int32) kpiSums {
	var s kpiSums
	var counts [kpiCounts]int64
	var has [kpiCounts]bool
	var value udecimal.Decimal
	hasValue := false
	for i := range days {
		d := &days[i]
		if d.date < from || d.date > to {
			continue
		}
		s.days++
		for c := range counts {
			if d.has[c] {
				counts[c] += d.counts[c]
				has[c] = true
			}
		}
		if d.hasValue {
			value = value.Add(d.value)
			hasValue = true
		}
	}
	for c := range counts {
		if has[c] {
			s.counts[c] = &counts[c]
		}
	}
	if hasValue {
		s.value = &value
	}
	return s
}
