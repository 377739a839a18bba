package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// requestKinds are the simulator's request kinds, in the order the report lists them.
var requestKinds = []string{graphsim.KindAccount, graphsim.KindSync, graphsim.KindSubmit, graphsim.KindPoll, graphsim.KindResults, graphsim.KindOther}

// BenchmarkDaily is the job people run every day: five or six weeks per client (the database
// says yesterday's run made everything before them final), 20 and 100 clients, on the
// Meta-like model divided by 10. Side by side: the old loop (sequential; at 100 clients
// extrapolated from 20 unless BENCH_OLD_LOOP_100=1, since it is strictly sequential), its
// planned fix (the same calls, Parallel at once), metapipe with the product's defaults
// (synchronous reads, --concurrency auto), and metapipe with report runs only
// (--sync-weeks 0).
func BenchmarkDaily(b *testing.B) {
	m := model{10}
	for _, n := range []int{20, 100} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			if n == 20 || os.Getenv("BENCH_OLD_LOOP_100") == "1" {
				b.Run("old-loop", func(b *testing.B) { benchOldLoop(b, m, n, true, 0) })
			}
			b.Run("parallel-sync", func(b *testing.B) { benchOldLoop(b, m, n, true, Parallel) })
			b.Run("metapipe", func(b *testing.B) { benchMetapipe(b, m, n, true, nil) })
			b.Run("metapipe-report-runs", func(b *testing.B) {
				benchMetapipe(b, m, n, true, func(c *pipeline.Config) { c.Sync.Weeks = extract.SyncNever })
			})
		})
	}
}

// BenchmarkFirstRun is a first run: 54 weeks per client, on the Meta-like model divided by 20
// (20 and 100 clients) and not divided at all (3 clients: the poll timing at the real scale).
// Side by side: the old loop (at ÷20 only: 20 clients, 100 extrapolated unless
// BENCH_OLD_LOOP_100=1), its planned fix, and metapipe with the product's defaults.
func BenchmarkFirstRun(b *testing.B) {
	for _, c := range []struct {
		m model
		n int
	}{{model{20}, 20}, {model{20}, 100}, {model{1}, 3}} {
		b.Run(fmt.Sprintf("scale=%d/clients=%d", c.m.scale, c.n), func(b *testing.B) {
			if c.m.scale > 1 && (c.n == 20 || os.Getenv("BENCH_OLD_LOOP_100") == "1") {
				b.Run("old-loop", func(b *testing.B) { benchOldLoop(b, c.m, c.n, false, 0) })
			}
			b.Run("parallel-sync", func(b *testing.B) { benchOldLoop(b, c.m, c.n, false, Parallel) })
			b.Run("metapipe", func(b *testing.B) { benchMetapipe(b, c.m, c.n, false, nil) })
		})
	}
}

// reportRequests reports the simulator's requests, in all and by kind (req_<kind>), and per
// client.
func reportRequests(b *testing.B, c graphsim.Counters, n int) {
	total := sum(c.Requests)
	b.ReportMetric(float64(total), "requests")
	b.ReportMetric(float64(total)/float64(n), "req/client")
	for _, k := range requestKinds {
		b.ReportMetric(float64(c.Requests[k]), "req_"+k)
	}
	b.ReportMetric(float64(c.PeakInFlight), "peak_inflight")
}

