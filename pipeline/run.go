package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

// Report is what a run or stage leaves for the caller to print.
type Report struct {
	Dir    records.RunDir
	Plan   *Plan
	Ledger Ledger
}

// Run plans, extracts, transforms and loads. With runDir "" it first looks in the stage
// directory for a run with the same as-of date and clients that is not done (failed, partial or
// interrupted) and resumes it: clients already loaded are left alone, the others are extracted
// (saved report runs polled, not resubmitted), transformed and loaded. A run whose plan is
// stale (staleClients: the sync state of a client it has not loaded changed since, by
// reset-state or another run's re-fetch) is not resumed: a new run is planned. Else it starts
// a new run directory; a runDir given is run (or resumed) as it is, or refused with ErrUsage
// when stale. A Graph API that cannot be reached at all is ErrCannotStart before anything is
// planned (reachGraph). It returns ErrSomeFailed when some client failed and the others were loaded,
// ErrInterrupted when ctx ended, ErrUsage or ErrCannotStart when nothing was done (an as-of
// date after today is ErrUsage).
func (r *Runner) Run(ctx context.Context, o Options, runDir records.RunDir) (*Report, error) {
	clients, err := r.selected(ctx, o)
	if err != nil {
		return nil, err
	}
	if len(clients) == 0 {
		return nil, fmt.Errorf("%w: no clients to run (no active client in the clients table, or none in this shard)", ErrUsage)
	}
	if r.cfg.Token.IsZero() && !slices.ContainsFunc(clients, func(c records.Client) bool { return c.Token != "" }) {
		// Nothing could be fetched: a configuration error, not a failure of every client.
		return nil, fmt.Errorf("%w: no access token: set META_ACCESS_TOKEN (or clients.meta_access_token)", ErrUsage)
	}
	if err := checkNotFuture(o, r.now()); err != nil {
		return nil, err
	}
	if err := r.reachGraph(ctx); err != nil {
		return nil, err
	}
	ctx, release, err := r.lock(ctx, clients) // ctx ends if the run's locks are lost
	if err != nil {
		return nil, err
	}
	defer release()

	runDir, plan, err := r.runDirFor(ctx, o, runDir, clients)
	if err != nil {
		return nil, err
	}
	return r.runStages(ctx, runDir, plan, clients, StageExtract, StageTransform, StageLoad)
}

// runDirFor is the run directory and plan Run works: runDir given, read (ErrUsage when
// stale); else an unfinished run of the same as-of and clients that is not stale, resumed; else
// a new run, planned and written. A resumed run's clients that could not run when planned are
// planned again (replanUnready).
func (r *Runner) runDirFor(ctx context.Context, o Options, runDir records.RunDir, clients []records.Client) (records.RunDir, *Plan, error) {
	var err error
	ids := make([]string, len(clients))
	for i, c := range clients {
		ids[i] = c.ID
	}
	sort.Strings(ids)
	var plan *Plan
	if runDir != "" {
		if plan, err = ReadPlan(runDir); err != nil {
			return "", nil, err
		}
		if stale, err := r.staleClients(ctx, runDir, plan); err != nil {
			return "", nil, err
		} else if len(stale) > 0 {
			return "", nil, fmt.Errorf("%w: run %s was planned before the sync state of %s changed (reset-state, or another run): resuming it would undo that; start a new run (without --run)",
				ErrUsage, runDir, strings.Join(stale, ", "))
		}
	} else {
		nominal := day(r.now().UTC())
		if !o.AsOf.IsZero() {
			nominal = day(o.AsOf)
		}
		found := findResumable(r.cfg.StageDir, resumeKey{asOf: records.DateOf(nominal), asOfGiven: !o.AsOf.IsZero(),
			weeks: o.Weeks, lookback: o.Lookback, full: o.Full, ids: ids})
		if found != "" {
			p, err := ReadPlan(found)
			if err != nil {
				return "", nil, err
			}
			stale, err := r.staleClients(ctx, found, p)
			switch {
			case err != nil:
				return "", nil, err
			case len(stale) > 0:
				r.log.Info("not resuming unfinished run: sync state changed since it was planned; planning a new run",
					"dir", found, "clients", strings.Join(stale, ", "))
			default:
				r.log.Info("resuming unfinished run", "dir", found)
				runDir, plan = found, p
			}
		}
	}
	if runDir != "" {
		records.RemoveTempFiles(string(runDir)) // what a killed process left; we hold the locks
		if err := r.replanUnready(ctx, runDir, plan, clients); err != nil {
			return "", nil, err
		}
	} else {
		if plan, err = r.plan(ctx, clients, o); err != nil {
			return "", nil, err
		}
		runDir = records.RunDir(filepath.Join(r.cfg.StageDir, plan.RunID))
		if err := os.MkdirAll(string(runDir), records.DirMode); err != nil {
			return "", nil, fmt.Errorf("%w: stage dir: %w", ErrCannotStart, err)
		}
		if err := writePlan(runDir, plan); err != nil {
			return "", nil, fmt.Errorf("%w: write plan: %w", ErrCannotStart, err)
		}
	}
	return runDir, plan, nil
}

