package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/internal/backoff"
	"github.com/metapipe/metapipe/internal/records"
)

// PollConfig paces the polling of a report run and says when a run is stuck. A run is judged
// by its progress, not by a stopwatch: Meta documents runs of up to an hour. Between First and
// Max, the polls are timed by Meta's percent ([pollSchedule]).
type PollConfig struct {
	First time.Duration // first wait after the submit; defaults to DefaultPollFirst (2s; --poll-first)
	Max   time.Duration // longest wait between polls, at least First; defaults to DefaultPollMax (2m; --poll-max)
	// StallTimeout is the longest a run may go without progress: neither its async_status nor
	// its async_percent_completion changed from one poll to the next; defaults to
	// DefaultStallTimeout (10m; --job-timeout).
	// Progress is seen at the polls, which are at most Max apart.
	StallTimeout time.Duration
	// MaxRunTime caps a run's whole life, from the submit (or the resume) to "Job Completed",
	// progress or not; defaults to DefaultMaxRunTime (60m; --job-max).
	MaxRunTime   time.Duration
	NotReadyWait time.Duration // wait after a 2601 on the results; defaults to First
	// Times, when not nil, keeps how long the ad accounts' report runs took, to time the first
	// poll of the next ([RunTimes]); shared by every copy of the config.
	Times *RunTimes
}

// Progress is what one report kind of a client tells as it goes, for a progress display: its
// state, Meta's percent, the pages read and the client's requests so far.
type Progress struct {
	Kind records.Kind
	// State is StateSubmitting, StateSubmitted, StateReading or StateDone, or between the
	// submit and the results Meta's async_status at the last poll ("Job Running", …).
	State    string
	Percent  int   // Meta's async_percent_completion at the last poll (0-100)
	Pages    int   // result pages read so far (StateReading)
	Requests int64 // the client's Graph API requests so far, every kind included
	// ThrottledSince is when Meta began answering the ad account's calls with throttling
	// errors, with no success since (zero when it is not throttled): State is StateThrottled
	// while a call of this kind waits for it.
	ThrottledSince time.Time
}

// The states of a report kind besides Meta's async_status.
const (
	StateSubmitting = "submitting" // waiting for a slot or the throttle, or the submit in flight
	StateSubmitted  = "submitted"  // submitted (or resumed), not polled yet
	StateReading    = "reading"    // completed; reading the result pages
	StateDone       = "done"       // the rows are staged
	StateThrottled  = "throttled"  // a call waits while Meta throttles the ad account (Progress.ThrottledSince)
)

// holdHook is told, through the context of a call (as net/http/httptrace hooks are), that the
// call's ad account is held after a throttled answer.
type holdHook struct{ held func() }

type holdHookKey struct{}

func withHoldHook(ctx context.Context, held func()) context.Context {
	return context.WithValue(ctx, holdHookKey{}, &holdHook{held: held})
}

func heldHook(ctx context.Context) func() {
	if h, ok := ctx.Value(holdHookKey{}).(*holdHook); ok {
		return h.held
	}
	return nil
}

// ProgressFunc is told a kind's [Progress] at every step: the submit, each poll, each page.
// It is called from the kinds' goroutines at once.
type ProgressFunc func(Progress)

// reportRunner fetches one report kind for one client: submit, save the id, poll, page, split.
type reportRunner struct {
	s          *Session
	inlineWait time.Duration // Extractor.InlineWait
	spec       ReportSpec
	client     string // the client's name, for errors
	poll       PollConfig
	pageSize   int
	sync       SyncConfig // with its defaults
	runs       *reportRunLog
	slots      chan struct{} // bounds the account's report runs in flight
	readers    chan struct{} // bounds the results being read, every client together (Extractor.Readers)
	progress   ProgressFunc
	// chunkWeeks, when not 0, reads the range synchronously in chunks of that many weeks
	// (Request.SyncChunks), chunkSlots bounding the client's chunk reads in flight; chunks and
	// chunkFallbacks count what was read so.
	chunkWeeks     int
	chunkSlots     chan struct{}
	chunks         int
	chunkFallbacks atomic.Int64
}

