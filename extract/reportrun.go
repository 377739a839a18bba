package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/internal/backoff"
	"github.com/metapipe/metapipe/internal/records"
)

// PollConfig paces the polling of a report run.
type PollConfig struct {
	First        time.Duration // first wait after the submit (2s)
	Max          time.Duration // longest wait between polls (30s)
	StartTimeout time.Duration // a job still at 0 % after this is stuck (5m)
	Timeout      time.Duration // a job not done after this is stuck (30m)
	NotReadyWait time.Duration // wait after a 2601 on the results (First)
}

func (c PollConfig) withDefaults() PollConfig {
	if c.First == 0 {
		c.First = 2 * time.Second
	}
	if c.Max == 0 {
		c.Max = 30 * time.Second
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 5 * time.Minute
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Minute
	}
	if c.NotReadyWait == 0 {
		c.NotReadyWait = c.First
	}
	return c
}

// ProgressFunc is told a report run's status and percent whenever a poll answers.
type ProgressFunc func(kind records.Kind, status string, percent int)

// reportRunner fetches one report kind for one client: submit, save the id, poll, page, split.
type reportRunner struct {
	s        *Session
	spec     ReportSpec
	client   string // the client's name, for errors
	poll     PollConfig
	pageSize int
	runs     *reportRunLog
	slots    chan struct{} // bounds the account's report runs in flight
	progress ProgressFunc
}

// fetch returns the rows of rng, splitting it when Meta says it is too large.
func (r *reportRunner) fetch(ctx context.Context, rng Range) ([]records.InsightRow, error) {
	if e, ok := r.runs.find(rng); ok && e.Status == runSplit {
		return r.fetchSplit(ctx, rng)
	}
	failures := 0
	for {
		rows, id, resumed, err := r.attempt(ctx, rng)
		if err != nil && id == "" {
			if ClassOf(err) == ClassTooLarge && rng.Weeks() > 1 {
				if err := r.runs.set(rng, "", runSplit); err != nil {
					return nil, err
				}
				return r.fetchSplit(ctx, rng)
			}
			return nil, err
		}
		if err == nil {
			return rows, r.runs.set(rng, id, runCompleted)
		}
		var ge *GraphError
		var je *ReportRunError
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case resumed && errors.As(err, &ge) && ge.Class() == ClassFatal:
			// The saved run is gone (expired or unknown): submit a new one.
			if err := r.runs.set(rng, id, runExpired); err != nil {
				return nil, err
			}
			continue
		case errors.As(err, &je):
			tooLarge := je.Graph != nil && je.Graph.Class() == ClassTooLarge
			status := runFailed
			if errors.Is(err, ErrReportRunStuck) {
				status = runStuck
			}
			if serr := r.runs.set(rng, id, status); serr != nil {
				return nil, serr
			}
			failures++
			if !tooLarge && failures == 1 {
				continue // resubmit once
			}
			if rng.Weeks() > 1 && !errors.Is(err, ErrReportRunStuck) { // a failing or too-large range: split it
				if err := r.runs.set(rng, "", runSplit); err != nil {
					return nil, err
				}
				return r.fetchSplit(ctx, rng)
			}
			return nil, fmt.Errorf("range %s: %w", rng, err)
		default:
			return nil, fmt.Errorf("range %s: %w", rng, err)
		}
	}
}

// fetchSplit fetches the two halves of rng concurrently and joins their rows in date order.
func (r *reportRunner) fetchSplit(ctx context.Context, rng Range) ([]records.InsightRow, error) {
	a, b := rng.split()
	var ra, rb []records.InsightRow
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { ra, err = r.fetch(gctx, a); return })
	g.Go(func() (err error) { rb, err = r.fetch(gctx, b); return })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return append(ra, rb...), nil
}

// submitOrResume returns the saved report run of rng if one is pending, else submits a new one
// and saves its id before doing anything else.
func (r *reportRunner) submitOrResume(ctx context.Context, rng Range) (id string, resumed bool, err error) {
	if e, ok := r.runs.find(rng); ok && e.ReportRunID != "" && (e.Status == runSubmitted || e.Status == runCompleted) {
		return e.ReportRunID, true, nil
	}
	params := url.Values{}
	params.Set("level", r.spec.Level)
	params.Set("fields", strings.Join(r.spec.Fields, ","))
	if len(r.spec.Breakdowns) > 0 {
		params.Set("breakdowns", strings.Join(r.spec.Breakdowns, ","))
	}
	tr, _ := json.Marshal(map[string]string{"since": rng.Since.Format(time.DateOnly), "until": rng.Until.Format(time.DateOnly)})
	params.Set("time_range", string(tr))
	params.Set("time_increment", "7")
	var resp struct {
		ReportRunID json.Number `json:"report_run_id"`
	}
	if err := r.s.call(ctx, CallSubmit, http.MethodPost, "act_"+r.s.Account+"/insights", params, &resp); err != nil {
		return "", false, fmt.Errorf("submit report run %s: %w", rng, err)
	}
	id = resp.ReportRunID.String()
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", false, fmt.Errorf("submit report run %s: %w: report_run_id %q is not numeric", rng, ErrBadResponse, id)
	}
	if err := r.runs.set(rng, id, runSubmitted); err != nil {
		return "", false, err
	}
	return id, false, nil
}