// staleClients names the clients of a run directory's plan, not loaded by it, whose sync state
// is not the one the plan was made from: reset-state made weeks non-final again, or another run
// (a --full re-fetch, a run of other clients) loaded them since. Resuming the run would fetch
// them by the old plan and load its sync state, undoing that change. A plan from before plans
// recorded the state (no state_seen) is stale for every such client. Clients that could not
// run when planned are not named: replanUnready plans them again from the state now.
func (r *Runner) staleClients(ctx context.Context, dir records.RunDir, plan *Plan) ([]string, error) {
	l, _ := ReadLedger(dir)
	var ids []string
	for _, cp := range plan.Clients {
		if cp.Error != "" || l != nil && l.Clients[cp.ID] != nil && l.Clients[cp.ID].Loaded() {
			continue
		}
		ids = append(ids, cp.ID)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	states, err := store.ReadSyncStates(ctx, r.pool, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotStart, err)
	}
	var stale []string
	for _, cp := range plan.Clients {
		if !slices.Contains(ids, cp.ID) {
			continue
		}
		var st *store.SyncState
		if s, ok := states[cp.ID]; ok {
			st = &s
		}
		if cp.StateSeen != syncStateSeen(st) {
			stale = append(stale, cp.Name)
		}
	}
	return stale, nil
}