// report tells the progress function, if any, the kind's state.
func (r *reportRunner) report(state string, percent, pages int) {
	if r.progress != nil {
		r.progress(Progress{Kind: r.spec.Kind, State: state, Percent: percent, Pages: pages, Requests: r.s.Stats.Requests.Load(),
			ThrottledSince: r.s.Throttle.ThrottledSince()})
	}
}

// fetch returns the rows of rng, carrying out [decideRange]'s decisions after each attempt:
// resubmit, hold the account and resubmit, split, wait or fail.
func (r *reportRunner) fetch(ctx context.Context, rng Range) ([]records.InsightRow, error) {
	if e, ok := r.runs.find(rng); ok && e.Status == runSplit {
		return r.fetchSplit(ctx, rng)
	}
	p := policyOf(r.s.c.Retry, r.s.Throttle.cfg, r.poll)
	var h rangeHistory
	var throttledStart time.Time
	for {
		rows, id, resumed, err := r.attempt(ctx, rng)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !throttledStart.IsZero() {
			h.throttledFor = time.Since(throttledStart)
		}
		var d rangeDecision
		d, h = decideRange(rng, id, resumed, err, h, p)
		switch d.step {
		case stepDone:
			return rows, r.runs.set(rng, id, runCompleted)
		case stepSplit:
			if err := r.runs.set(rng, "", runSplit); err != nil {
				return nil, err
			}
			return r.fetchSplit(ctx, rng)
		case stepResubmit, stepHold:
			if err := r.runs.set(rng, id, d.mark); err != nil {
				return nil, err
			}
			if d.step == stepHold {
				if throttledStart.IsZero() {
					throttledStart = time.Now()
				}
				r.s.Stats.Throttled.Add(1)
				r.s.Throttle.hold(d.hold, "report run failed throttled")
				r.report(StateThrottled, 0, 0)
			}
		default: // stepWait (the run is saved: the next extraction of the client polls it), stepFail
			return nil, d.err
		}
	}
}

// fetchSplit fetches the two halves of rng concurrently and joins their rows in date order. A
// half that has to wait (a *WaitError) does not stop the other; the earlier wait is returned.
func (r *reportRunner) fetchSplit(ctx context.Context, rng Range) ([]records.InsightRow, error) {
	a, b := rng.split()
	var ra, rb []records.InsightRow
	var wa, wb *WaitError
	g, gctx := errgroup.WithContext(ctx)
	half := func(h Range, rows *[]records.InsightRow, wait **WaitError) func() error {
		return func() error {
			var err error
			*rows, err = r.fetch(gctx, h)
			if we, ok := asWait(err); ok {
				*wait = we
				return nil
			}
			return err
		}
	}
	g.Go(half(a, &ra, &wa))
	g.Go(half(b, &rb, &wb))
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if we := earlier(wa, wb); we != nil {
		return nil, we
	}
	return append(ra, rb...), nil
}

// earlier is the wait due first, or nil.
func earlier(a, b *WaitError) *WaitError {
	switch {
	case a == nil:
		return b
	case b == nil || a.Until.Before(b.Until):
		return a
	}
	return b
}

