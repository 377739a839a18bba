package bench

import (
	"context"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/pipeline"
)

// worstFaults are the faults of issue 17 at once, on every account (times on the model's
// scale): the synchronous reads fail (so every kind falls back to report runs), the ad account
// read is refused once as too large, report runs queue, the first fails throttled, result pages
// are refused above 60 rows and end in endless empty pages, results answer "not ready" after
// "Job Completed", every 10th call is throttled without a regain time, the usage figures that
// do not gate Insights read 100 % and acc_id_util_pct is stuck at 100 %, two campaigns are
// deleted or archived, and the last bucket's date_stop is two days short.
func worstFaults(m model) graphsim.Faults {
	return graphsim.Faults{
		SyncErrors: 1, AccountTooLarge: 1,
		QueuedFor: m.d(60 * time.Second),
		FailJobs:  1, FailCode: 4, FailSubcode: 1504022, FailMessage: "(#4) Too Many API Requests",
		BigPageLimit: 60, EndlessPaging: 1, NotReadyReads: 3,
		ThrottleEvery: 10, ThrottleCode: 80000,
		InsightsUsageAt: 100, OtherUsageAt: 100,
		GoneCampaigns: 2, LastBucketStop: -2,
	}
}

// BenchmarkMetaAtItsWorst is the daily run of 20 clients on the Meta-like model divided by 10,
// without faults and with every fault of issue 17 on every account: the table must equal the
// simulator's truth and no client may fail; wall_s side by side.
func BenchmarkMetaAtItsWorst(b *testing.B) {
	m := model{10}
	const n = 20
	for _, tc := range []struct {
		name   string
		faults bool
	}{{"no-faults", false}, {"every-fault", true}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			var rep *pipeline.Report
			var w *world
			var wall time.Duration
			o := pipeline.Options{AsOf: asOf, Weeks: Weeks, Lookback: Lookback}
			for b.Loop() {
				b.StopTimer()
				w = newWorld(b, n, m.sim())
				w.daily(b)
				if tc.faults {
					for _, a := range w.sim.Accounts() {
						w.sim.SetFaults(a.ID, worstFaults(m))
					}
				}
				w.warmReports(b, dailySince(), false)
				cfg := m.config()
				cfg.DatabaseURL, cfg.GraphURL, cfg.StageDir = w.dbURL, w.url, b.TempDir()
				r, err := pipeline.Open(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				rep, wall = timedRun(b, r, o) // a failed client is ErrSomeFailed: fatal
			}
			ids := make([]string, 0, n)
			for _, a := range w.sim.Accounts() {
				for _, c := range w.clients {
					if c.AdAccountID == "act_"+a.ID {
						ids = append(ids, c.ID)
					}
				}
			}
			weeks := rep.Plan.Clients[0].Weeks
			rows := e2etest.CheckTable(b, w.pool, w.sim, ids, asOf, weeks)
			c := w.sim.Counters()
			var smaller, ended, notReady, fallbacks int64
			for _, cl := range rep.Ledger.Clients {
				s := cl.Extract.Stats
				smaller, ended, notReady, fallbacks = smaller+s.SmallerPages, ended+s.PagingEnded, notReady+s.NotReady, fallbacks+s.Fallbacks
			}
			b.ReportMetric(wall.Seconds(), "wall_s")
			b.ReportMetric(float64(rows), "rows_right")
			b.ReportMetric(float64(c.Throttled), "throttled")
			b.ReportMetric(float64(smaller), "smaller_pages")
			b.ReportMetric(float64(ended), "paging_ended")
			b.ReportMetric(float64(notReady), "not_ready")
			b.ReportMetric(float64(fallbacks), "sync_fallbacks")
			b.ReportMetric(float64(len(w.sim.ReportRuns())), "report_runs")
			reportRequests(b, c, n)
		})
	}
}
