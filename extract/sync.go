package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// SyncConfig says which reports are read with the synchronous Insights request (GET
// act_<id>/insights, docs/META_API.md section 4) instead of a report run: the short ranges of a
// daily run, answered in one round trip where a report run costs a submit, Meta's queue, polls
// and the pages. A synchronous read that Meta finds too large, that times out or that runs to
// more pages than MaxPages falls back to a report run of the same range.
type SyncConfig struct {
	// Weeks: a range of at most this many weekly buckets is read synchronously; 0 or
	// SyncNever reads none here. A run's config (pipeline.Config.Sync) defaults it to
	// DefaultSyncWeeks (8) and keeps SyncNever (--sync-weeks 0).
	Weeks int
	// MaxPages: a synchronous read still going after this many pages falls back to a report
	// run; defaults to DefaultSyncMaxPages (10). This is what makes an account small enough.
	MaxPages int
	// Timeout is each synchronous request's own timeout; one that is not answered in time is
	// not retried but falls back to a report run; defaults to DefaultSyncTimeout (30s).
	Timeout time.Duration
	// Parallel bounds the synchronous reads of one client's week-aligned chunks in flight at
	// once, every kind together (Request.SyncChunks); defaults to DefaultSyncParallel (40).
	Parallel int
}

// Reasons a synchronous read falls back to a report run, in the ledger's kinds.
const (
	FallbackTooLarge = "too large"
	FallbackTimeout  = "timed out"
	FallbackPages    = "too many pages"
	// FallbackTransient: Meta kept answering transient errors (1/99 "An unknown error
	// occurred", 2/1504044 "Unknown Error Occurred", HTTP 5xx) past RetryConfig.MaxAttempts.
	FallbackTransient = "kept failing"
)

// syncFallback is a synchronous read that gives way to a report run.
type syncFallback struct {
	reason string
	err    error // Meta's answer or the timeout, if any
}

func (e *syncFallback) Error() string {
	if e.err == nil {
		return "synchronous read: " + e.reason
	}
	return "synchronous read: " + e.reason + ": " + e.err.Error()
}

func (e *syncFallback) Unwrap() error { return e.err }

// effectiveStatuses are every effective_status of a campaign and of an ad (the business SDK's
// Campaign.EffectiveStatus and Ad.EffectiveStatus), live or not: asked for below the account
// level, so that deleted and archived objects count there as they do in the account's totals.
// Meta: act_<id>/insights?level=ad "does not return stats for the deleted object"; query them
// "using the ad.effective_status filter" (Manage your ad object's status).
var effectiveStatuses = map[string][]string{
	"campaign": {"ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES"},
	"ad": {"ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES", "PENDING_REVIEW", "DISAPPROVED",
		"PREAPPROVED", "PENDING_BILLING_INFO", "CAMPAIGN_PAUSED", "ADSET_PAUSED"},
}

// insightsParams are the Insights parameters of a range, for a submit and for a synchronous
// read alike: the level, the fields, the breakdowns, the range and weekly buckets; below the
// account level, a filter on every effective_status (deleted and archived objects included);
// with actions, use_unified_attribution_setting=true, Ads Manager's attribution (Meta: action
// metrics are not available when a total spans several attribution settings).
func (r *reportRunner) insightsParams(rng Range) url.Values { return r.spec.Params(rng) }

// Params are the Insights parameters of the report kind for rng (see insightsParams): what a
// submit and a synchronous read send besides the token and the page size.
func (s ReportSpec) Params(rng Range) url.Values {
	params := url.Values{}
	params.Set("level", s.Level)
	params.Set("fields", strings.Join(s.Fields, ","))
	if st, ok := effectiveStatuses[s.Level]; ok {
		f, _ := json.Marshal([]map[string]any{{"field": s.Level + ".effective_status", "operator": "IN", "value": st}})
		params.Set("filtering", string(f))
	}
	if slices.Contains(s.Fields, "actions") {
		params.Set("use_unified_attribution_setting", "true")
	}
	if len(s.Breakdowns) > 0 {
		params.Set("breakdowns", strings.Join(s.Breakdowns, ","))
	}
	tr, _ := json.Marshal(map[string]string{"since": rng.Since.Format(time.DateOnly), "until": rng.Until.Format(time.DateOnly)})
	params.Set("time_range", string(tr))
	params.Set("time_increment", "7")
	return params
}

// fetchKind returns the rows of rng: read synchronously when the range is short and no report
// run of it is saved (a resumed run's saved report runs are polled, never read again
// synchronously), else, or when the synchronous read falls back, by report runs. fallback
// names why a synchronous read gave way ("" when none did).
func (r *reportRunner) fetchKind(ctx context.Context, rng Range) (rows []records.InsightRow, sync bool, fallback string, err error) {
	ctx = withHoldHook(ctx, func() { r.report(StateThrottled, 0, 0) })
	if r.chunkWeeks > 0 {
		return r.fetchChunks(ctx, rng)
	}
	_, saved := r.runs.find(rng)
	if r.sync.Weeks > 0 && rng.Weeks() <= r.sync.Weeks && !saved {
		rows, err = r.readSync(ctx, rng, r.slots)
		var fb *syncFallback
		if !errors.As(err, &fb) {
			return rows, err == nil, "", err
		}
		r.s.Stats.SyncFallbacks.Add(1)
		fallback = fb.reason
	}
	rows, err = r.fetch(ctx, rng)
	return rows, false, fallback, err
}

// readSync reads rng with the synchronous Insights request, paged by the cursor links and
// parsed by the same strict row parser as a report run's pages. It holds one of the account's
// slots (sem), like a report run, or one of the client's chunk slots. It writes nothing to
// <kind>.job.json: there is nothing to resume, and a read cut short is read again. A
// [*syncFallback] says to fetch rng by report runs.
func (r *reportRunner) readSync(ctx context.Context, rng Range, sem chan struct{}) ([]records.InsightRow, error) {
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-sem }()
	start := time.Now()
	defer func() { r.s.Stats.Paging.Add(int64(time.Since(start))) }()
	path := "act_" + r.s.Account + "/insights"
	r.report(StateReading, 0, 0)
	return r.readPages(newRowParser(r.client, r.spec, rng), 0, path, r.insightsParams(rng),
		func(page int, path string, params url.Values, limit int, pg *insightsPage) (int, error) {
			if page == r.sync.MaxPages {
				return limit, &syncFallback{reason: FallbackPages}
			}
			n, err := r.s.doWith(ctx, r.sync.Timeout, ask{kind: CallSync, limit: limit, timeoutFinal: true, syncFirst: page == 0}, http.MethodGet, path, params, pg)
			switch {
			case err == nil:
				return n, nil
			case ctx.Err() != nil:
				return n, ctx.Err()
			case ClassOf(err) == ClassTooLarge:
				return n, &syncFallback{reason: FallbackTooLarge, err: err}
			case errors.Is(err, ErrAttemptTimeout):
				return n, &syncFallback{reason: FallbackTimeout, err: err}
			case ClassOf(err) == ClassTransient:
				return n, &syncFallback{reason: FallbackTransient, err: err}
			default:
				return n, fmt.Errorf("synchronous read %s page %d: %w", rng, page+1, err)
			}
		})
}
