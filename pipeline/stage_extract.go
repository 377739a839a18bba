package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
)

// extractStage extracts every planned client not already staged, as many at a time as the
// clientGate allows (Config.Concurrency, or as Meta's usage headers allow), while the bulk KPI
// read runs beside it. A client's failure is recorded in the ledger and does not stop the
// others; the stage fails only when the KPI read fails, ctx ends, or Meta refuses the API
// version (2635): that is the whole run's configuration (ErrUsage), and stops every client.
func (r *Runner) extractStage(ctx context.Context, dir records.RunDir, plan *Plan, clients []records.Client, lf *ledgerFile) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var versionErr error
	end, _ := lf.begin(StageExtract)
	byID := map[string]records.Client{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	snap := lf.snapshot()
	var todo []ClientPlan
	for _, cp := range plan.Clients {
		rec := snap.Clients[cp.ID]
		if rec.Loaded() || rec.Extract.Status == StatusDone && allStaged(dir.Client(cp.ID)) {
			continue // loaded by an earlier attempt, or staged already
		}
		todo = append(todo, cp)
	}
	gate := newClientGate(r.cfg.Concurrency, r.cfg.AutoConcurrency, len(todo))
	x := r.extractor()
	x.Client.OnUsage = gate.observe
	var mu sync.Mutex
	var jobWait, paging time.Duration

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.kpiStage(gctx, dir, plan, lf) })
	g.Go(func() error { r.refreshAccounts(gctx, plan, clients); return nil })
	var clientGroup errgroup.Group
	for _, cp := range todo {
		if gate.acquire(gctx) != nil {
			break
		}
		clientGroup.Go(func() error {
			defer gate.release()
			if gctx.Err() != nil {
				return nil
			}
			res := r.extractClient(gctx, x, dir, cp, byID[cp.ID], lf)
			var ve *extract.APIVersionError
			if errors.As(res.Err, &ve) {
				mu.Lock()
				if versionErr == nil {
					versionErr = fmt.Errorf("%w: %w", ErrUsage, ve)
				}
				mu.Unlock()
				stop(versionErr)
			}
			mu.Lock()
			jobWait += res.Stats.JobWait
			paging += res.Stats.Paging
			mu.Unlock()
			return nil
		})
	}
	_ = clientGroup.Wait() // a client's error is in the ledger, not here
	err := g.Wait()
	switch {
	case versionErr != nil:
		err = versionErr
	case err == nil:
		err = ctx.Err()
	}
	secs := end(err)
	cr := gate.record()
	if len(todo) > 0 {
		r.log.Info("extract concurrency", "mode", cr.Mode, "start", cr.Start, "final", cr.Final, "lowest", cr.Low, "highest", cr.High,
			"peak", cr.Peak, "average", cr.Average, "cuts", cr.Cuts, "max_app_usage", cr.MaxAppUsage)
	}
	lf.update(func(l *Ledger) {
		l.Timings.Extract += secs
		l.Timings.JobWait += jobWait.Seconds()
		l.Timings.Paging += paging.Seconds()
		if len(todo) > 0 {
			l.Concurrency = &cr
		}
	})
	return err
}

// extractClient extracts one client and records the outcome in the ledger.
func (r *Runner) extractClient(ctx context.Context, x *extract.Extractor, dir records.RunDir, cp ClientPlan, c records.Client, lf *ledgerFile) extract.ClientResult {
	lf.update(func(l *Ledger) {
		l.Clients[cp.ID].Extract = ExtractRecord{Status: StatusRunning, Started: time.Now().UTC()}
	})
	r.rep.ClientStarted(cp.ID, cp.Name)
	var throttled atomic.Int64 // the ThrottledSince last written to the ledger, in Unix nanoseconds
	res := r.extractOne(ctx, x, cp, c, dir, ClientVariant{OnProgress: func(p extract.Progress) {
		r.rep.KindProgress(cp.ID, p)
		var since int64
		if !p.ThrottledSince.IsZero() {
			since = p.ThrottledSince.UnixNano()
		}
		if throttled.Swap(since) != since {
			lf.update(func(l *Ledger) { l.Clients[cp.ID].Extract.ThrottledSince = p.ThrottledSince.UTC() })
		}
	}})
	r.rep.ClientDone(cp.ID, res.Err)
	lf.update(func(l *Ledger) {
		rec := &l.Clients[cp.ID].Extract
		rec.Ended, rec.Kinds, rec.Stats = res.Ended.UTC(), res.Kinds, res.Stats
		rec.Status, rec.Error = StatusDone, ""
		if res.Err != nil {
			rec.Status, rec.Error = outcome(res.Err), res.Err.Error()
		} else {
			rec.ThrottledSince = time.Time{}
		}
	})
	if errors.Is(res.Err, context.Canceled) {
		r.log.Warn("extract interrupted", "client", cp.Name)
	} else if res.Err != nil {
		r.log.Error("extract failed", "client", cp.Name, "err", res.Err)
	} else {
		r.log.Info("extracted", "client", cp.Name, "requests", res.Stats.Requests, "syncs", res.Stats.Syncs, "submits", res.Stats.Submits,
			"polls", res.Stats.Polls, "pages", res.Stats.Pages, "rows", res.Stats.Rows)
	}
	return res
}

// allStaged reports whether every report kind of a client is staged.
func allStaged(dir records.ClientDir) bool {
	for _, k := range records.Kinds {
		if _, err := os.Stat(dir.Report(k)); err != nil {
			return false
		}
	}
	return true
}

// kpiStage reads every planned client's daily KPI rows in one query, unless already staged.
func (r *Runner) kpiStage(ctx context.Context, dir records.RunDir, plan *Plan, lf *ledgerFile) error {
	path := dir.KPI()
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	end, _ := lf.begin(StageKPI)
	from, to := plan.KPIRange()
	n, err := extract.ReadKPI(ctx, r.pool, plan.ClientIDs(), from, to, path)
	secs := end(err)
	lf.update(func(l *Ledger) { l.Timings.KPIQuery += secs })
	r.log.Info("kpi read", "rows", n, "from", from.Format(time.DateOnly), "to", to.Format(time.DateOnly), "seconds", secs)
	return err
}
