package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
	"github.com/metapipe/metapipe/transform"
)

// The per-client stage sequence: extract a client (clientExtractRequest, extractOne), read
// its KPI days, transform it (transformInput), read again the weeks whose sums disagree, and
// load it (loadRequest). metapipe run drives it over the planned clients of a run directory
// (runStages: the clients extracted side by side, transformed and loaded together, one
// ledger); the service's worker drives it one client per job (ExtractClient, then
// TransformLoad), varying only what ClientVariant and LoadCommit say: where report runs are
// saved, how long it may wait inline, the transaction the load commits in.

// The extract and store types a driver of the sequence names: one source, re-exported.
type (
	// Progress is one report kind's progress (extract.Progress).
	Progress = extract.Progress
	// ReportRunEntry is one saved report run (extract.ReportRunEntry).
	ReportRunEntry = extract.ReportRunEntry
	// ReportRunStore keeps a client's report runs (extract.ReportRunStore).
	ReportRunStore = extract.ReportRunStore
	// FleetThrottle shares ad accounts' holds among processes (extract.FleetThrottle).
	FleetThrottle = extract.FleetThrottle
	// CallKind is a kind of Graph API request (extract.CallKind).
	CallKind = extract.CallKind
	// LoadResult is what a load wrote (store.Result).
	LoadResult = store.Result
	// MigrateOptions says how a migration waits for another (store.MigrateOptions).
	MigrateOptions = store.MigrateOptions
	// BusyError is a client whose run lock another run holds (store.BusyError).
	BusyError = store.BusyError
)

// The states of a report kind's Progress.
const (
	ProgressReading = extract.StateReading // completed; reading the result pages
	ProgressDone    = extract.StateDone    // the rows are staged
)

// CallKinds are the kinds of Graph API requests, in the order metrics list them.
var CallKinds = []CallKind{extract.CallSubmit, extract.CallPoll, extract.CallResults, extract.CallSync, extract.CallAccount}

// ErrorClass is the class of a Graph API error's answer for metrics ("ok" for nil): throttled,
// transient, auth, fatal, too large, not ready (extract.Class).
func ErrorClass(err error) string {
	if err == nil {
		return "ok"
	}
	return extract.ClassOf(err).String()
}

// RefusedToken reports whether err is Meta refusing the token or a permission (Graph API code
// 190, 102, 10, 200-299: extract.ClassAuth), also when it was met while planning (a
// *PlanError that says so).
func RefusedToken(err error) bool {
	if pe := (*PlanError)(nil); errors.As(err, &pe) {
		return pe.RefusedToken
	}
	return err != nil && extract.ClassOf(err) == extract.ClassAuth
}

// RefusedCode is RefusedToken for Meta's code and subcode.
func RefusedCode(code, subcode int) bool {
	return (&extract.GraphError{Code: code, Subcode: subcode}).Class() == extract.ClassAuth
}

// ClientVariant is what a driver of the sequence varies in a client's extraction.
type ClientVariant struct {
	// Runs keeps the client's report runs; nil keeps them in <kind>.job.json files in its
	// folder.
	Runs ReportRunStore
	// InlineWait, when not 0, is the longest the extraction waits for Meta (a poll, a
	// throttle) before it returns ExtractOutcome.Wait instead.
	InlineWait time.Duration
	// Fleet, when set, shares the ad account's holds with other processes.
	Fleet FleetThrottle
	// OnProgress, when set, hears each report kind's progress.
	OnProgress func(Progress)
}

// ExtractOutcome is a client's extraction as ExtractClient ends it.
type ExtractOutcome struct {
	// Wait, when not zero, is when to look again: Meta makes the client wait longer than
	// ClientVariant.InlineWait; the report runs are saved.
	Wait time.Time
	// ThrottleWait is how long the extraction waited for Meta's throttling.
	ThrottleWait time.Duration
}

// clientExtractRequest is the extraction of a planned client into the run directory dir.
func (r *Runner) clientExtractRequest(cp ClientPlan, c records.Client, dir records.RunDir) extract.Request {
	return extract.Request{ClientID: cp.ID, ClientName: cp.Name, Account: cp.Account, Token: r.tokenFor(c),
		Range: cp.Range(), Dir: dir.Client(cp.ID), SyncChunks: cp.SyncChunks}
}

