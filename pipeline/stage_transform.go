package pipeline

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/transform"
)

// transformStage builds the summaries of every client whose extraction is done and that is not
// loaded yet. A client whose staged files are malformed fails alone; the stage fails when
// nothing can be trusted (the KPI file, the output, ctx).
func (r *Runner) transformStage(ctx context.Context, dir records.RunDir, plan *Plan, lf *ledgerFile) error {
	snap := lf.snapshot()
	var in transform.Input
	for _, cp := range plan.Clients {
		if rec := snap.Clients[cp.ID]; rec.Extract.Status == StatusDone && !rec.Loaded() {
			in.Clients = append(in.Clients, transform.ClientInput{ClientID: cp.ID, Dir: dir.Client(cp.ID),
				AsOf: mustDate(cp.Until), Currency: cp.Currency})
		}
	}
	in.KPIPath, in.OutPath = dir.KPI(), dir.Summaries()
	end, _ := lf.begin(StageTransform)
	res, err := transform.Run(ctx, in)
	secs := end(err)
	warnings := map[string][]string{}
	for _, w := range res.Warnings {
		warnings[w.ClientID] = append(warnings[w.ClientID], w.String())
	}
	notFinal := NotFinal(res.Warnings)
	lf.update(func(l *Ledger) {
		l.Timings.Transform += secs
		for _, c := range in.Clients {
			rec := &l.Clients[c.ClientID].Transform
			pc, ok := res.PerClient[c.ClientID]
			switch {
			case err != nil:
				*rec = TransformRecord{Status: outcome(err), Error: err.Error()}
			case !ok:
				*rec = TransformRecord{Status: StatusFailed, Error: "not transformed"}
			case pc.Err != nil:
				*rec = TransformRecord{Status: StatusFailed, Error: pc.Err.Error()}
			default:
				*rec = TransformRecord{Status: StatusDone, Rows: pc.Rows, Warnings: warnings[c.ClientID], NotFinal: notFinal[c.ClientID]}
			}
		}
	})
	for _, w := range res.Warnings {
		r.log.Warn("transform check", "client", w.ClientID, "week", w.Week.Format(time.DateOnly), "check", w.Check, "detail", w.Detail)
	}
	return err
}

// NotFinal is, by client, the weeks (Mondays, YYYY-MM-DD, in order) whose campaign, placement
// or demographic sums disagree with the account's totals (the transform's *_vs_account_*
// warnings): loaded, but never made final (ClientPlan.SyncStateHeldBack).
func NotFinal(warnings []transform.Warning) map[string][]string {
	out := map[string][]string{}
	for _, w := range warnings {
		if !strings.Contains(w.Check, "_vs_account_") {
			continue
		}
		if wk := w.Week.Format(time.DateOnly); !slices.Contains(out[w.ClientID], wk) {
			out[w.ClientID] = append(out[w.ClientID], wk)
		}
	}
	for _, weeks := range out {
		slices.Sort(weeks)
	}
	return out
}
