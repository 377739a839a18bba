package bench

import (
	"fmt"
	"testing"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/pipeline"
)

// PlanParallel is the old collector's own Phase-2 plan for one client (issue 19): its calls,
// 10 weeks × 4 calls at once.
const PlanParallel = 40

// BenchmarkSmallFleet is issue 19's case, at full scale (the Meta-like model not divided):
// a first run of 1, 5 and 20 clients over 54 weeks, and a daily run of 20 clients. Side by
// side in one run: the plan (the old collector's calls, PlanParallel at once), metapipe with
// the product's defaults (the planner reads a small fleet's years synchronously in
// week-aligned chunks), and metapipe reading long ranges by report runs as before issue 19
// (--sync-budget 0), once also against report runs that stay "Job Running" at 100 % for half
// their length before "Job Completed" (the polls per report run).
func BenchmarkSmallFleet(b *testing.B) {
	m := model{1}
	reportRuns := func(c *pipeline.Config) { c.ReadPlanning.Budget = -1 }
	for _, n := range []int{1, 5, 20} {
		b.Run(fmt.Sprintf("first/clients=%d", n), func(b *testing.B) {
			b.Run("plan", func(b *testing.B) { benchOldLoop(b, m, n, false, PlanParallel) })
			b.Run("metapipe", func(b *testing.B) { benchMetapipe(b, m, n, false, nil) })
			b.Run("metapipe-report-runs", func(b *testing.B) { benchMetapipe(b, m, n, false, reportRuns) })
			if n == 5 {
				b.Run("metapipe-report-runs-at-100", func(b *testing.B) {
					benchMetapipeWith(b, m, n, false, reportRuns, func(w *world) {
						for _, a := range w.sim.Accounts() {
							w.sim.SetFaults(a.ID, graphsim.Faults{RunningAt100: true})
						}
					})
				})
			}
		})
	}
	b.Run("daily/clients=20", func(b *testing.B) {
		b.Run("plan", func(b *testing.B) { benchOldLoop(b, m, 20, true, PlanParallel) })
		b.Run("metapipe", func(b *testing.B) { benchMetapipe(b, m, 20, true, nil) })
	})
}
