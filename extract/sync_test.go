package extract_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/records"
)

// dailyRange is six weekly buckets ending at asOf: what a daily run asks for.
func dailyRange() extract.Range {
	return extract.Range{Since: asOf.AddDate(0, 0, -6-7*5), Until: asOf}
}

// syncExtractor reads ranges of up to 8 weeks synchronously.
func syncExtractor(url string) *extract.Extractor {
	x := newExtractor(url)
	x.Sync = extract.SyncConfig{Weeks: extract.DefaultSyncWeeks}
	return x
}

// asyncRows is what report runs give for the range: the rows a synchronous read must equal.
func asyncRows(t *testing.T, a graphsim.Account, rng extract.Range, cfg graphsim.Config) map[records.Kind][]records.InsightRow {
	t.Helper()
	_, url := newSim(t, cfg)
	j := job(t, a, graphsim.DemoToken, rng)
	if res := newExtractor(url).Extract(context.Background(), j, nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	out := map[records.Kind][]records.InsightRow{}
	for _, k := range records.Kinds {
		out[k] = readRows(t, j.Dir, k)
	}
	return out
}

func sameRows(t *testing.T, dir records.ClientDir, want map[records.Kind][]records.InsightRow) {
	t.Helper()
	for _, k := range records.Kinds {
		got := readRows(t, dir, k)
		if len(got) == 0 && k != records.KindAdRelevance {
			t.Errorf("%s: no rows", k)
		}
		if !reflect.DeepEqual(got, want[k]) {
			t.Errorf("%s: %d rows read synchronously differ from the %d of report runs", k, len(got), len(want[k]))
		}
	}
}

// A daily run's range is read synchronously: one request per kind, no report run, no poll, no
// saved report run, and the same rows as report runs give.
func TestSyncReadsAShortRange(t *testing.T) {
	cfg := graphsim.Config{Accounts: 1, Seed: 5}
	sim, url := newSim(t, cfg)
	a := sim.Accounts()[0]
	j := job(t, a, a.Token, dailyRange())
	res := syncExtractor(url).Extract(context.Background(), j, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	c := sim.Counters().ByAccount[a.ID]
	if c.Requests[graphsim.KindSync] != 5 || c.ReportRuns != 0 || c.Requests[graphsim.KindPoll] != 0 || c.Requests[graphsim.KindResults] != 0 {
		t.Errorf("requests %v, %d report runs: want 5 synchronous reads and nothing else", c.Requests, c.ReportRuns)
	}
	if res.Stats.Syncs != 5 || res.Stats.Requests != 5 || res.Stats.Submits != 0 || res.Stats.Fallbacks != 0 {
		t.Errorf("stats %+v", res.Stats)
	}
	for _, k := range records.Kinds {
		if kr := res.Kinds[k]; !kr.Sync || kr.Fallback != "" {
			t.Errorf("%s: %+v, want read synchronously", k, kr)
		}
		if _, err := os.Stat(j.Dir.ReportRuns(k)); !os.IsNotExist(err) {
			t.Errorf("%s.job.json written by a synchronous read (%v)", k, err)
		}
	}
	sameRows(t, j.Dir, asyncRows(t, a, dailyRange(), cfg))
}

// A longer range, or no threshold at all, goes by report runs.
func TestSyncOnlyForShortRanges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		weeks int
		rng   extract.Range
	}{
		{"9 weeks, threshold 8", 8, extract.Range{Since: asOf.AddDate(0, 0, -6-7*8), Until: asOf}},
		{"6 weeks, threshold 0", 0, dailyRange()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, url := newSim(t, graphsim.Config{Accounts: 1})
			a := sim.Accounts()[0]
			x := newExtractor(url)
			x.Sync.Weeks = tc.weeks
			if res := x.Extract(context.Background(), job(t, a, a.Token, tc.rng), nil); res.Err != nil {
				t.Fatal(res.Err)
			}
			if c := sim.Counters().ByAccount[a.ID]; c.Requests[graphsim.KindSync] != 0 || c.ReportRuns != 5 {
				t.Errorf("requests %v, %d report runs: want 5 report runs", c.Requests, c.ReportRuns)
			}
		})
	}
}

