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
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// ReportSpec is what one report kind asks Meta for.
type ReportSpec struct {
	Kind       Kind
	Level      string
	Breakdowns []string
	Fields     []string
}

// Specs are the five report kinds of DESIGN.md.
var Specs = map[Kind]ReportSpec{
	KindAccount: {Kind: KindAccount, Level: "account",
		Fields: []string{"spend", "impressions", "clicks", "reach", "frequency"}},
	KindCampaigns: {Kind: KindCampaigns, Level: "campaign",
		Fields: []string{"campaign_id", "campaign_name", "spend", "impressions", "clicks", "reach", "actions"}},
	KindPlacements: {Kind: KindPlacements, Level: "account", Breakdowns: []string{"publisher_platform", "platform_position"},
		Fields: []string{"spend", "impressions", "clicks"}},
	KindDemographics: {Kind: KindDemographics, Level: "account", Breakdowns: []string{"age", "gender"},
		Fields: []string{"spend", "impressions", "clicks"}},
	KindAdRelevance: {Kind: KindAdRelevance, Level: "ad",
		Fields: []string{"ad_id", "ad_name", "campaign_id", "quality_ranking", "engagement_rate_ranking",
			"conversion_rate_ranking", "spend", "impressions", "clicks"}},
}

// Range is an inclusive range of account-time-zone dates; Since is a Monday.
type Range struct {
	Since time.Time
	Until time.Time
}

// Weeks counts the weekly buckets in the range (the last may be partial).
func (r Range) Weeks() int { return int(r.Until.Sub(r.Since).Hours()/24)/7 + 1 }

func (r Range) String() string {
	return r.Since.Format(time.DateOnly) + ".." + r.Until.Format(time.DateOnly)
}

// split cuts the range in two on a week boundary.
func (r Range) split() (Range, Range) {
	half := r.Weeks() / 2
	mid := r.Since.AddDate(0, 0, 7*half)
	return Range{r.Since, mid.AddDate(0, 0, -1)}, Range{mid, r.Until}
}

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
type ProgressFunc func(kind Kind, status string, percent int)

// reportRunner fetches one report kind for one client: submit, save the id, poll, page, split.
type reportRunner struct {
	s        *Session
	spec     ReportSpec
	client   string // the client's name, for errors
	poll     PollConfig
	pageSize int
	jobs     *jobFile
	slots    chan struct{} // bounds the account's report runs in flight
	progress ProgressFunc
}

