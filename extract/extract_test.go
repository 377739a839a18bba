package extract_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/records"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
)

func readRows(t *testing.T, dir records.ClientDir, kind records.Kind) []records.InsightRow {
	t.Helper()
	rows, err := records.ReadParquet[records.InsightRow](dir.Report(kind))
	if err != nil {
		t.Fatalf("read %s: %v", kind, err)
	}
	return rows
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// One client-year: five report runs, at most four polls each, and exactly ceil(rows/500)
// result pages per run.
func TestClientYearCost(t *testing.T) {
	sim, url := newSim(t, graphsim.Config{Accounts: 1})
	a := sim.Accounts()[0]
	x := newExtractor(url)
	j := job(t, a, a.Token, yearRange())
	res := x.Extract(context.Background(), j, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	c := sim.Counters()
	ac := c.ByAccount[a.ID]
	if ac.ReportRuns != 5 {
		t.Errorf("report runs submitted = %d, want 5", ac.ReportRuns)
	}
	if polls := ac.Requests[graphsim.KindPoll]; polls > 4*5 {
		t.Errorf("polls = %d, want at most 4 per report run (20)", polls)
	}
	var wantPages, rows int64
	for _, k := range records.Kinds {
		n := int64(len(readRows(t, j.Dir, k)))
		rows += n
		wantPages += max(1, ceilDiv(n, 500))
	}
	if got := ac.Requests[graphsim.KindResults]; got != wantPages {
		t.Errorf("result pages = %d, want %d (ceil(rows/500) per run)", got, wantPages)
	}
	if res.Stats.Rows != rows || ac.Rows != rows {
		t.Errorf("rows: stats %d, simulator %d, staged %d", res.Stats.Rows, ac.Rows, rows)
	}
	t.Logf("client-year: %d report runs, %d polls, %d pages, %d rows, %d requests in all (old loop: 216 synchronous calls)",
		ac.ReportRuns, ac.Requests[graphsim.KindPoll], ac.Requests[graphsim.KindResults], rows, res.Stats.Requests)
}

// The staged rows equal the simulator's truth, computed without HTTP.
func TestExtractMatchesTruth(t *testing.T) {
	sim, url := newSim(t, graphsim.Config{Accounts: 2, Seed: 7})
	a := sim.Accounts()[1]
	rng := extract.Range{Since: yearRange().Since.AddDate(0, 0, 7*40), Until: asOf}
	j := job(t, a, graphsim.DemoToken, rng)
	if res := newExtractor(url).Extract(context.Background(), j, nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	type tot struct{ spend, imp, clicks int64 }
	camp := map[string]tot{} // week|campaign -> totals from the truth
	acct := map[int32]tot{}
	for d := rng.Since; !d.After(rng.Until); d = d.AddDate(0, 0, 1) {
		wk := records.DayNumber(d) - int32((records.DayNumber(d)-records.DayNumber(rng.Since))%7)
		for _, c := range sim.Campaigns(a.ID) {
			for _, ad := range c.Ads {
				f := sim.AdDay(a.ID, ad.ID, d)
				k := strings.Join([]string{string(rune(wk)), c.ID}, "|")
				x := camp[k]
				x.spend += f.SpendCents
				x.imp += f.Impressions
				x.clicks += f.Clicks
				camp[k] = x
				y := acct[wk]
				y.spend += f.SpendCents
				y.imp += f.Impressions
				y.clicks += f.Clicks
				acct[wk] = y
			}
		}
	}
	cents := func(s string) int64 {
		whole, frac, _ := strings.Cut(s, ".")
		var n int64
		for _, r := range whole + (frac + "00")[:2] {
			n = n*10 + int64(r-'0')
		}
		return n
	}
	for _, r := range readRows(t, j.Dir, records.KindCampaigns) {
		want := camp[string(rune(r.DateStart))+"|"+r.CampaignID]
		if got := (tot{cents(r.Spend), r.Impressions, r.Clicks}); got != want {
			t.Errorf("campaign %s week %s: got %+v, want %+v", r.CampaignID, records.DayTime(r.DateStart).Format(time.DateOnly), got, want)
		}
	}
	weeks := 0
	for _, r := range readRows(t, j.Dir, records.KindAccount) {
		weeks++
		want := acct[r.DateStart]
		if got := (tot{cents(r.Spend), r.Impressions, r.Clicks}); got != want {
			t.Errorf("account week %s: got %+v, want %+v", records.DayTime(r.DateStart).Format(time.DateOnly), got, want)
		}
		wantReach := sim.AccountReach(a.ID, records.DayTime(r.DateStart), records.DayTime(r.DateStop))
		if r.Reach != wantReach {
			t.Errorf("account week %s: reach %d, want %d", records.DayTime(r.DateStart).Format(time.DateOnly), r.Reach, wantReach)
		}
		if r.Frequency == "" {
			t.Errorf("account week %s: no frequency", records.DayTime(r.DateStart).Format(time.DateOnly))
		}
	}
	if weeks == 0 {
		t.Fatal("no account rows")
	}
	for wk, x := range acct {
		if x.imp == 0 {
			continue
		}
		found := false
		for _, r := range readRows(t, j.Dir, records.KindAccount) {
			found = found || r.DateStart == wk
		}
		if !found {
			t.Errorf("week %s with delivery has no account row", records.DayTime(wk).Format(time.DateOnly))
		}
	}
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name   string
		faults graphsim.Faults
		check  func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult)
	}{
		{"job fails once then resubmitted", graphsim.Faults{FailJobs: 1}, func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if c.ReportRuns != 6 {
				t.Errorf("report runs = %d, want 6 (one resubmitted)", c.ReportRuns)
			}
		}},
		{"job stuck then resubmitted", graphsim.Faults{StuckJobs: 1}, func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if c.ReportRuns != 6 {
				t.Errorf("report runs = %d, want 6 (the stuck one resubmitted once)", c.ReportRuns)
			}
		}},
		{"too large: split until it passes", graphsim.Faults{TooLargeOverWeeks: 10}, func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			// 54 weeks -> 27 -> 13/14 -> 6/7: eight ranges of at most 10 weeks per kind.
			if c.ReportRuns != 5*8 {
				t.Errorf("report runs = %d, want 40 (8 ranges per kind)", c.ReportRuns)
			}
		}},
		{"HTTP 500 every 4th request", graphsim.Faults{ServerErrorEvery: 4}, func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if res.Stats.Retries == 0 || c.ServerErrors == 0 {
				t.Errorf("retries %d, server errors %d: the fault did not fire", res.Stats.Retries, c.ServerErrors)
			}
		}},
		{"throttled every 3rd request", graphsim.Faults{ThrottleEvery: 3, RegainMinutes: 1}, func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if res.Stats.Throttled == 0 || res.Stats.ThrottleWait == 0 {
				t.Errorf("throttled %d, waited %s: the fault did not slow us", res.Stats.Throttled, res.Stats.ThrottleWait)
			}
		}},
		{"connection reset mid-body", graphsim.Faults{ResetEvery: 2}, func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if c.Resets == 0 || res.Stats.Retries == 0 {
				t.Errorf("resets %d, retries %d", c.Resets, res.Stats.Retries)
			}
		}},
		{"Job Running at 100 %", graphsim.Faults{RunningAt100: true}, nil},
	}
	// The reference: the same extraction without faults.
	sim0, url0 := newSim(t, graphsim.Config{Accounts: 1})
	a0 := sim0.Accounts()[0]
	ref := job(t, a0, a0.Token, yearRange())
	if res := newExtractor(url0).Extract(context.Background(), ref, nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, url, a, j := faultedYear(t, tc.faults)
			res := newExtractor(url).Extract(context.Background(), j, nil)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if tc.check != nil {
				tc.check(t, sim.Counters().ByAccount[a.ID], res)
			}
			sameStaged(t, j.Dir, ref.Dir, "the fault-free run")
		})
	}
}