// A synchronous read is paged with the cursor links like a report run's results.
func TestSyncPaging(t *testing.T) {
	cfg := graphsim.Config{Accounts: 1, Seed: 5}
	sim, url := newSim(t, cfg)
	a := sim.Accounts()[0]
	x := syncExtractor(url)
	x.PageSize = 7
	x.Sync.MaxPages = 1000
	j := job(t, a, a.Token, dailyRange())
	res := x.Extract(context.Background(), j, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var want int64
	for _, k := range records.Kinds {
		want += max(1, ceilDiv(int64(len(readRows(t, j.Dir, k))), 7))
	}
	if c := sim.Counters().ByAccount[a.ID]; c.Requests[graphsim.KindSync] != want || want <= 5 || c.ReportRuns != 0 {
		t.Errorf("%d synchronous pages, want %d (ceil(rows/7) per kind), and %d report runs", c.Requests[graphsim.KindSync], want, c.ReportRuns)
	}
	sameRows(t, j.Dir, asyncRows(t, a, dailyRange(), cfg))
}

// What Meta answers a synchronous read decides: a request fault is retried like any call; "too
// much data", a timeout or more pages than the bound give way to report runs of the same
// range; an error that would fail a report run fails the client.
func TestSyncFaults(t *testing.T) {
	cfg := graphsim.Config{Accounts: 1, Seed: 5}
	cases := []struct {
		name     string
		faults   graphsim.Faults
		tune     func(x *extract.Extractor)
		fallback string // "" for none
		check    func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult)
	}{
		{"server errors: retried", graphsim.Faults{ServerErrorEvery: 2}, nil, "", func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if c.ServerErrors == 0 || res.Stats.Retries == 0 || c.ReportRuns != 0 {
				t.Errorf("%d server errors, %d retries, %d report runs", c.ServerErrors, res.Stats.Retries, c.ReportRuns)
			}
		}},
		{"throttled: waited out", graphsim.Faults{ThrottleEvery: 3}, nil, "", func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if c.Throttled == 0 || res.Stats.Throttled != c.Throttled || c.ReportRuns != 0 {
				t.Errorf("%d throttled answers, %d seen, %d report runs", c.Throttled, res.Stats.Throttled, c.ReportRuns)
			}
		}},
		{"pages cut mid-body: read again", graphsim.Faults{ResetEvery: 2}, nil, "", func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if c.Resets == 0 || c.ReportRuns != 0 {
				t.Errorf("%d resets, %d report runs", c.Resets, c.ReportRuns)
			}
		}},
		{"too large for a synchronous read", graphsim.Faults{SyncTooLargeOverWeeks: 3}, nil, extract.FallbackTooLarge, func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if c.Requests[graphsim.KindSync] != 5 || c.ReportRuns != 5 {
				t.Errorf("%d synchronous reads, %d report runs: want 5 and 5", c.Requests[graphsim.KindSync], c.ReportRuns)
			}
		}},
		{"too large for both: report runs split", graphsim.Faults{TooLargeOverWeeks: 3}, nil, extract.FallbackTooLarge, func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
			if c.Requests[graphsim.KindSync] != 5 || c.ReportRuns != 10 {
				t.Errorf("%d synchronous reads, %d report runs: want 5, and 10 (each range in halves)", c.Requests[graphsim.KindSync], c.ReportRuns)
			}
		}},
		{"timed out", graphsim.Faults{SlowSync: time.Second}, func(x *extract.Extractor) { x.Sync.Timeout = 100 * time.Millisecond }, extract.FallbackTimeout,
			func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
				// Not retried: one synchronous request per kind, then a report run.
				if res.Stats.Syncs != 5 || c.ReportRuns != 5 {
					t.Errorf("%d synchronous requests, %d report runs: want 5 and 5", res.Stats.Syncs, c.ReportRuns)
				}
			}},
		{"more pages than the bound", graphsim.Faults{}, func(x *extract.Extractor) { x.PageSize, x.Sync.MaxPages = 5, 2 }, extract.FallbackPages,
			func(t *testing.T, c graphsim.AccountCounters, res extract.ClientResult) {
				// Every kind has more than 10 rows but the account report (a row a week with
				// delivery: 1 or 2 pages).
				acct := ceilDiv(int64(res.Kinds[records.KindAccount].Rows), 5)
				if res.Stats.Fallbacks != 4 || c.ReportRuns != 4 || res.Stats.Syncs != acct+4*2 || !res.Kinds[records.KindAccount].Sync {
					t.Errorf("%d fallbacks, %d report runs, %d synchronous requests: want 4, 4 and %d (2 pages per other kind)", res.Stats.Fallbacks, c.ReportRuns, res.Stats.Syncs, acct+8)
				}
			}},
	}
	want := map[records.Kind][]records.InsightRow(nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, url := newSim(t, cfg)
			a := sim.Accounts()[0]
			if want == nil {
				want = asyncRows(t, a, dailyRange(), cfg)
			}
			sim.SetFaults(a.ID, tc.faults)
			x := syncExtractor(url)
			if tc.tune != nil {
				tc.tune(x)
			}
			j := job(t, a, a.Token, dailyRange())
			res := x.Extract(context.Background(), j, nil)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			for _, k := range records.Kinds {
				kr := res.Kinds[k]
				fallback := tc.fallback
				if fallback == extract.FallbackPages && k == records.KindAccount {
					fallback = "" // its few rows fit in the pages allowed
				}
				if kr.Sync != (fallback == "") || kr.Fallback != fallback {
					t.Errorf("%s: %+v, want fallback %q", k, kr, fallback)
				}
			}
			tc.check(t, sim.Counters().ByAccount[a.ID], res)
			sameRows(t, j.Dir, want)
		})
	}
	t.Run("expired token: the client fails", func(t *testing.T) {
		sim, url := newSim(t, cfg)
		a := sim.Accounts()[0]
		res := syncExtractor(url).Extract(context.Background(), job(t, a, graphsim.ExpiredToken, dailyRange()), nil)
		var ge *extract.GraphError
		if !errors.As(res.Err, &ge) || ge.Code != 190 {
			t.Fatalf("err = %v, want code 190", res.Err)
		}
		if c := sim.Counters(); c.Requests[graphsim.KindSubmit] != 0 {
			t.Errorf("%d report runs submitted after a refused token", c.Requests[graphsim.KindSubmit])
		}
	})
}

// A range whose report run was saved by a crashed run is resumed by polling that run, never
// read synchronously.
func TestSyncNotForSavedReportRuns(t *testing.T) {
	sim, url := newSim(t, graphsim.Config{Accounts: 1, JobDuration: 600 * time.Millisecond})
	a := sim.Accounts()[0]
	j := job(t, a, a.Token, dailyRange())
	crashAfterPolls(t, url, j)
	res := syncExtractor(url).Extract(context.Background(), j, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if c := sim.Counters().ByAccount[a.ID]; c.Requests[graphsim.KindSync] != 0 || c.ReportRuns != 5 {
		t.Errorf("resume: %d synchronous reads, %d report runs in all: want 0 and the 5 saved ones", c.Requests[graphsim.KindSync], c.ReportRuns)
	}
}