// attempt submits (or resumes) one report run of rng, waits for it and reads its rows, holding
// one of the account's slots throughout, so the runs in flight per account stay bounded. id is
// "" when no report run was started.
func (r *reportRunner) attempt(ctx context.Context, rng Range) (rows []records.InsightRow, id string, resumed bool, err error) {
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, "", false, ctx.Err()
	}
	defer func() { <-r.slots }()
	id, resumed, err = r.submitOrResume(ctx, rng)
	if err != nil {
		return nil, "", false, err
	}
	if err := r.wait(ctx, id, resumed); err != nil {
		return nil, id, resumed, err
	}
	rows, err = r.read(ctx, id, rng)
	return rows, id, resumed, err
}

// adReportRun is the AdReportRun object.
type adReportRun struct {
	ID           json.Number `json:"id"`
	Status       string      `json:"async_status"`
	Percent      json.Number `json:"async_percent_completion"`
	ErrorCode    json.Number `json:"error_code"`
	ErrorSubcode json.Number `json:"error_subcode"`
	ErrorMessage string      `json:"error_message"`
}

// wait polls the report run until it is completed, judging by async_status (not percent). The
// polls follow an exponential schedule from Poll.First doubling up to Poll.Max (no jitter:
// the first poll lands just after a job of the usual length); a resumed run is polled at once.
func (r *reportRunner) wait(ctx context.Context, id string, resumed bool) error {
	cfg := r.poll.withDefaults()
	start := time.Now()
	defer func() { r.s.Stats.JobWait.Add(int64(time.Since(start))) }()
	schedule := backoff.Policy{Base: cfg.First, Cap: cfg.Max}.Backoff()
	var delay time.Duration
	if !resumed {
		delay, _ = schedule.Next()
	}
	for {
		if err := backoff.Sleep(ctx, delay); err != nil {
			return err
		}
		var run adReportRun
		if err := r.s.call(ctx, CallPoll, http.MethodGet, id, nil, &run); err != nil {
			return fmt.Errorf("poll report run %s: %w", id, err)
		}
		pct, _ := run.Percent.Float64()
		if r.progress != nil {
			r.progress(r.spec.Kind, run.Status, int(pct))
		}
		switch run.Status {
		case "Job Completed":
			return nil
		case "Job Failed", "Job Skipped":
			re := &ReportRunError{ReportRunID: id, Status: run.Status, Err: ErrReportRunFailed}
			if code, err := run.ErrorCode.Int64(); err == nil && code != 0 {
				sub, _ := run.ErrorSubcode.Int64()
				re.Graph = &GraphError{Code: int(code), Subcode: int(sub), Message: Scrub(run.ErrorMessage, r.s.token)}
			}
			return re
		}
		elapsed := time.Since(start)
		if elapsed > cfg.Timeout || (pct == 0 && elapsed > cfg.StartTimeout) {
			return &ReportRunError{ReportRunID: id, Status: fmt.Sprintf("%s at %d%% after %s", run.Status, int(pct), elapsed.Round(time.Second)), Err: ErrReportRunStuck}
		}
		delay, _ = schedule.Next()
	}
}

// read pages through the results with the cursor links; 2601 (read too early) waits and retries.
func (r *reportRunner) read(ctx context.Context, id string, rng Range) ([]records.InsightRow, error) {
	cfg := r.poll.withDefaults()
	start := time.Now()
	defer func() { r.s.Stats.Paging.Add(int64(time.Since(start))) }()
	params := url.Values{}
	params.Set("limit", strconv.Itoa(r.pageSize))
	path := id + "/insights"
	p := newRowParser(r.client, r.spec, rng)
	notReady := 0
	for page := 0; ; page++ {
		var pg insightsPage
		err := r.s.call(ctx, CallResults, http.MethodGet, path, params, &pg)
		if ClassOf(err) == ClassNotReady && notReady < 10 {
			notReady++
			page--
			if err := backoff.Sleep(ctx, cfg.NotReadyWait); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read report run %s page %d: %w", id, page+1, err)
		}
		for i := range pg.Data {
			if err := p.add(&pg.Data[i]); err != nil {
				return nil, err
			}
		}
		if pg.Paging.Next == "" {
			break
		}
		path, params = pg.Paging.Next, nil
	}
	r.s.Stats.Rows.Add(int64(len(p.rows)))
	return p.rows, nil
}