// benchOldLoop runs the old loop (parallel 0) or its planned fix over n clients: the daily
// run's weeks, or the 54 weeks of a first run.
func benchOldLoop(b *testing.B, m model, n int, daily bool, parallel int) {
	ctx := context.Background()
	since := horizon()
	if daily {
		since = dailySince()
	}
	var st oldLoopStats
	var wall time.Duration
	var w *world
	for b.Loop() {
		b.StopTimer()
		w = newWorld(b, n, m.sim())
		w.warmReports(b, since, true)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(2, parallel)
		hc := &http.Client{Transport: tr}
		b.StartTimer()
		start := time.Now()
		var err error
		st, err = oldLoop(ctx, m, hc, w.url, w.pool, w.clients, since, parallel)
		wall = time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(wall.Seconds(), "wall_s")
	b.ReportMetric(wall.Seconds()/float64(n), "s/client")
	b.ReportMetric(float64(int(asOf.Sub(since).Hours()/24)/7+1), "weeks")
	b.ReportMetric(float64(st.dbRoundTrips), "db_roundtrips")
	reportRequests(b, w.sim.Counters(), n)
}

// kindOf names the report kind of a simulated report run by its level and breakdowns.
func kindOf(r graphsim.ReportRunInfo) records.Kind {
	for k, s := range extract.Specs {
		if s.Level == r.Level && strings.Join(s.Breakdowns, ",") == r.Breakdowns {
			return k
		}
	}
	return ""
}

// benchMetapipe runs metapipe in process with the model's configuration (tune may change it)
// over n clients, and reports where the time went, the requests by kind, the polls of each
// report run, the pages wasted, the concurrency, and the lower bound the simulator allows.
func benchMetapipe(b *testing.B, m model, n int, daily bool, tune func(*pipeline.Config)) {
	benchMetapipeWith(b, m, n, daily, tune, nil)
}

// benchMetapipeWith is benchMetapipe with setup, when not nil, run on each world before the
// timer starts (faults, say).
func benchMetapipeWith(b *testing.B, m model, n int, daily bool, tune func(*pipeline.Config), setup func(*world)) {
	ctx := context.Background()
	var rep *pipeline.Report
	var wall time.Duration
	var w *world
	o := pipeline.Options{AsOf: asOf, Weeks: Weeks, Lookback: Lookback}
	for b.Loop() {
		b.StopTimer()
		w = newWorld(b, n, m.sim())
		if daily {
			w.daily(b)
		}
		if setup != nil {
			setup(w)
		}
		cfg := m.config()
		cfg.DatabaseURL, cfg.GraphURL, cfg.StageDir = w.dbURL, w.url, b.TempDir()
		if tune != nil {
			tune(&cfg)
		}
		r, err := pipeline.Open(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		// The reports the plan will ask for: whole ranges, or the planner's chunks.
		p, err := r.Plan(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		w.warmPlan(b, p)
		if !daily {
			// A first run knows no ad account: forget what planning cached.
			if _, err := w.pool.Exec(ctx, `DELETE FROM ad_accounts`); err != nil {
				b.Fatal(err)
			}
		}
		w.sim.ResetCounters()
		rep, wall = timedRun(b, r, o)
	}
	l := rep.Ledger
	if l.Status != pipeline.StatusDone || l.Rows.Inserted == 0 {
		b.Fatalf("run %s: status %s, %d rows inserted", rep.Dir, l.Status, l.Rows.Inserted)
	}
	c := w.sim.Counters()
	runs := w.sim.ReportRuns()

	// Pages: the least is ceil(rows/500), at least one, per kind, read either way, and one per
	// chunk of a kind the planner read in chunks.
	byAccount := map[string]map[records.Kind]int64{} // pages per kind, by ad account
	var idealPages int64
	for _, cp := range rep.Plan.Clients {
		pages := map[records.Kind]int64{}
		for _, k := range records.Kinds {
			pages[k] = max(1, (int64(l.Clients[cp.ID].Extract.Kinds[k].Rows)+PageSize-1)/PageSize)
			if w := cp.SyncChunks[k]; w > 0 {
				// Read in chunks: at least one request each.
				pages[k] = max(pages[k], int64(len(cp.Range().Chunks(w))))
			}
			idealPages += pages[k]
		}
		byAccount[cp.Account] = pages
	}

	// The lower bound: one wave (auto lets every client in while the usage is low), as long as
	// its slowest client. A kind read synchronously costs one synchronous read per page at the
	// model's longest (800 + 200 ms, divided by the scale: with hundreds of reads in a wave,
	// one is that slow); one read by a report run costs the submit, the run's own duration (as
	// the simulator drew it), one poll and its pages one after another.
	runOf := map[string]map[records.Kind]graphsim.ReportRunInfo{}
	for _, r := range runs {
		if runOf[r.Account] == nil {
			runOf[r.Account] = map[records.Kind]graphsim.ReportRunInfo{}
		}
		runOf[r.Account][kindOf(r)] = r // the last run of a kind, if one was resubmitted
	}
	// A kind read synchronously could at best be read a week at a time, all at once: one
	// synchronous read at the model's longest, charged for a week's rows.
	var bound time.Duration
	for _, cp := range rep.Plan.Clients {
		for _, k := range records.Kinds {
			var d time.Duration
			rows := l.Clients[cp.ID].Extract.Kinds[k].Rows
			if r, ok := runOf[cp.Account][k]; ok {
				d = m.d(submitLatency) + r.Duration + m.d(pollLatency) + time.Duration(byAccount[cp.Account][k])*m.d(pageLatency)
			} else {
				d = m.d(syncLatency+syncJitter) + time.Duration((rows+cp.Weeks-1)/cp.Weeks)*m.d(syncRowCost)
			}
			bound = max(bound, d)
		}
	}

	// Polls per report run, how late each was seen done, and what today's schedule would have
	// polled for the same runs.
	hist := map[int]int{}
	var late []float64
	var maxPolls, todayPolls int
	for _, r := range runs {
		hist[min(r.Polls, 6)]++
		maxPolls = max(maxPolls, r.Polls)
		todayPolls += m.todayPolls(r.Duration)
		if r.Duration > 0 && r.SeenDone > 0 {
			late = append(late, 100*(float64(r.SeenDone)/float64(r.Duration)-1))
		}
	}
	slices.Sort(late)

	b.ReportMetric(wall.Seconds(), "wall_s")
	b.ReportMetric(l.Timings.Extract, "extract_s")
	b.ReportMetric(l.Timings.Transform, "transform_s")
	b.ReportMetric(l.Timings.Load, "load_s")
	b.ReportMetric(bound.Seconds(), "bound_s")
	b.ReportMetric(l.Timings.KPIQuery+l.Timings.Transform+l.Timings.Load, "local_s")
	_, syncs := rep.Plan.Reads(extract.DefaultSyncWeeks)
	b.ReportMetric(float64(syncs), "planned_sync_reads")
	b.ReportMetric(float64(rep.Plan.Clients[0].Weeks), "weeks")
	reportRequests(b, c, n)
	b.ReportMetric(float64(len(runs)), "report_runs")
	b.ReportMetric(float64(todayPolls), "today_polls")
	b.ReportMetric(float64(maxPolls), "max_polls/run")
	for p := 1; p <= 6; p++ {
		b.ReportMetric(float64(hist[p]), fmt.Sprintf("runs_with_%d_polls", p))
	}
	if len(late) > 0 {
		b.ReportMetric(late[len(late)/2], "seen_late_median_%")
		b.ReportMetric(late[len(late)-1], "seen_late_max_%")
	}
	b.ReportMetric(float64(c.Requests[graphsim.KindResults]+c.Requests[graphsim.KindSync]-idealPages), "wasted_pages")
	if cr := l.Concurrency; cr != nil {
		b.ReportMetric(float64(cr.Peak), "conc_peak")
		b.ReportMetric(cr.Average, "conc_avg")
		b.ReportMetric(float64(cr.Cuts), "conc_cuts")
	}
	b.ReportMetric(float64(l.Rows.Inserted), "rows")
}