// ExtractClient extracts one planned client into dir as a run does, with v's variations. An
// error Permanent says will not go away is returned as it is; ctx's end is returned wrapped.
func (r *Runner) ExtractClient(ctx context.Context, cp ClientPlan, c records.Client, dir records.RunDir, v ClientVariant) (ExtractOutcome, error) {
	x := r.extractor()
	if v.InlineWait > 0 {
		x.InlineWait, x.Throttle.MaxInline = v.InlineWait, v.InlineWait
	}
	x.Throttle.Fleet = v.Fleet
	res := r.extractOne(ctx, x, cp, c, dir, v)
	out := ExtractOutcome{Wait: res.Wait, ThrottleWait: res.Stats.ThrottleWait}
	switch {
	case ctx.Err() != nil:
		return out, fmt.Errorf("extract: %w", ctx.Err())
	case res.Err != nil:
		return out, res.Err
	}
	return out, nil
}

// extractOne is the one extraction of a planned client, for a run's extract stage (x shared
// by the run's clients) and for the service's job (ExtractClient): a client whose ad account
// id is malformed, or could not be read when planned, fails without a request; otherwise x
// extracts cp's range into dir, its report runs saved in v.Runs (nil: beside the staged
// files), its progress told to v.OnProgress.
func (r *Runner) extractOne(ctx context.Context, x *extract.Extractor, cp ClientPlan, c records.Client, dir records.RunDir, v ClientVariant) extract.ClientResult {
	if err := cmp.Or(ValidateAccount(c), cp.Err()); err != nil { // its ad account could not be read when planned
		return extract.ClientResult{ClientID: cp.ID, Err: err, Started: time.Now(), Ended: time.Now()}
	}
	req := r.clientExtractRequest(cp, c, dir)
	req.Runs = v.Runs
	progress := v.OnProgress
	if progress == nil {
		progress = func(Progress) {}
	}
	return x.Extract(ctx, req, progress)
}

// transformInput is the transform of the planned clients cps, staged in dir.
func transformInput(dir records.RunDir, cps []ClientPlan) transform.Input {
	in := transform.Input{KPIPath: dir.KPI(), OutPath: dir.Summaries()}
	for _, cp := range cps {
		in.Clients = append(in.Clients, transform.ClientInput{ClientID: cp.ID, Dir: dir.Client(cp.ID),
			AsOf: cp.Until.Time(), Currency: cp.Currency})
	}
	return in
}

// loadRequest is the load of the planned clients cps (their summaries in dir) by run runID;
// notFinal is, by client, the weeks kept from becoming final (NotFinal).
func (r *Runner) loadRequest(dir records.RunDir, runID string, cps []ClientPlan, notFinal map[string][]string, full bool) store.Request {
	req := store.Request{SummariesPath: dir.Summaries(), DataSource: "metapipe " + runID, LockTimeout: r.cfg.LockTimeout,
		RecomputeSync: full}
	for _, cp := range cps {
		req.ClientIDs = append(req.ClientIDs, cp.ID)
		req.Sync = append(req.Sync, cp.SyncStateHeldBack(runID, notFinal[cp.ID]))
		// The whole fetched range is in the file: a stored week in it that is not (it lost
		// all delivery) goes.
		req.Ranges = append(req.Ranges, cp.LoadRange())
	}
	return req
}

// LoadCommit is the transaction a client's load commits in, for a driver that commits more
// with it (the service: its job's completion).
type LoadCommit struct {
	// Before runs first in the transaction (the service's fence); its error ends it.
	Before func(ctx context.Context, tx pgx.Tx) error
	// After runs after the load, with what it wrote, in the same transaction.
	After func(ctx context.Context, tx pgx.Tx, out ClientLoad) error
}

// ClientLoad is what TransformLoad did for a client.
type ClientLoad struct {
	Result    LoadResult
	NotFinal  []string        // the weeks (Mondays, YYYY-MM-DD) loaded but kept from final
	ReadAgain []RefetchRecord // the kinds and weeks read again, and whether they agree now
	// ThrottleWait is how long the second reads waited for Meta's throttling.
	ThrottleWait time.Duration
}

// ErrTransform marks a client whose staged rows cannot be transformed: the same report runs
// give the same rows, so Permanent holds.
var ErrTransform = errors.New("transform")

