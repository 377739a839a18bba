package transform

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/metapipe/metapipe/internal/records"
)

// kpiCounts is the number of integer KPI columns carried to the summary.
const kpiCounts = 7

// kpiDay is one parsed daily_kpi_data row: the integer KPI columns in Summary order
// (total_conversions, click_to_call, email_contacts, booking_step_1..3, reservations) and
// reservation_value; nil is NULL.
type kpiDay struct {
	date   int32
	counts [kpiCounts]*int64
	value  *decimal.Decimal
}

// kpiFile reads the days of one client at a time from kpi.parquet, so that memory holds one
// client's KPI rows, not the run's. Opening it scans the client_id column once and keeps, per
// wanted client, the runs of consecutive rows that are theirs (one run per client in the sorted
// file the extract writes; any order works, at the cost of more runs). days then seeks to those
// runs.
type kpiFile struct {
	path   string
	reader *records.ParquetReader[records.KPIRow]
	runs   map[string][]rowRun
}

type rowRun struct{ start, n int64 }

// kpiClientID is the one column the first scan decodes.
type kpiClientID struct {
	ClientID string `parquet:"client_id"`
}

func openKPI(path string, want map[string]bool) (*kpiFile, error) {
	k := &kpiFile{path: path, runs: make(map[string][]rowRun)}
	last := ""
	err := readParquet("", path, func(row int, r *kpiClientID) error {
		if !want[r.ClientID] {
			last = ""
			return nil
		}
		runs := k.runs[r.ClientID]
		if last == r.ClientID {
			runs[len(runs)-1].n++
		} else {
			k.runs[r.ClientID] = append(runs, rowRun{start: int64(row), n: 1})
		}
		last = r.ClientID
		return nil
	})
	if err != nil {
		return nil, err
	}
	k.reader, err = records.OpenParquet[records.KPIRow](path)
	if err != nil {
		return nil, &InputError{File: filepath.Base(path), Row: -1, Err: err}
	}
	return k, nil
}

func (k *kpiFile) Close() error { return k.reader.Close() }

// days reads one client's KPI days. Any malformed row is an error for the whole run (the file
// is shared by every client).
func (k *kpiFile) days(clientID string) ([]kpiDay, error) {
	file := filepath.Base(k.path)
	var out []kpiDay
	buf := make([]records.KPIRow, 512)
	for _, run := range k.runs[clientID] {
		if err := k.reader.SeekToRow(run.start); err != nil {
			return nil, &InputError{ClientID: clientID, File: file, Row: int(run.start), Err: err}
		}
		for done := int64(0); done < run.n; {
			n, err := k.reader.Read(buf[:min(int64(len(buf)), run.n-done)])
			for i := range n {
				r := &buf[i]
				p := rowParser{client: clientID, file: file, row: int(run.start+done) + i}
				if r.ClientID != clientID {
					return nil, p.fail("client_id", r.ClientID, fmt.Errorf("the file changed while it was read"))
				}
				d := kpiDay{date: r.Date, counts: [kpiCounts]*int64{
					copyInt(r.TotalConversions), copyInt(r.ClickToCall), copyInt(r.EmailContacts),
					copyInt(r.BookingStep1), copyInt(r.BookingStep2), copyInt(r.BookingStep3), copyInt(r.Reservations),
				}}
				if r.ReservationValue != nil {
					v, err := p.decimal("reservation_value", *r.ReservationValue)
					if err != nil {
						return nil, err
					}
					d.value = &v
				}
				out = append(out, d)
			}
			done += int64(n)
			if err != nil && (err != io.EOF || done < run.n) {
				return nil, &InputError{ClientID: clientID, File: file, Row: int(run.start + done), Err: err}
			}
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

func copyInt(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// kpiSums is the KPI part of a summary.
type kpiSums struct {
	days   int32
	counts [kpiCounts]*int64
	value  *decimal.Decimal
}

// sumKPI sums the days in [from, to]. A NULL on a present day is left out of its column's sum;
// a column NULL on every present day stays NULL; with no day present everything is NULL.
func sumKPI(days []kpiDay, from, to int32) kpiSums {
	var s kpiSums
	for i := range days {
		d := &days[i]
		if d.date < from || d.date > to {
			continue
		}
		s.days++
		for c, v := range d.counts {
			if v == nil {
				continue
			}
			if s.counts[c] == nil {
				s.counts[c] = new(int64)
			}
			*s.counts[c] += *v
		}
		if d.value != nil {
			if s.value == nil {
				z := decimal.Zero
				s.value = &z
			}
			*s.value = s.value.Add(*d.value)
		}
	}
	return s
}
