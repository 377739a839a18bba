package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
)

// TestPermanent: the one rule of what is not retried, which the planner (an ad account that
// cannot be read) and the service's job (river.JobCancel) both apply.
func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"as-of after the account's today", &AsOfError{AsOf: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), Reason: AsOfAfterAccountToday}, true},
		{"unknown client", fmt.Errorf("plan: %w", &UnknownClientError{Name: "acme"}), true},
		{"no token", fmt.Errorf("client acme: %w", ErrNoToken), true},
		{"token refused (190)", fmt.Errorf("client acme: %w", &extract.GraphError{Code: 190, Subcode: 460}), true},
		{"permission (200)", &extract.GraphError{Code: 200}, true},
		{"invalid parameter (100)", &extract.GraphError{Code: 100}, true},
		{"malformed row", fmt.Errorf("extract: %w", &extract.RowError{Client: "acme", Kind: "campaign", Field: "spend", Value: "x"}), true},
		{"malformed ad account id", ValidateAccount(records.Client{Name: "acme", AdAccountID: "act_12x4"}), true},
		{"no ad account id", ValidateAccount(records.Client{Name: "acme"}), true},
		{"a planned client Meta refused", (ClientPlan{Error: "graph api error 190/460", Permanent: true, RefusedToken: true}).Err(), true},
		{"a planned client whose account read timed out", (ClientPlan{Error: "account: timeout"}).Err(), false},
		{"staged rows that cannot be transformed", fmt.Errorf("%w: %w", ErrTransform, errors.New("bad parquet")), true},
		{"throttled (17)", &extract.GraphError{Code: 17}, false},
		{"Meta's transient (2)", &extract.GraphError{Code: 2}, false},
		{"server error", &extract.GraphError{Code: 1, HTTPStatus: 500}, false},
		{"cancelled", fmt.Errorf("extract: %w", context.Canceled), false},
		{"deadline", fmt.Errorf("client acme: %w", context.DeadlineExceeded), false},
		{"database", errors.New("connection refused"), false},
		{"interrupted", ErrInterrupted, false},
	} {
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("%s: Permanent(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