// submitOrResume returns the saved report run of rng if one is pending, else submits a new one
// and saves its id before doing anything else. since is when the run began for metapipe: Meta's
// answer to the submit (before the id is saved), or now for a saved run.
func (r *reportRunner) submitOrResume(ctx context.Context, rng Range) (id string, resumed bool, since time.Time, err error) {
	if e, ok := r.runs.find(rng); ok && e.ReportRunID != "" && (e.Status == runSubmitted || e.Status == runCompleted) {
		return e.ReportRunID, true, time.Now(), nil
	}
	var resp struct {
		ReportRunID json.Number `json:"report_run_id"`
	}
	if err := r.s.call(ctx, CallSubmit, http.MethodPost, "act_"+r.s.Account+"/insights", r.insightsParams(rng), &resp); err != nil {
		return "", false, since, fmt.Errorf("submit report run %s: %w", rng, err)
	}
	since = time.Now()
	id = resp.ReportRunID.String()
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", false, since, fmt.Errorf("submit report run %s: %w: report_run_id %q is not numeric", rng, ErrBadResponse, id)
	}
	if err := r.runs.set(rng, id, runSubmitted); err != nil {
		return "", false, since, err
	}
	return id, false, since, nil
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
	r.report(StateSubmitting, 0, 0)
	id, resumed, since, err := r.submitOrResume(ctx, rng)
	if err != nil {
		return nil, "", false, err
	}
	r.report(StateSubmitted, 0, 0)
	if err := r.wait(ctx, id, rng, resumed, since); err != nil {
		return nil, id, resumed, err
	}
	if err := hold(ctx, r.readers); err != nil {
		return nil, id, resumed, err
	}
	rows, err = r.read(ctx, id, rng)
	<-r.readers
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
// polls are timed by Meta's percent ([pollSchedule]): the first Poll.First after the submit,
// then just after the end the percent and the time elapsed foretell, at most Poll.Max apart; a
// resumed run is polled at once.
// A run whose status and percent have not changed for Poll.StallTimeout has stalled, and one
// not completed Poll.MaxRunTime after its submit is stuck: both are a [*ReportRunError]. The
// wait counts from start: Meta's answer to the submit, or the resume. The progress each poll
// sees is saved with the run, so a run polled again after a snooze or a crash is judged, and
// its polls timed, from its submit and its last progress. With an inline wait bound, a wait
// longer than it returns a [*WaitError] instead of sleeping.
func (r *reportRunner) wait(ctx context.Context, id string, rng Range, resumed bool, start time.Time) error {
	cfg := r.poll.WithDefaults()
	defer func() { r.s.Stats.JobWait.Add(int64(time.Since(start))) }()
	var lastStatus string
	lastPct, lastChange, submitted := -1.0, start, start
	known := false // the submit's time (and the last progress) saved with the run
	if e, ok := r.runs.find(rng); ok && e.ReportRunID == id && !e.Submitted.IsZero() {
		submitted, known = e.Submitted, true
		if !e.ProgressAt.IsZero() {
			lastStatus, lastPct, lastChange = e.AsyncStatus, float64(e.Percent), e.ProgressAt
		}
	}
	// With the submit's time known, the time elapsed counts from it even after a resume, and
	// the schedule extrapolates as for a run it saw from the start.
	schedule := forAccount(cfg, resumed && !known, r.s.Account)
	if known && lastPct > 0 {
		schedule.seed(lastChange.Sub(submitted), lastPct)
	}
	var delay time.Duration // a resumed run is polled at once
	if !resumed {
		delay = schedule.first() - time.Since(start) // saving the id took some of it
	}
	for {
		if r.inlineWait > 0 && delay > r.inlineWait {
			return &WaitError{ReportRunID: id, Until: time.Now().Add(delay)}
		}
		if err := backoff.Sleep(ctx, delay); err != nil {
			return err
		}
		var run adReportRun
		if err := r.s.callRun(ctx, CallPoll, id, id, nil, &run); err != nil {
			return fmt.Errorf("poll report run %s: %w", id, err)
		}
		pct, _ := run.Percent.Float64()
		now := time.Now()
		if run.Status != lastStatus || pct != lastPct {
			lastStatus, lastPct, lastChange = run.Status, pct, now
			if err := r.runs.progress(rng, run.Status, int(pct), now); err != nil {
				return err
			}
		}
		r.report(run.Status, int(pct), 0)
		switch run.Status {
		case "Job Completed":
			if !resumed || known {
				cfg.Times.Add(r.s.Account, now.Sub(submitted))
			}
			return nil
		case "Job Failed", "Job Skipped":
			re := &ReportRunError{ReportRunID: id, Status: run.Status, Percent: int(pct), Err: ErrReportRunFailed}
			if code, err := run.ErrorCode.Int64(); err == nil && code != 0 {
				sub, _ := run.ErrorSubcode.Int64()
				re.Graph = &GraphError{Code: int(code), Subcode: int(sub), Message: Scrub(run.ErrorMessage, r.s.token)}
			}
			return re
		}
		waited, still := now.Sub(submitted), now.Sub(lastChange)
		queued := run.Status == "Job Not Started" && pct == 0 // waiting for Meta, not stalled
		switch {
		case still > cfg.StallTimeout && !queued:
			return &ReportRunError{ReportRunID: id, Status: run.Status, Percent: int(pct), Err: ErrReportRunStalled, Stalled: still, Waited: waited}
		case waited > cfg.MaxRunTime:
			return &ReportRunError{ReportRunID: id, Status: run.Status, Percent: int(pct), Err: ErrReportRunStuck, Waited: waited}
		}
		delay = schedule.next(waited, pct)
	}
}