// replanUnready plans again, in a resumed run, the clients that could not run when it was
// planned (their ad account could not be read: a refused token, Meta down) and are not loaded:
// their sync state has not changed since, so their plan is made as it would have been, with the
// account read now. plan.json is rewritten when anything changed.
func (r *Runner) replanUnready(ctx context.Context, dir records.RunDir, plan *Plan, clients []records.Client) error {
	l, _ := ReadLedger(dir)
	byID := map[string]records.Client{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	var again []records.Client
	for _, cp := range plan.Clients {
		if cp.Error == "" || l != nil && l.Clients[cp.ID] != nil && l.Clients[cp.ID].Loaded() {
			continue
		}
		if c, ok := byID[cp.ID]; ok {
			again = append(again, c)
		}
	}
	if len(again) == 0 {
		return nil
	}
	o := Options{Weeks: plan.Weeks, Lookback: plan.Lookback, Full: plan.Full}
	if plan.AsOfGiven {
		o.AsOf = plan.AsOf.Time()
	}
	p, err := r.plan(ctx, again, o)
	if err != nil {
		return err
	}
	for _, cp := range p.Clients {
		plan.Clients[slices.IndexFunc(plan.Clients, func(x ClientPlan) bool { return x.ID == cp.ID })] = cp
	}
	if err := writePlan(dir, plan); err != nil {
		return fmt.Errorf("%w: write plan: %w", ErrCannotStart, err)
	}
	return nil
}

// Stage runs one stage (StageExtract, StageTransform or StageLoad) of an existing run
// directory, holding the run locks of its clients. The transform needs no database: see
// TransformDir.
func (r *Runner) Stage(ctx context.Context, runDir records.RunDir, stage Stage) (*Report, error) {
	plan, err := ReadPlan(runDir)
	if err != nil {
		return nil, err
	}
	all, err := r.clients(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]records.Client{}
	for _, c := range all {
		byID[c.ID] = c
	}
	var clients []records.Client
	for _, cp := range plan.Clients {
		if c, ok := byID[cp.ID]; ok {
			clients = append(clients, c)
		} else {
			clients = append(clients, records.Client{ID: cp.ID, Name: cp.Name, AdAccountID: cp.Account})
		}
	}
	ctx, release, err := r.lock(ctx, clients) // ctx ends if the run's locks are lost
	if err != nil {
		return nil, err
	}
	defer release()
	if stage == StageExtract {
		if err := r.reachGraph(ctx); err != nil {
			return nil, err
		}
	}
	if stage != StageTransform {
		if stale, err := r.staleClients(ctx, runDir, plan); err != nil {
			return nil, err
		} else if len(stale) > 0 {
			return nil, fmt.Errorf("%w: run %s was planned before the sync state of %s changed (reset-state, or another run): its %s would undo that; plan a new run",
				ErrUsage, runDir, strings.Join(stale, ", "), stage)
		}
	}
	return r.runStages(ctx, runDir, plan, clients, stage)
}

// TransformDir runs the transform stage of a run directory: files in, files out, no database.
func TransformDir(ctx context.Context, dir records.RunDir, log *slog.Logger) (*Report, error) {
	plan, err := ReadPlan(dir)
	if err != nil {
		return nil, err
	}
	return newRunner(Config{Logger: log}).runStages(ctx, dir, plan, nil, StageTransform)
}

// runStages runs the given stages of a run directory, in order, stopping at the first that
// fails as a whole (a client's failure is recorded and the others go on).
func (r *Runner) runStages(ctx context.Context, dir records.RunDir, plan *Plan, clients []records.Client, stages ...Stage) (*Report, error) {
	lf, err := openLedger(dir, plan)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotStart, err)
	}
	start := time.Now()
	var rowsBefore RowCounts
	var timingsBefore Timings
	lf.update(func(l *Ledger) {
		l.Status = StatusRunning
		l.Attempts++
		rowsBefore, timingsBefore = l.Rows, l.Timings
	})
	if err := lf.flush(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotStart, err)
	}
	r.log.Info("run", "dir", dir, "as_of", plan.AsOf, "clients", len(plan.Clients))

	var stageErr error
	for _, st := range stages {
		r.recordHistory(ctx, plan, lf.snapshot(), st, false)
		switch st {
		case StageExtract:
			stageErr = r.extractStage(ctx, dir, plan, clients, lf)
		case StageTransform:
			var refetch []records.Client // a run that extracts reads disagreeing weeks again
			if slices.Contains(stages, StageExtract) {
				refetch = clients
			}
			stageErr = r.transformStage(ctx, dir, plan, lf, refetch)
		case StageLoad:
			stageErr = r.loadStage(ctx, dir, plan, lf)
		}
		if stageErr != nil {
			break
		}
	}
	r.rep.Close()

	var failed []string
	interrupted := ctx.Err() != nil
	lf.update(func(l *Ledger) {
		l.Timings.Total += time.Since(start).Seconds()
		l.LastAttempt = &AttemptRecord{Number: l.Attempts, Rows: l.Rows.Minus(rowsBefore), Timings: l.Timings.Minus(timingsBefore)}
		for _, c := range plan.Clients {
			if l.Clients[c.ID].Failed() {
				failed = append(failed, c.Name)
			}
		}
		switch {
		case interrupted:
			l.Status = StatusInterrupted
		case stageErr != nil:
			l.Status = StatusFailed
		case !slices.Contains(stages, StageLoad):
			l.Status = StatusRunning // a single stage leaves the run open for the next one
		case len(failed) > 0 && len(failed) == len(plan.Clients):
			l.Status = StatusFailed // every client failed: nothing of the run is done
		case len(failed) > 0:
			l.Status = StatusPartial
		default:
			l.Status = StatusDone
		}
	})
	if err := lf.flush(); err != nil && stageErr == nil {
		stageErr = err
	}
	rep := &Report{Dir: dir, Plan: plan, Ledger: lf.snapshot()}
	r.recordHistory(ctx, plan, rep.Ledger, "", true)
	if interrupted {
		return rep, fmt.Errorf("%w; the next run with the same as-of and clients resumes %s: %w", ErrInterrupted, dir, context.Cause(ctx))
	}
	if stageErr != nil {
		return rep, stageErr
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrSomeFailed, strings.Join(failed, ", "))
	}
	return rep, nil
}
