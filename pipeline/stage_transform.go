package pipeline

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/transform"
)

// transformStage builds the summaries of every client whose extraction is done and that is not
// loaded yet. A client whose staged files are malformed fails alone; the stage fails when
// nothing can be trusted (the KPI file, the output, ctx). With clients (a run that extracts),
// each kind and week whose sums disagree with the account's totals is read again once
// (refetchDisagreeing) and the summaries built again from the rows Meta gave the second time.
func (r *Runner) transformStage(ctx context.Context, dir records.RunDir, plan *Plan, lf *ledgerFile, clients []records.Client) error {
	snap := lf.snapshot()
	var todo []ClientPlan
	for _, cp := range plan.Clients {
		if rec := snap.Clients[cp.ID]; rec.Extract.Status == StatusDone && !rec.Loaded() {
			todo = append(todo, cp)
		}
	}
	in := transformInput(dir, todo)
	end, _ := lf.begin(StageTransform)
	res, err := transform.Run(ctx, in)
	var refetched map[string][]RefetchRecord
	if err == nil && clients != nil {
		if refetched, err = r.refetchDisagreeing(ctx, dir, plan, clients, snap, res, lf); err == nil && len(refetched) > 0 {
			res, err = transform.Run(ctx, in)
		}
	}
	secs := end(err)
	still := Disagreeing(res.Warnings)
	warnings := map[string][]string{}
	for _, w := range res.Warnings {
		warnings[w.ClientID] = append(warnings[w.ClientID], w.String())
	}
	notFinal := NotFinal(res.Warnings)
	lf.update(func(l *Ledger) {
		l.Timings.Transform += secs
		for _, c := range in.Clients {
			rec := &l.Clients[c.ClientID].Transform
			again := append(slices.Clone(rec.Refetched), refetched[c.ClientID]...) // an earlier attempt's, and this one's
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
				MarkAgreed(again, still[c.ClientID])
			}
			rec.Refetched = again
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

// refetchDisagreeing reads again, once in the run, each kind and week of each client (of
// clients, transformed without error) whose sums disagree in res and that an earlier attempt
// of the run has not read again (the ledger's Transform.Refetched), as many clients at once as
// Config.Concurrency (at least one). The requests are added to the client's Extract.Stats. It
// returns the records by client; its error is ctx's.
func (r *Runner) refetchDisagreeing(ctx context.Context, dir records.RunDir, plan *Plan, clients []records.Client, snap Ledger, res transform.Result, lf *ledgerFile) (map[string][]RefetchRecord, error) {
	byID := map[string]records.Client{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	dis := Disagreeing(res.Warnings)
	out := map[string][]RefetchRecord{}
	x := r.extractor()
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, r.cfg.Concurrency))
	for _, cp := range plan.Clients {
		done := snap.Clients[cp.ID].Transform.Refetched
		todo := slices.DeleteFunc(slices.Clone(dis[cp.ID]), func(d RefetchRecord) bool {
			return slices.ContainsFunc(done, func(x RefetchRecord) bool { return x.Kind == d.Kind && x.Week == d.Week })
		})
		c, ok := byID[cp.ID]
		if pc, transformed := res.PerClient[cp.ID]; len(todo) == 0 || !ok || !transformed || pc.Err != nil {
			continue
		}
		g.Go(func() error {
			req := r.clientExtractRequest(cp, c, dir)
			req.Range, req.SyncChunks = extract.Range{}, nil // RefetchDisagreeing reads each week's range
			rs, st, err := RefetchDisagreeing(gctx, x, req, cp.Until.Time(), todo)
			for _, rr := range rs {
				r.log.Info("read again: its sums disagreed with the account's", "client", cp.Name, "kind", rr.Kind, "week", rr.Week, "rows", rr.Rows, "err", rr.Error)
			}
			mu.Lock()
			out[cp.ID] = rs
			mu.Unlock()
			lf.update(func(l *Ledger) { l.Clients[cp.ID].Extract.Stats = l.Clients[cp.ID].Extract.Stats.Add(st) })
			return err
		})
	}
	err := g.Wait()
	return out, err
}
