package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/transform"
)

// RefetchRecord is one report kind of one week read again in the same run because its sums
// disagreed with the account's totals (a *_vs_account_* warning of the transform).
type RefetchRecord struct {
	Kind records.Kind `json:"kind"`
	Week string       `json:"week"` // its Monday, YYYY-MM-DD
	Rows int          `json:"rows"` // the rows Meta gave for the week the second time
	// Requests is how many requests the second read made (Meta's throttling and errors
	// included).
	Requests int64 `json:"requests"`
	// Agrees is whether the week's sums agreed after the second read (set by the transform
	// that followed it); a week that still disagrees is loaded but not made final.
	Agrees bool   `json:"agrees"`
	Error  string `json:"error,omitempty"` // the second read failed: the first read's rows are kept
}

// Disagreeing is, by client, the report kinds and weeks (Mondays) whose sums disagree with the
// account's totals (the transform's "<kind>_vs_account_<figure>" warnings), each once, in
// order of week and then kind.
func Disagreeing(warnings []transform.Warning) map[string][]RefetchRecord {
	out := map[string][]RefetchRecord{}
	for _, w := range warnings {
		kind, _, ok := strings.Cut(w.Check, "_vs_account_")
		if !ok {
			continue
		}
		r := RefetchRecord{Kind: records.Kind(kind), Week: w.Week.Format(time.DateOnly)}
		if !slices.ContainsFunc(out[w.ClientID], func(x RefetchRecord) bool { return x.Kind == r.Kind && x.Week == r.Week }) {
			out[w.ClientID] = append(out[w.ClientID], r)
		}
	}
	for _, rs := range out {
		slices.SortFunc(rs, func(a, b RefetchRecord) int { return strings.Compare(a.Week+string(a.Kind), b.Week+string(b.Kind)) })
	}
	return out
}

// RefetchDisagreeing reads each kind and week of todo again (extract.Extractor.Refetch: the
// week from its Monday to its Sunday or until, whichever is first) and replaces its staged
// rows, one after the other. A read that fails is recorded in its RefetchRecord.Error and the
// others go on (the first read's rows stay, the week stays not final); ctx ending stops it and
// is returned. Agrees is left for the transform that follows to set (MarkAgreed). stats sums
// the requests' statistics.
func RefetchDisagreeing(ctx context.Context, x *extract.Extractor, req extract.Request, until time.Time, todo []RefetchRecord) ([]RefetchRecord, extract.StatsSnapshot, error) {
	var stats extract.StatsSnapshot
	out := slices.Clone(todo)
	for i := range out {
		if err := ctx.Err(); err != nil {
			return out[:i], stats, err
		}
		monday, err := time.Parse(time.DateOnly, out[i].Week)
		if err != nil {
			out[i].Error = err.Error()
			continue
		}
		rng := extract.Range{Since: monday, Until: monday.AddDate(0, 0, 6)}
		if rng.Until.After(until) {
			rng.Until = until
		}
		n, st, err := x.Refetch(ctx, req, out[i].Kind, rng)
		stats = stats.Add(st)
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return out[:i], stats, err
		}
		out[i].Rows, out[i].Requests = n, st.Requests
		if err != nil {
			out[i].Error = err.Error()
		}
	}
	return out, stats, nil
}

// MarkAgreed sets Agrees on each record whose kind and week no longer disagree (not in the
// transform's warnings, by Disagreeing, for the client).
func MarkAgreed(refetched []RefetchRecord, still []RefetchRecord) {
	for i, r := range refetched {
		refetched[i].Agrees = r.Error == "" && !slices.ContainsFunc(still, func(x RefetchRecord) bool { return x.Kind == r.Kind && x.Week == r.Week })
	}
}
