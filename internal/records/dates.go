package records

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// DayNumber converts a calendar date to days since 1970-01-01, the Parquet `date` encoding.
// Only the date of t counts, not its time or zone.
func DayNumber(t time.Time) int32 {
	y, m, d := t.Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DayTime converts days since 1970-01-01 back to a date, as UTC midnight.
func DayTime(days int32) time.Time {
	return time.Unix(int64(days)*86400, 0).UTC()
}

// Date is a calendar date with no time or zone: the one date type of the plan (plan.json), the
// ledger (run.json) and the saved report runs. In JSON it is a "YYYY-MM-DD" string; the zero
// Date (no date) is written as "" and is left out of a field tagged omitzero. Decoding anything
// else ("2026-13-45", "", a number) is a *json.UnmarshalTypeError naming the value, which
// encoding/json completes with the struct field's path (for example Plan.clients.since).
type Date struct{ t time.Time } // UTC midnight, or the zero time for no date

// DateOf returns the date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// ParseDate parses a "YYYY-MM-DD" date; anything else is an error naming s.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("bad date %q: want YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// Time returns the date as UTC midnight (the zero time for the zero Date).
func (d Date) Time() time.Time { return d.t }

// IsZero reports whether d is no date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// DayNumber returns d as days since 1970-01-01, the Parquet `date` encoding.
func (d Date) DayNumber() int32 { return DayNumber(d.t) }

// String returns "YYYY-MM-DD", or "" for the zero Date.
func (d Date) String() string {
	if d.t.IsZero() {
		return ""
	}
	return d.t.Format(time.DateOnly)
}

// MarshalJSON writes the date as "YYYY-MM-DD" ("" for the zero Date).
func (d Date) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a "YYYY-MM-DD" string (null is a no-op); anything else is a *json.UnmarshalTypeError whose
// Value quotes what was found.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" { // encoding/json's convention: null leaves the value as it is
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Date]()}
	}
	t, err := ParseDate(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: fmt.Sprintf("%q (want a YYYY-MM-DD date)", s), Type: reflect.TypeFor[Date]()}
	}
	*d = t
	return nil
}
