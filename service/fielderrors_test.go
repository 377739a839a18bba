package service

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/metapipe/metapipe/pipeline"
)

// FieldErrorOf builds each typed error's field and text from the error's fields, word for
// word, through any wrapping; the errors still say ErrUsage to the CLI.
func TestFieldErrorOf(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	for _, tc := range []struct {
		name         string
		err          error
		field, error string
	}{
		{"as-of in the future", &pipeline.AsOfError{AsOf: d("2027-06-01"), Reason: pipeline.AsOfFuture, Today: d("2026-12-09")},
			"as_of", "as_of: 2027-06-01 is in the future: today is 2026-12-09 at the latest (in UTC+14)"},
		{"as-of after an account's today", &pipeline.AsOfError{AsOf: d("2026-12-09"), Reason: pipeline.AsOfAfterAccountToday, Accounts: []pipeline.AccountToday{
			{Client: "Demo Hotel", AccountID: "1001", Zone: "America/Los_Angeles", Today: d("2026-12-07")},
			{Client: "Demo Spa", AccountID: "1002", Zone: "Pacific/Honolulu", Today: d("2026-12-08")},
		}}, "as_of", "as_of: 2026-12-09 is after today in the ad account's time zone: 2026-12-07 in America/Los_Angeles (client Demo Hotel, act_1001); 2026-12-08 in Pacific/Honolulu (client Demo Spa, act_1002)"},
		{"as-of too old", fmt.Errorf("wrapped: %w", &pipeline.AsOfError{AsOf: d("2023-01-01"), Reason: pipeline.AsOfTooOld, Oldest: d("2023-11-09"), Months: 37}),
			"as_of", "as_of: 2023-01-01 is more than 37 months ago: Meta keeps Insights from 2023-11-09 on (error 3018)"},
		{"unknown client", &pipeline.UnknownClientError{Name: "Nobody"}, "clients", `clients: unknown client "Nobody"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, pipeline.ErrUsage) {
				t.Errorf("%v is not ErrUsage: the CLI would not exit 2", tc.err)
			}
			fe := FieldErrorOf(tc.err)
			if fe == nil || fe.Field != tc.field || fe.Error() != tc.error {
				t.Fatalf("got %+v\nwant field %q, %q", fe, tc.field, tc.error)
			}
		})
	}
	if fe := FieldErrorOf(fmt.Errorf("%w: no database", pipeline.ErrUsage)); fe != nil {
		t.Errorf("an untyped usage error mapped to %+v", fe)
	}
}
