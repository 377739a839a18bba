package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/fixtures"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// latencyModel is the simulator configuration shared by both sides.
var latencyModel = fixtures.Config{Latency: Latency, Jitter: Jitter, JobDuration: JobDuration}

// BenchmarkEndToEnd runs the old loop and metapipe against the same simulator configuration
// (Latency ± Jitter per call, JobDuration per report run) and a local PostgreSQL, for 1, 10
// and 100 clients × 54 weeks, each side on a fresh database seeded the same way. The old loop
// is strictly sequential, so at 100 clients it is not run (it would take about 15 minutes)
// unless BENCH_OLD_LOOP_100=1: the report extrapolates it from 10 clients.
//
// metapipe runs with the product's defaults (--concurrency oldDefaultConcurrency, poll after 2 s doubling to
// 30 s, 10 report runs per account, pages of 500), and once more at 100 clients with
// --concurrency 100 to show what the concurrency bound costs.
func BenchmarkEndToEnd(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			if n < 100 || os.Getenv("BENCH_OLD_LOOP_100") == "1" {
				b.Run("old-loop", func(b *testing.B) { benchOldLoop(b, n) })
			}
			b.Run("metapipe", func(b *testing.B) { benchMetapipe(b, n, oldDefaultConcurrency) })
			if n == 100 {
				b.Run("metapipe-c100", func(b *testing.B) { benchMetapipe(b, n, 100) })
			}
		})
	}
}

func benchOldLoop(b *testing.B, n int) {
	ctx := context.Background()
	var st oldLoopStats
	var wall time.Duration
	var w *world
	for b.Loop() {
		b.StopTimer()
		w = newWorld(b, n, latencyModel)
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		b.StartTimer()
		start := time.Now()
		var err error
		st, err = oldLoop(ctx, hc, w.url, w.pool, w.clients)
		wall = time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
	}
	c := w.sim.Counters()
	b.ReportMetric(wall.Seconds(), "wall_s")
	b.ReportMetric(wall.Seconds()/float64(n), "s/client")
	b.ReportMetric(st.apiTime.Seconds(), "api_s")
	b.ReportMetric(float64(sum(c.Requests)), "requests")
	b.ReportMetric(float64(c.PeakInFlight), "peak_inflight")
	b.ReportMetric(float64(st.dbRoundTrips), "db_roundtrips")
}

func benchMetapipe(b *testing.B, n, concurrency int) {
	ctx := context.Background()
	var rep *pipeline.Report
	var wall time.Duration
	var w *world
	for b.Loop() {
		b.StopTimer()
		w = newWorld(b, n, latencyModel)
		r, err := pipeline.Open(ctx, pipeline.Config{
			DatabaseURL: w.dbURL, GraphURL: w.url, Token: extract.NewToken(fixtures.DemoToken),
			StageDir: b.TempDir(), Concurrency: concurrency,
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rep, err = r.Run(ctx, pipeline.Options{AsOf: asOf, Weeks: Weeks, Lookback: 28}, "")
		wall = time.Since(start)
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	c := w.sim.Counters()
	l := rep.Ledger
	if l.Status != pipeline.StatusDone || l.Rows.Inserted == 0 {
		b.Fatalf("run %s: status %s, %d rows inserted", rep.Dir, l.Status, l.Rows.Inserted)
	}

	// The lower bound the simulator allows: per client, one job's duration plus the round
	// trips it cannot avoid (submit, one poll, then its largest report's pages one after
	// another; the five reports run side by side), in ceil(n/concurrency) waves.
	var idealPages, worstPages int64
	for _, cr := range l.Clients {
		for _, k := range records.Kinds {
			p := max(1, (int64(cr.Extract.Kinds[k].Rows)+PageSize-1)/PageSize)
			idealPages += p
			worstPages = max(worstPages, p)
		}
	}
	floor := JobDuration + time.Duration(2+worstPages)*Latency
	waves := (n + concurrency - 1) / concurrency

	b.ReportMetric(wall.Seconds(), "wall_s")
	b.ReportMetric(l.Timings.Extract, "extract_s")
	b.ReportMetric(l.Timings.Transform, "transform_s")
	b.ReportMetric(l.Timings.Load, "load_s")
	b.ReportMetric(float64(sum(c.Requests)), "requests")
	b.ReportMetric(float64(c.Requests[fixtures.KindSubmit])/float64(n), "runs/client")
	b.ReportMetric(float64(w.polls.maxPolls()), "max_polls/run")
	b.ReportMetric(float64(c.Requests[fixtures.KindResults]-idealPages), "wasted_pages")
	b.ReportMetric(float64(c.PeakInFlight), "peak_inflight")
	b.ReportMetric(float64(c.PeakRunning), "peak_running")
	b.ReportMetric(float64(concurrency), "concurrency")
	b.ReportMetric((time.Duration(waves) * floor).Seconds(), "bound_s")
	b.ReportMetric(floor.Seconds(), "bound_unlimited_s")
	b.ReportMetric(float64(l.Rows.Inserted), "rows")
}
