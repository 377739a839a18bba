package api_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
)

// The API's answers to each typed error, word for word: the texts are the API's own, built
// from the errors' fields (service.FieldErrorOf, decodeObject), so a reworded CLI message or a
// new encoding/json text cannot change them unseen.
func TestTypedErrorTexts(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	base := e.serve(t, e.open(t, "api", 0))
	now := time.Now()
	y, m, d := now.In(time.FixedZone("UTC+14", 14*3600)).Date()
	latest := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	oldest := latest.AddDate(0, -37, 0).Format(time.DateOnly)
	future := now.UTC().AddDate(0, 0, 3).Format(time.DateOnly)
	for _, tc := range []struct {
		name, body, field, error string
	}{
		{"as-of after today", `{"as_of": "` + future + `"}`, "as_of",
			"as_of: " + future + " is in the future: today is " + latest.Format(time.DateOnly) + " at the latest (in UTC+14)"},
		{"as-of too old", `{"as_of": "0001-01-01"}`, "as_of",
			"as_of: 0001-01-01 is more than 37 months ago: Meta keeps Insights from " + oldest + " on (error 3018)"},
		{"unknown client", `{"clients": ["Nobody"]}`, "clients", `clients: unknown client "Nobody"`},
		{"unknown body field", `{"weeks": 4, "shard": "0/2"}`, "shard", "unknown field shard (clients, as_of, weeks, full)"},
		{"a field in other case", `{"AS_OF": "2026-01-04"}`, "AS_OF", "unknown field AS_OF (clients, as_of, weeks, full)"},
		{"not an object", `[1]`, "", "want a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, base, tc.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("%d %s, want 400", a.status, a.body)
			}
			want := map[string]any{"error": tc.error}
			if tc.field != "" {
				want["field"] = tc.field
			}
			if got := a.json(t); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
		})
	}
}
