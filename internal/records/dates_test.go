package records_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

func TestDateJSONRoundTrip(t *testing.T) {
	type doc struct {
		Since records.Date `json:"since"`
		Final records.Date `json:"final,omitzero"`
	}
	for _, s := range []string{"2024-01-01", "2024-02-29", "1969-12-29", "2100-03-01"} {
		in := `{"since":"` + s + `"}`
		var v doc
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if v.Since.String() != s || !v.Final.IsZero() {
			t.Errorf("%s: read %q, final %q", s, v.Since, v.Final)
		}
		want, _ := time.Parse(time.DateOnly, s)
		if !v.Since.Time().Equal(want) || v.Since.DayNumber() != records.DayNumber(want) {
			t.Errorf("%s: time %v, day %d", s, v.Since.Time(), v.Since.DayNumber())
		}
		out, err := json.Marshal(v)
		if err != nil || string(out) != in {
			t.Errorf("%s: wrote %s (%v), want %s", s, out, err, in)
		}
	}
	// The date of a time in its own zone, not UTC's.
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	if got := records.DateOf(time.Date(2026, 11, 29, 20, 0, 0, 0, la)).String(); got != "2026-11-29" {
		t.Errorf("DateOf 20:00 in Los Angeles: %s", got)
	}
	if b, _ := json.Marshal(records.Date{}); string(b) != `""` {
		t.Errorf("the zero Date: %s", b)
	}
}

func TestDateJSONBadValue(t *testing.T) {
	type client struct {
		Since records.Date `json:"since"`
	}
	type plan struct {
		Clients []client `json:"clients"`
	}
	for _, bad := range []string{`"2026-13-45"`, `""`, `"2026-1-5"`, `20454`, `"2026-11-29T00:00:00Z"`} {
		var p plan
		err := json.Unmarshal([]byte(`{"clients":[{"since":`+bad+`}]}`), &p)
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) || te.Field != "clients.since" {
			t.Errorf("%s: %v, want an UnmarshalTypeError of clients.since", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), strings.Trim(bad, `"`)) || !strings.Contains(err.Error(), "clients.since") {
			t.Errorf("%s: %q does not name the value and the field", bad, err)
		}
	}
	v := records.DateOf(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	if err := json.Unmarshal([]byte(`null`), &v); err != nil || v.String() != "2026-11-29" {
		t.Errorf("null: %v, %s", err, v)
	}
}