// fetch returns the rows of rng, splitting it when Meta says it is too large.
func (r *reportRunner) fetch(ctx context.Context, rng Range) ([]InsightRow, error) {
	if e, ok := r.jobs.find(rng); ok && e.Status == jobSplit {
		return r.fetchSplit(ctx, rng)
	}
	failures := 0
	for {
		rows, id, resumed, err := r.attempt(ctx, rng)
		if err != nil && id == "" {
			if ClassOf(err) == ClassTooLarge && rng.Weeks() > 1 {
				if err := r.jobs.set(rng, "", jobSplit); err != nil {
					return nil, err
				}
				return r.fetchSplit(ctx, rng)
			}
			return nil, err
		}
		if err == nil {
			return rows, r.jobs.set(rng, id, jobCompleted)
		}
		var ge *GraphError
		var je *JobError
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case resumed && errors.As(err, &ge) && ge.Class() == ClassFatal:
			// The saved run is gone (expired or unknown): submit a new one.
			if err := r.jobs.set(rng, id, jobExpired); err != nil {
				return nil, err
			}
			continue
		case errors.As(err, &je):
			tooLarge := je.Graph != nil && je.Graph.Class() == ClassTooLarge
			status := jobFailed
			if errors.Is(err, ErrJobStuck) {
				status = jobStuck
			}
			if serr := r.jobs.set(rng, id, status); serr != nil {
				return nil, serr
			}
			failures++
			if !tooLarge && failures == 1 {
				continue // resubmit once
			}
			if rng.Weeks() > 1 && !errors.Is(err, ErrJobStuck) { // a failing or too-large range: split it
				if err := r.jobs.set(rng, "", jobSplit); err != nil {
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
func (r *reportRunner) fetchSplit(ctx context.Context, rng Range) ([]InsightRow, error) {
	a, b := rng.split()
	var ra, rb []InsightRow
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
	if e, ok := r.jobs.find(rng); ok && e.ReportRunID != "" && (e.Status == jobSubmitted || e.Status == jobCompleted) {
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
	if err := r.jobs.set(rng, id, jobSubmitted); err != nil {
		return "", false, err
	}
	return id, false, nil
}

// attempt submits (or resumes) one report run of rng, waits for it and reads its rows, holding
// one of the account's slots throughout, so the runs in flight per account stay bounded. id is
// "" when no report run was started.
func (r *reportRunner) attempt(ctx context.Context, rng Range) (rows []InsightRow, id string, resumed bool, err error) {
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

// wait polls the report run until it is completed, backing off from the first wait up to the
// cap, judging by async_status (not percent). A resumed job is polled at once.
func (r *reportRunner) wait(ctx context.Context, id string, resumed bool) error {
	cfg := r.poll.withDefaults()
	start := time.Now()
	defer func() { r.s.Stats.JobWait.Add(int64(time.Since(start))) }()
	delay := cfg.First
	if resumed {
		delay = 0
	}
	for {
		if err := sleep(ctx, delay); err != nil {
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
			je := &JobError{ReportRunID: id, Status: run.Status, Err: ErrJobFailed}
			if code, err := run.ErrorCode.Int64(); err == nil && code != 0 {
				sub, _ := run.ErrorSubcode.Int64()
				je.Graph = &GraphError{Code: int(code), Subcode: int(sub), Message: Scrub(run.ErrorMessage, r.s.token)}
			}
			return je
		}
		elapsed := time.Since(start)
		if elapsed > cfg.Timeout || (pct == 0 && elapsed > cfg.StartTimeout) {
			return &JobError{ReportRunID: id, Status: fmt.Sprintf("%s at %d%% after %s", run.Status, int(pct), elapsed.Round(time.Second)), Err: ErrJobStuck}
		}
		if delay == 0 {
			delay = cfg.First
		} else {
			delay = min(delay*2, cfg.Max)
		}
	}
}

// insightsPage is one page of results.
type insightsPage struct {
	Data   []map[string]json.RawMessage `json:"data"`
	Paging struct {
		Next string `json:"next"`
	} `json:"paging"`
}

// read pages through the results with the cursor links; 2601 (read too early) waits and retries.
func (r *reportRunner) read(ctx context.Context, id string, rng Range) ([]InsightRow, error) {
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
			if err := sleep(ctx, cfg.NotReadyWait); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read report run %s page %d: %w", id, page+1, err)
		}
		for _, raw := range pg.Data {
			if err := p.add(raw); err != nil {
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

// Job statuses in <kind>.job.json.
const (
	jobSubmitted = "submitted"
	jobCompleted = "completed"
	jobFailed    = "failed"
	jobStuck     = "stuck"
	jobExpired   = "expired"
	jobSplit     = "split"
)

// JobEntry is one report run (or one split range) in <kind>.job.json.
type JobEntry struct {
	Since       string    `json:"since"`
	Until       string    `json:"until"`
	ReportRunID string    `json:"report_run_id,omitempty"`
	Status      string    `json:"status"`
	Updated     time.Time `json:"updated"`
	History     []string  `json:"history,omitempty"` // earlier report_run_id:status of this range
}

// JobFileContent is the content of <kind>.job.json.
type JobFileContent struct {
	Kind Kind       `json:"kind"`
	Jobs []JobEntry `json:"jobs"`
}

// jobFile keeps <kind>.job.json in step with every submit, so a crashed run polls its saved
// report runs again instead of submitting new ones.
type jobFile struct {
	path string
	mu   sync.Mutex
	c    JobFileContent
}

func openJobFile(path string, kind Kind) (*jobFile, error) {
	j := &jobFile{path: path, c: JobFileContent{Kind: kind}}
	b, err := readFileIfExists(path)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if err := json.Unmarshal(b, &j.c); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return j, nil
}

func (j *jobFile) find(rng Range) (JobEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, u := rng.Since.Format(time.DateOnly), rng.Until.Format(time.DateOnly)
	for _, e := range j.c.Jobs {
		if e.Since == s && e.Until == u {
			return e, true
		}
	}
	return JobEntry{}, false
}

func (j *jobFile) set(rng Range, id, status string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, u := rng.Since.Format(time.DateOnly), rng.Until.Format(time.DateOnly)
	now := time.Now().UTC()
	found := false
	for i := range j.c.Jobs {
		e := &j.c.Jobs[i]
		if e.Since == s && e.Until == u {
			if e.ReportRunID != "" && e.ReportRunID != id {
				e.History = append(e.History, e.ReportRunID+":"+e.Status)
			}
			e.ReportRunID, e.Status, e.Updated = id, status, now
			found = true
		}
	}
	if !found {
		j.c.Jobs = append(j.c.Jobs, JobEntry{Since: s, Until: u, ReportRunID: id, Status: status, Updated: now})
	}
	b, err := json.MarshalIndent(j.c, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(j.path, append(b, '\n'))
}