// TransformLoad reads a planned, extracted client's KPI days, transforms it, reads again once
// the weeks whose sums disagree with the account's totals (kept in the client's refetch
// folder as read_again.json: a later attempt does not read them again) and loads it, with
// runID's sync state, in one transaction with commit's. replace is an explicit re-fetch
// (store.Request.Replace).
func (r *Runner) TransformLoad(ctx context.Context, runID string, cp ClientPlan, c records.Client, dir records.RunDir, full, replace bool, v ClientVariant, commit LoadCommit) (ClientLoad, error) {
	var out ClientLoad
	since, until := cp.Range().Since, cp.Range().Until
	if _, err := extract.ReadKPI(ctx, r.pool, []string{cp.ID}, since, until, dir.KPI()); err != nil {
		return out, err
	}
	in := transformInput(dir, []ClientPlan{cp})
	tres, err := transform.Run(ctx, in)
	if err != nil {
		return out, err
	}
	if cerr := tres.PerClient[cp.ID].Err; cerr != nil {
		return out, fmt.Errorf("%w: %w", ErrTransform, cerr)
	}
	var again bool
	if out.ReadAgain, again, out.ThrottleWait, err = r.refetchKept(ctx, cp, c, dir, tres, v); err != nil {
		return out, err
	}
	if again {
		if tres, err = transform.Run(ctx, in); err != nil {
			return out, err
		}
		if cerr := tres.PerClient[cp.ID].Err; cerr != nil {
			return out, fmt.Errorf("%w: %w", ErrTransform, cerr)
		}
	}
	MarkAgreed(out.ReadAgain, Disagreeing(tres.Warnings)[cp.ID])
	out.NotFinal = NotFinal(tres.Warnings)[cp.ID]
	req := r.loadRequest(dir, runID, []ClientPlan{cp}, map[string][]string{cp.ID: out.NotFinal}, full)
	req.Replace = replace
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if commit.Before != nil {
			if err := commit.Before(ctx, tx); err != nil {
				return err
			}
		}
		var err error
		if out.Result, err = store.LoadTx(ctx, tx, req); err != nil {
			return err
		}
		if commit.After != nil {
			return commit.After(ctx, tx, out)
		}
		return nil
	})
	return out, err
}

// refetchKept reads again, once, each kind and week of the client whose sums disagree in tres
// (RefetchDisagreeing), replacing their staged rows; it returns what it read again (kept in
// the client's refetch folder, extract.RefetchDir, as read_again.json) and whether it read
// anything now: the caller transforms again. When that folder was made by an earlier attempt
// it does not read again, and returns the records the earlier one kept. A failed read is
// logged and leaves the first read's rows.
func (r *Runner) refetchKept(ctx context.Context, cp ClientPlan, c records.Client, dir records.RunDir, tres transform.Result, v ClientVariant) ([]RefetchRecord, bool, time.Duration, error) {
	refetchDir := filepath.Join(string(dir.Client(cp.ID)), extract.RefetchDir)
	kept := filepath.Join(refetchDir, "read_again.json")
	if _, err := os.Stat(refetchDir); err == nil {
		var rs []RefetchRecord
		if b, err := records.ReadFileIfExists(kept); err == nil && b != nil {
			_ = json.Unmarshal(b, &rs)
		}
		return rs, false, 0, nil // read again by an earlier attempt
	}
	todo := Disagreeing(tres.Warnings)[cp.ID]
	if len(todo) == 0 {
		return nil, false, 0, nil
	}
	x := r.extractor()
	x.Throttle.Fleet = v.Fleet
	req := r.clientExtractRequest(cp, c, dir)
	req.Range, req.SyncChunks = extract.Range{}, nil
	rs, st, err := RefetchDisagreeing(ctx, x, req, cp.Range().Until, todo)
	for _, rr := range rs {
		r.log.Info("read again: its sums disagreed with the account's", "client", cp.Name, "kind", rr.Kind, "week", rr.Week, "rows", rr.Rows, "err", rr.Error)
	}
	if err != nil {
		return nil, false, st.ThrottleWait, err
	}
	b, _ := json.Marshal(rs)
	if err := records.WriteFile(kept, b); err != nil {
		return nil, false, st.ThrottleWait, err
	}
	return rs, len(rs) > 0, st.ThrottleWait, nil
}

// LockClient takes the run lock of one client, across metapipe run and the service's jobs,
// held by holder (a lease's description): a *BusyError when another run holds it.
func (r *Runner) LockClient(ctx context.Context, c records.Client, holder string) (*store.ClientLocks, error) {
	return store.LockClients(ctx, r.pool, []records.Client{c}, r.Lease(holder))
}

// WithMigrationLock runs f holding the migration lock name (store.WithMigrationLock).
func WithMigrationLock(ctx context.Context, pool *pgxpool.Pool, name string, o MigrateOptions, f func(context.Context) error) error {
	return store.WithMigrationLock(ctx, pool, name, o, f)
}

// SchemaVersion is metapipe's schema version in the database and this binary's latest
// (store.SchemaVersion).
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (current, latest int64, err error) {
	return store.SchemaVersion(ctx, pool)
}