// read pages through the results with the cursor links, from a page of r.pageSize rows; a page
// Meta refuses as too large is asked for again smaller, and "not ready" (2601) after "Job
// Completed" is waited out ([decide]).
func (r *reportRunner) read(ctx context.Context, id string, rng Range) ([]records.InsightRow, error) {
	start := time.Now()
	defer func() { r.s.Stats.Paging.Add(int64(time.Since(start))) }()
	r.report(StateReading, 100, 0)
	return r.readPages(newRowParser(r.client, r.spec, rng), 100, id+"/insights", nil,
		func(page int, path string, params url.Values, limit int, pg *insightsPage) (int, error) {
			n, err := r.s.do(ctx, ask{kind: CallResults, runID: id, limit: limit}, http.MethodGet, path, params, pg)
			if err != nil {
				return n, fmt.Errorf("read report run %s page %d (limit %d): %w", id, page+1, n, err)
			}
			return n, nil
		})
}

// maxPages bounds the pages of one read: a paging that has not ended by then is a malformed
// answer (500 million rows at the default page size).
const maxPages = 1_000_000

// readPages reads an Insights result from path on, one page at a time through get, following
// the cursor links, into p's rows; each page read is reported (percent: Meta's, for the
// progress line). get asks for the page-th page (from 0) of path at limit rows and returns the
// page size it ended with (smaller when Meta refused a page as too large), which the next pages
// keep, or the error to stop with. The read ends at the first page without a next link, and
// also, counted in Stats.PagingEnded, at an empty page that still has one or at a cursor seen
// before (Meta has answered endless next links for an empty result:
// facebook/facebook-php-business-sdk#333).
func (r *reportRunner) readPages(p *rowParser, percent int, path string, params url.Values,
	get func(page int, path string, params url.Values, limit int, pg *insightsPage) (int, error)) ([]records.InsightRow, error) {
	limit := r.pageSize
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("%w: the paging did not end after %d pages", ErrBadResponse, maxPages)
		}
		var pg insightsPage
		n, err := get(page, path, params, limit, &pg)
		if err != nil {
			return nil, err
		}
		limit = n
		next, err := p.addPage(&pg)
		if err != nil {
			return nil, err
		}
		r.report(StateReading, percent, page+1)
		if next == "" {
			break
		}
		key := cursorKey(next)
		if len(pg.Data) == 0 || seen[key] {
			r.s.Stats.PagingEnded.Add(1)
			break
		}
		seen[key] = true
		path, params = next, nil
	}
	r.s.Stats.Rows.Add(int64(len(p.rows)))
	return p.rows, nil
}

// cursorKey is what identifies the page a next link points to: its after cursor, or the link
// without its limit when it has none.
func cursorKey(next string) string {
	u, err := url.Parse(next)
	if err != nil {
		return next
	}
	q := u.Query()
	if a := q.Get("after"); a != "" {
		return a
	}
	q.Del("limit")
	u.RawQuery = q.Encode()
	return u.String()
}
