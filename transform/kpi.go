package transform

import (
	"path/filepath"

	"github.com/metapipe/metapipe/extract"
	"github.com/shopspring/decimal"
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

// readKPI reads kpi.parquet once, keeping the days of the wanted clients. Any malformed row is
// an error for the whole run (the file is shared by every client).
func readKPI(path string, want map[string]bool) (map[string][]kpiDay, error) {
	out := make(map[string][]kpiDay)
	seen := make(map[string]map[int32]bool)
	file := filepath.Base(path)
	err := readParquet("", path, func(row int, r *extract.KPIRow) error {
		if !want[r.ClientID] {
			return nil
		}
		p := rowParser{client: r.ClientID, file: file, row: row}
		if seen[r.ClientID] == nil {
			seen[r.ClientID] = make(map[int32]bool)
		}
		if seen[r.ClientID][r.Date] {
			return p.fail("date", dayText(r.Date), ErrDuplicate)
		}
		seen[r.ClientID][r.Date] = true
		d := kpiDay{date: r.Date, counts: [kpiCounts]*int64{
			copyInt(r.TotalConversions), copyInt(r.ClickToCall), copyInt(r.EmailContacts),
			copyInt(r.BookingStep1), copyInt(r.BookingStep2), copyInt(r.BookingStep3), copyInt(r.Reservations),
		}}
		if r.ReservationValue != nil {
			v, err := p.decimal("reservation_value", *r.ReservationValue)
			if err != nil {
				return err
			}
			d.value = &v
		}
		out[r.ClientID] = append(out[r.ClientID], d)
		return nil
	})
	if err != nil {
		return nil, err
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