func TestFailingClients(t *testing.T) {
	sim, url := newSim(t, graphsim.Config{Accounts: 2})
	accts := sim.Accounts()
	x := newExtractor(url)
	t.Run("job fails always", func(t *testing.T) {
		sim.SetFaults(accts[0].ID, graphsim.Faults{FailJobs: -1})
		res := x.Extract(context.Background(), job(t, accts[0], accts[0].Token, extract.Range{Since: yearRange().Since, Until: yearRange().Since.AddDate(0, 0, 13)}), nil)
		var je *extract.ReportRunError
		if !errors.As(res.Err, &je) || !errors.Is(res.Err, extract.ErrReportRunFailed) {
			t.Fatalf("err = %v, want a JobError", res.Err)
		}
		if !strings.Contains(res.Err.Error(), accts[0].Name) {
			t.Errorf("error %q does not name the client", res.Err)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		before := sim.Counters().ByAccount[accts[1].ID].Requests[graphsim.KindSubmit]
		res := x.Extract(context.Background(), job(t, accts[1], graphsim.ExpiredToken, yearRange()), nil)
		var ge *extract.GraphError
		if !errors.As(res.Err, &ge) || ge.Code != 190 || ge.Class() != extract.ClassAuth {
			t.Fatalf("err = %v, want code 190 classed auth", res.Err)
		}
		if strings.Contains(res.Err.Error(), graphsim.ExpiredToken) {
			t.Errorf("error leaks the token: %v", res.Err)
		}
		// Nothing retried: one refused submit per kind at most.
		if n := sim.Counters().ByAccount[accts[1].ID].Requests[graphsim.KindSubmit] - before; n > 5 {
			t.Errorf("%d submits with a refused token, want at most 5", n)
		}
	})
	t.Run("token without the account", func(t *testing.T) {
		res := x.Extract(context.Background(), job(t, accts[1], accts[0].Token, yearRange()), nil)
		var ge *extract.GraphError
		if !errors.As(res.Err, &ge) || ge.Code != 200 {
			t.Fatalf("err = %v, want code 200", res.Err)
		}
	})
}

// Killed after the submits: the rerun polls the saved report runs and submits nothing new.
func TestResumePollsSavedJobs(t *testing.T) {
	sim, url := newSim(t, graphsim.Config{Accounts: 1, JobDuration: 600 * time.Millisecond})
	a := sim.Accounts()[0]
	j := job(t, a, a.Token, yearRange())
	crashAfterPolls(t, url, j)
	for _, k := range records.Kinds {
		if _, err := os.Stat(j.Dir.Report(k)); err == nil {
			t.Fatalf("%s staged before the crash; the test needs slower jobs", k)
		}
		b, err := os.ReadFile(j.Dir.ReportRuns(k))
		if err != nil {
			t.Fatalf("no saved job for %s: %v", k, err)
		}
		if strings.Contains(string(b), a.Token) {
			t.Fatalf("%s.job.json holds the token", k)
		}
	}
	submits := sim.Counters().ByAccount[a.ID].ReportRuns
	res := newExtractor(url).Extract(context.Background(), j, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if n := sim.Counters().ByAccount[a.ID].ReportRuns - submits; n != 0 {
		t.Errorf("rerun submitted %d new report runs, want 0", n)
	}
	if res.Stats.Submits != 0 {
		t.Errorf("rerun stats: %d submits", res.Stats.Submits)
	}
	// A third run finds every file staged and makes no request at all.
	res = newExtractor(url).Extract(context.Background(), j, nil)
	if res.Err != nil || res.Stats.Requests != 0 {
		t.Errorf("third run: err %v, %d requests, want none", res.Err, res.Stats.Requests)
	}
	entries, _ := filepath.Glob(filepath.Join(string(j.Dir), ".*tmp*"))
	if len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// Splitting a range into many report runs keeps at most JobsPerAccount of them in flight.
func TestReportRunsInFlightBound(t *testing.T) {
	sim, url := newSim(t, graphsim.Config{Accounts: 1})
	a := sim.Accounts()[0]
	sim.SetFaults(a.ID, graphsim.Faults{TooLargeOverWeeks: 4})
	x := newExtractor(url)
	x.JobsPerAccount = 3
	j := job(t, a, a.Token, extract.Range{Since: yearRange().Since, Until: yearRange().Since.AddDate(0, 0, 7*16-1)})
	if res := x.Extract(context.Background(), j, nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	c := sim.Counters().ByAccount[a.ID]
	if c.PeakRunning > 3 || c.PeakRunning < 2 {
		t.Errorf("peak running report runs %d, want 2..3 (the bound)", c.PeakRunning)
	}
	if c.ReportRuns < 5*4 {
		t.Errorf("%d report runs: the ranges were not split to 4 weeks", c.ReportRuns)
	}
}

// Meta's lag on a report run's own endpoints, against the simulator: an error naming the run on
// its first polls or between its pages, or a field that "wasn't there while creating the report
// run", is waited out on the same request; nothing is resubmitted or split, and the rows are the
// fault-free run's. A run Meta never finds is resubmitted once; lost again, the client fails.
func TestRunLagFaults(t *testing.T) {
	const pageSize = 100 // several pages per report, so that the page faults fire
	// How long a lost run is retried: short, so that the test is quick. The lag that clears is
	// retried for newExtractor's 10 s, a bound it never reaches, however slow the machine.
	const lostAfter = 300 * time.Millisecond
	sim0, url0 := newSim(t, graphsim.Config{Accounts: 1})
	a0 := sim0.Accounts()[0]
	ref := job(t, a0, a0.Token, yearRange())
	x0 := newExtractor(url0)
	x0.PageSize = pageSize
	if res := x0.Extract(context.Background(), ref, nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	cases := []struct {
		name     string
		faults   graphsim.Faults
		runs     int64 // report runs submitted
		lagged   int64 // denials answered, at least
		statuses []string
	}{
		{"first two polls of every run name it unknown", graphsim.Faults{LagPolls: 2}, 5, 10, nil},
		{"pages after the first name the run unknown", graphsim.Faults{LagPages: 2}, 5, 2, nil},
		{"a field that wasn't there while creating the report run", graphsim.Faults{MissingFieldPages: 2}, 5, 2, nil},
		{"the first run is never found: resubmitted once", graphsim.Faults{LostRuns: 1}, 6, 1, []string{"expired", "completed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, url, a, j := faultedYear(t, tc.faults)
			x := newExtractor(url)
			x.PageSize = pageSize
			if tc.faults.LostRuns != 0 {
				x.Client.Retry.RunLag = lostAfter
			}
			res := x.Extract(context.Background(), j, nil)
			if res.Err != nil {
				t.Fatalf("err %v, want the client extracted", res.Err)
			}
			c := sim.Counters().ByAccount[a.ID]
			if c.ReportRuns != tc.runs || c.Lagged < tc.lagged || res.Stats.Lagged < tc.lagged {
				t.Errorf("%d report runs, %d denials (%d retried); want %d runs, at least %d", c.ReportRuns, c.Lagged, res.Stats.Lagged, tc.runs, tc.lagged)
			}
			for _, k := range records.Kinds {
				gj, _ := json.Marshal(readRows(t, j.Dir, k))
				wj, _ := json.Marshal(readRows(t, ref.Dir, k))
				if string(gj) != string(wj) {
					t.Errorf("%s: the rows differ from the fault-free run's", k)
				}
			}
			if tc.statuses != nil {
				var f extract.ReportRunFile
				found := false
				for _, k := range records.Kinds {
					b, _ := os.ReadFile(j.Dir.ReportRuns(k))
					_ = json.Unmarshal(b, &f)
					if len(f.Runs) == 1 && len(f.Runs[0].History) == 1 {
						found = true
						got := []string{strings.SplitN(f.Runs[0].History[0], ":", 2)[1], f.Runs[0].Status}
						if strings.Join(got, ",") != strings.Join(tc.statuses, ",") {
							t.Errorf("%s.job.json: %v, want %v", k, got, tc.statuses)
						}
					}
				}
				if !found {
					t.Error("no kind records the resubmitted run")
				}
			}
		})
	}
	t.Run("every run is lost: the client fails saying so", func(t *testing.T) {
		t.Parallel()
		sim, url := newSim(t, graphsim.Config{Accounts: 1})
		a := sim.Accounts()[0]
		sim.SetFaults(a.ID, graphsim.Faults{LostRuns: -1})
		x := newExtractor(url)
		x.Client.Retry.RunLag = lostAfter
		res := x.Extract(context.Background(), job(t, a, a.Token, yearRange()), nil)
		if !errors.Is(res.Err, extract.ErrRunUnknown) || !strings.Contains(res.Err.Error(), "resubmitted") || !strings.Contains(res.Err.Error(), a.Name) {
			t.Fatalf("err %v, want ErrRunUnknown naming the client and the resubmit", res.Err)
		}
		// Each kind resubmits once at most; the first kind to fail cancels the others.
		if n := sim.Counters().ByAccount[a.ID].ReportRuns; n < 6 || n > 10 {
			t.Errorf("%d report runs, want 6 to 10 (one resubmit per kind at most)", n)
		}
	})
}

// A run that keeps progressing but outlives PollConfig.MaxRunTime (--job-max) is stuck: it is
// resubmitted once, then the client fails saying for how long it ran.
func TestJobMax(t *testing.T) {
	sim, url := newSim(t, graphsim.Config{Accounts: 1})
	a := sim.Accounts()[0]
	sim.SetFaults(a.ID, graphsim.Faults{JobDuration: 2 * time.Second})
	x := newExtractor(url)
	x.Poll = extract.PollConfig{First: 20 * time.Millisecond, Max: 50 * time.Millisecond, StallTimeout: time.Second, MaxRunTime: 300 * time.Millisecond}
	rng := extract.Range{Since: yearRange().Since, Until: yearRange().Since.AddDate(0, 0, 13)}
	res := x.Extract(context.Background(), job(t, a, a.Token, rng), nil)
	if !errors.Is(res.Err, extract.ErrReportRunStuck) || errors.Is(res.Err, extract.ErrReportRunStalled) {
		t.Fatalf("err = %v, want stuck (not stalled: the run progresses)", res.Err)
	}
	if !regexp.MustCompile(`stuck: not completed after \S+ \("Job (Started|Running)" at \d+%\); resubmitted once after report run \d+ got stuck`).MatchString(res.Err.Error()) {
		t.Errorf("message %q", res.Err)
	}
	// Stuck ranges are resubmitted once, never split.
	if n := sim.Counters().ByAccount[a.ID].ReportRuns; n < 6 || n > 10 {
		t.Errorf("%d report runs, want 6 to 10 (one resubmit per kind at most, no split)", n)
	}
}

// Extractor.Readers bounds the report runs whose results are read at once, every client
// together, while all of them wait for Meta at once.
//
// Neither half depends on timing. The simulator's clock stands still until every client's
// report runs are submitted, so no run can complete before all of them wait together: code that
// made a client wait for a reader slot (or for another client) before submitting would never get
// there. The pages read at once are counted in the clients' transport, from the request to the
// closing of its body, which the extractor does inside its reader slot; counted in the server,
// a handler still returning after its client had the whole body could overlap the next
// reader's request and count a page too many.
func TestReadersBound(t *testing.T) {
	const runs = 6 * 5 // six clients, five report runs each (records.Kinds, one year in one run)
	t0 := time.Now()
	var started atomic.Pointer[time.Time] // when the clock was let go
	release := func() {
		now := time.Now()
		started.CompareAndSwap(nil, &now)
	}
	cfg := graphsim.Config{Accounts: 6, JobDuration: 100 * time.Millisecond, Latency: 5 * time.Millisecond,
		Now: func() time.Time {
			if s := started.Load(); s != nil {
				return t0.Add(time.Since(*s))
			}
			return t0
		}}
	sim := graphsim.New(cfg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		if started.Load() == nil && submitted(sim.Counters()) >= runs {
			release()
		}
	}))
	t.Cleanup(srv.Close)
	// A deadlock guard, not a measure: code that did not submit every run while none can
	// complete would hang here; past it the clock runs and the check below says so.
	guard := time.AfterFunc(2*time.Minute, release)
	defer guard.Stop()

	x := newExtractor(srv.URL)
	x.Readers = 2
	x.PageSize = 50
	// The clock standing still, polls see no progress: no stall or stuck verdict before it runs.
	x.Poll.StallTimeout, x.Poll.MaxRunTime = time.Hour, time.Hour
	pages := &pageCounter{base: x.Client.HTTP.Transport}
	x.Client.HTTP.Transport = pages
	var wg sync.WaitGroup
	for _, a := range sim.Accounts() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := x.Extract(context.Background(), job(t, a, a.Token, yearRange()), nil); res.Err != nil {
				t.Error(res.Err)
			}
		}()
	}
	wg.Wait()
	c := sim.Counters()
	if c.PeakRunning != runs || submitted(c) != runs {
		t.Errorf("%d report runs submitted, %d at once before any could complete; want %d and %d: the clients did not wait for Meta together",
			submitted(c), c.PeakRunning, runs, runs)
	}
	// Every page served went through a client's transport (a retried one may count twice).
	if served := c.Requests[graphsim.KindResults]; served == 0 || pages.total < served {
		t.Errorf("%d result pages counted by the clients, %d served", pages.total, served)
	}
	if pages.peak > 2 {
		t.Errorf("%d result pages read at once, want at most 2 (Readers)", pages.peak)
	}
}

// submitted is the number of report runs every account submitted.
func submitted(c graphsim.Counters) int64 {
	var n int64
	for _, a := range c.ByAccount {
		n += a.ReportRuns
	}
	return n
}

// pageCounter counts the report runs' result pages being read at once through it: from the
// request to the closing of the response's body (or the request's failure).
type pageCounter struct {
	base                 http.RoundTripper
	mu                   sync.Mutex
	reading, peak, total int64
}

func (p *pageCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/insights") || strings.Contains(r.URL.Path, "act_") {
		return p.base.RoundTrip(r)
	}
	p.mu.Lock()
	p.reading++
	p.total++
	p.peak = max(p.peak, p.reading)
	p.mu.Unlock()
	done := sync.OnceFunc(func() { p.mu.Lock(); p.reading--; p.mu.Unlock() })
	resp, err := p.base.RoundTrip(r)
	if err != nil {
		done()
		return nil, err
	}
	resp.Body = &closeHook{ReadCloser: resp.Body, done: done}
	return resp, nil
}

