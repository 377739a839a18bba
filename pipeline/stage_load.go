package pipeline

import (
	"context"
	"time"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

// loadStage loads the summaries of every client whose transform is done and that is not loaded
// yet, with their sync states, in one transaction (store.Load): rows as of a later date in the
// table are kept, sync states only move forward (under --full they are recomputed). The stage
// is skipped when no client is left.
func (r *Runner) loadStage(ctx context.Context, dir records.RunDir, plan *Plan, lf *ledgerFile) error {
	snap := lf.snapshot()
	var todo []ClientPlan
	notFinal := map[string][]string{}
	for _, cp := range plan.Clients {
		if rec := snap.Clients[cp.ID]; rec.Transform.Status == StatusDone && !rec.Loaded() {
			todo = append(todo, cp)
			notFinal[cp.ID] = rec.Transform.NotFinal
		}
	}
	req := r.loadRequest(dir, plan.RunID, todo, notFinal, plan.Full)
	end, skipped := lf.begin(StageLoad)
	if len(req.ClientIDs) == 0 {
		skipped()
		return nil
	}
	res, err := store.Load(ctx, r.pool, req)
	secs := end(err)
	lf.update(func(l *Ledger) {
		l.Timings.Load += secs
		l.Timings.Copy += res.CopyDuration.Seconds()
		l.Timings.Merge += res.MergeDuration.Seconds()
		l.Rows.Inserted += res.Inserted
		l.Rows.Updated += res.Updated
		l.Rows.Unchanged += res.Unchanged
		l.Rows.Confirmed += res.Confirmed
		l.Rows.Kept += res.Kept
		l.Rows.Deleted += res.Deleted
		for _, id := range req.ClientIDs {
			rec := &l.Clients[id].Load
			*rec = LoadClientRecord{Status: StatusDone}
			if err != nil {
				*rec = LoadClientRecord{Status: outcome(err), Error: err.Error()}
			}
		}
	})
	if err != nil {
		r.log.Error("load failed", "err", err)
		return err
	}
	r.log.Info("loaded", "inserted", res.Inserted, "updated", res.Updated, "unchanged", res.Unchanged,
		"confirmed", res.Confirmed, "kept", res.Kept, "deleted", res.Deleted, "seconds", secs)
	return nil
}

// SyncStateHeldBack is SyncState with the weeks whose sums disagree with the account's totals
// (notFinal: Mondays, YYYY-MM-DD, in order; see NotFinal) kept from becoming final:
// final_through stops at the Sunday before the first of them, so that the next runs fetch them
// again (load only moves final_through forward: a week made final by an earlier run stays so).
func (c ClientPlan) SyncStateHeldBack(runID string, notFinal []string) store.SyncState {
	st := c.SyncState(runID)
	if len(notFinal) == 0 || st.FinalThrough == nil {
		return st
	}
	first, err := time.Parse(time.DateOnly, notFinal[0])
	if err != nil || st.FinalThrough.Before(first) {
		return st
	}
	sunday := first.AddDate(0, 0, -1)
	if sunday.Before(st.CoveredFrom) {
		st.FinalThrough = nil
	} else {
		st.FinalThrough = &sunday
	}
	return st
}