type closeHook struct {
	io.ReadCloser
	done func()
}

func (c *closeHook) Close() error {
	err := c.ReadCloser.Close()
	c.done()
	return err
}

// While Meta throttles the ad account, its kinds say so and since when (the live lines, the
// log): Progress.State "throttled" with ThrottledSince; once Meta answers again the kinds go on
// and the rows are the truth's.
func TestThrottledSinceIsShown(t *testing.T) {
	sim, url := newSim(t, graphsim.Config{Accounts: 1})
	a := sim.Accounts()[0]
	sim.SetFaults(a.ID, graphsim.Faults{ThrottleFor: 300 * time.Millisecond})
	x := newExtractor(url)
	x.Throttle.Cooldown = 20 * time.Millisecond
	var mu sync.Mutex
	var throttled []extract.Progress
	start := time.Now()
	res := x.Extract(context.Background(), job(t, a, graphsim.DemoToken, extract.Range{Since: asOf.AddDate(0, 0, -13), Until: asOf}), func(p extract.Progress) {
		if p.State == extract.StateThrottled {
			mu.Lock()
			throttled = append(throttled, p)
			mu.Unlock()
		}
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(throttled) == 0 {
		t.Fatal("no kind said it was throttled")
	}
	for _, p := range throttled {
		if p.ThrottledSince.Before(start) || p.ThrottledSince.After(time.Now()) {
			t.Errorf("%s throttled since %v: not when Meta began throttling", p.Kind, p.ThrottledSince)
		}
	}
}
