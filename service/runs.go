package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// RunRequest is what a run is asked for: by POST /v1/runs, by metapipe enqueue, by the daily
// schedule. The zero values take the defaults of metapipe run.
type RunRequest struct {
	Clients []string  // names or ids; empty: every active client
	AsOf    time.Time // zero: each ad account's today; never after today
	Weeks   int       // horizon in weeks, the current week included (0: 54)
	Full    bool      // refetch the whole horizon
	Source  string    // api, enqueue, schedule or page (the run's history says who asked)
	// Replace is an explicit re-fetch: the loads replace the stored figures of the range even
	// when they are as of a later date (store.Request.Replace). It needs Full.
	Replace bool
}

// Defaults of a run (as `metapipe run`'s flags).
const (
	DefaultWeeks    = 54
	DefaultLookback = 28
	maxWeeks        = 160
)

// FieldError is a request that cannot be run, naming the field at fault (HTTP 400).
type FieldError struct {
	Field  string // clients, as_of, weeks
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// ConflictError says that the same clients and as-of date are already queued or running, in
// the run RunID (HTTP 409).
type ConflictError struct{ RunID string }

func (e *ConflictError) Error() string {
	return "the same clients and as-of date are already queued or running in run " + e.RunID
}

// A client's state in a run.
const (
	StateQueued      = "queued"      // its job waits for a worker
	StatePlanning    = "planning"    // reading its ad account and sync state
	StateExtracting  = "extracting"  // submitting, polling, reading its report runs
	StateWaiting     = "waiting"     // snoozed: Meta works, or another run holds the client
	StateLoading     = "loading"     // KPI read, transform and load
	StateDone        = "done"        // loaded
	StateFailed      = "failed"      // gave up: a permanent error, or River's attempts spent
	StateInterrupted = "interrupted" // its job was cancelled (River's UI)
)

const (
	insertRun        = `INSERT INTO service_runs (id, request_key, as_of, nominal_as_of, weeks, lookback, full_refetch, source, replace_stored) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	insertRunClients = `INSERT INTO service_run_clients (run_id, client_id, job_id) SELECT $1, c, j FROM unnest($2::uuid[], $3::bigint[]) AS t (c, j)`
	lockRequestKey   = `SELECT pg_advisory_xact_lock($1)`
	// activeRun is the newest run of a request key with a client whose job is not over.
	activeRun = `
SELECT r.id FROM service_runs r
WHERE r.request_key = $1 AND EXISTS (
    SELECT 1 FROM service_run_clients c JOIN river_job j ON j.id = c.job_id
    WHERE c.run_id = r.id AND c.state NOT IN ('done', 'failed', 'interrupted')
      AND j.state NOT IN ('completed', 'cancelled', 'discarded'))
ORDER BY r.created_at DESC LIMIT 1`
)

// Enqueue queues a run: one River job per client, in one transaction, and returns the run's
// id at once, whatever the size of the run. A request that cannot run is a *FieldError; the
// same clients and as-of date already queued or running are a *ConflictError with that run's
// id. The as-of date is checked against today in every time zone and in each ad account's
// time zone as cached (pipeline.Runner.CheckAsOf); an account never cached yet is checked by
// its job, once Meta names its time zone.
func (s *Service) Enqueue(ctx context.Context, req RunRequest) (string, error) {
	if req.Weeks == 0 {
		req.Weeks = DefaultWeeks
	}
	if req.Weeks < 1 || req.Weeks > maxWeeks {
		return "", &FieldError{"weeks", fmt.Sprintf("%d is outside 1..%d", req.Weeks, maxWeeks)}
	}
	var all []records.Client
	var err error
	if len(req.Clients) > 0 {
		all, err = s.runner.NamedClients(ctx, req.Clients) // not the whole fleet for a few clients
	} else {
		all, err = s.runner.Clients(ctx)
	}
	if err != nil {
		return "", err
	}
	clients, err := pipeline.SelectClients(all, req.Clients, pipeline.Shard{})
	if err != nil {
		if fe := FieldErrorOf(err); fe != nil {
			return "", fe
		}
		return "", err
	}
	if len(clients) == 0 {
		return "", &FieldError{"clients", "no active client to run"}
	}
	switch err := s.runner.CheckAsOf(ctx, clients, req.AsOf); {
	case FieldErrorOf(err) != nil:
		return "", FieldErrorOf(err)
	case err != nil:
		return "", err
	}
	nominal := records.Day(time.Now().UTC())
	var asOf *time.Time
	if !req.AsOf.IsZero() {
		nominal = records.Day(req.AsOf)
		asOf = &nominal
	}
	ids := make([]string, len(clients))
	names := make(map[string]string, len(clients))
	for i, c := range clients {
		ids[i], names[c.ID] = c.ID, c.Name
	}
	slices.Sort(ids)
	key := requestKey(nominal, ids)
	runID := pipeline.NewRunID()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		h := fnv.New64a()
		h.Write([]byte("metapipe:enqueue:" + key))
		if _, err := tx.Exec(ctx, lockRequestKey, int64(h.Sum64())); err != nil {
			return err
		}
		var existing string
		switch err := tx.QueryRow(ctx, activeRun, key).Scan(&existing); {
		case err == nil:
			return &ConflictError{RunID: existing}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := tx.Exec(ctx, insertRun, runID, key, asOf, nominal, req.Weeks, DefaultLookback, req.Full || req.Replace, req.Source, req.Replace); err != nil {
			return err
		}
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: ClientRunArgs{RunID: runID, ClientID: id, Client: names[id]},
				InsertOpts: &river.InsertOpts{MaxAttempts: MaxAttemptsCeiling}} // the worker applies its own MaxAttempts
		}
		res, err := s.river.InsertManyTx(ctx, tx, params)
		if err != nil {
			return fmt.Errorf("queue the jobs: %w", err)
		}
		jobs := make([]int64, len(res))
		for i, r := range res {
			jobs[i] = r.Job.ID
		}
		_, err = tx.Exec(ctx, insertRunClients, runID, ids, jobs) // one statement, whatever the run's size
		return err
	})
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) {
			return "", ce
		}
		return "", &StartError{What: "queue run", Err: err}
	}
	s.log.Info("run queued", "run", runID, "clients", len(ids), "as_of", nominal.Format(time.DateOnly), "source", req.Source)
	return runID, nil
}

// requestKey names what a run was asked for, the same for the same as-of date and clients: the
// date and a SHA-256 of the sorted client ids, short whatever the number of clients (the ids
// themselves, 37 bytes each, outgrow a btree index entry past about 200 clients).
func requestKey(nominal time.Time, sortedIDs []string) string {
	sum := sha256.Sum256([]byte(strings.Join(sortedIDs, ",")))
	return nominal.Format(time.DateOnly) + "|" + hex.EncodeToString(sum[:])
}

// RunView is a run as the API shows it (GET /v1/runs/{id}).
type RunView struct {
	RunID      string       `json:"run_id"`
	State      string       `json:"state"` // queued, running, done, partial, failed, interrupted
	AsOf       string       `json:"as_of"` // the as-of date asked for, or the UTC date queued (each account then runs as of its own today)
	AsOfGiven  bool         `json:"as_of_given"`
	Weeks      int          `json:"weeks"`
	Full       bool         `json:"full"`
	Source     string       `json:"source"`
	CreatedAt  time.Time    `json:"created_at"`
	FinishedAt *time.Time   `json:"finished_at"`
	Clients    []ClientView `json:"clients"`
}

// ClientView is one client of a run: its state, its attempt (River's attempts, a rescue
// included), its report runs done of those planned, Meta's percent, what its load did to
// campaign_summaries (rows inserted, updated, unchanged, … as `metapipe run` counts them; all 0
// until it is done), the last error, since when Meta's throttling holds it, and the weeks whose
// sums disagreed with the account's totals.
type ClientView struct {
	ClientID     string             `json:"client_id"`
	Name         string             `json:"name"`
	State        string             `json:"state"`
	Attempt      int                `json:"attempt"`
	Worker       string             `json:"worker,omitempty"`
	ReportsDone  int                `json:"reports_done"`
	ReportsTotal int                `json:"reports_total"`
	Percent      int                `json:"percent"`
	Rows         pipeline.RowCounts `json:"rows"`
	Error        string             `json:"error"`
	Updated      time.Time          `json:"updated_at"`
	// ThrottledSince is when Meta began throttling the client's ad account, with no success
	// since, while the client waits on it (null otherwise; kept when the client failed).
	ThrottledSince *time.Time `json:"throttled_since"`
	// NotFinal lists the weeks (Mondays, YYYY-MM-DD) whose campaign, placement or demographic
	// sums still disagreed with the account's totals after they were read again: loaded, never
	// made final (empty until the client is done).
	NotFinal []string `json:"not_final"`
	// ReadAgain lists the kinds and weeks read again in the run because their sums disagreed,
	// and whether they agreed then.
	ReadAgain []pipeline.RefetchRecord `json:"read_again"`
}

// ErrNoRun is a run id the service does not know.
var ErrNoRun = errors.New("no such run")

const (
	selectRun = `
SELECT id, coalesce(as_of, nominal_as_of)::text, as_of IS NOT NULL, weeks, full_refetch, source, created_at, finished_at
FROM service_runs WHERE id = $1`
	selectRuns = `
SELECT id, coalesce(as_of, nominal_as_of)::text, as_of IS NOT NULL, weeks, full_refetch, source, created_at, finished_at
FROM service_runs ORDER BY created_at DESC, id DESC LIMIT $1`
	// selectRunClients reads each client with its job. A job cancelled or discarded by River
	// while the client is not over makes it interrupted or failed; the attempt is River's
	// attempts spent (its errors, a rescue included) plus the one under way.
	selectRunClients = `
SELECT c.run_id, c.client_id::text, cl.name,
       CASE WHEN c.state IN ('done', 'failed', 'interrupted') THEN c.state
            WHEN j.state = 'cancelled' THEN 'interrupted'
            WHEN j.state = 'discarded' THEN 'failed'
            ELSE c.state END,
       CASE WHEN j.id IS NULL THEN c.attempt
            WHEN j.attempted_at IS NULL THEN 0
            ELSE coalesce(array_length(j.errors, 1), 0) + CASE WHEN j.state IN ('cancelled', 'discarded') THEN 0 ELSE 1 END END,
       c.worker, c.reports_done, c.reports_total, c.percent,
       c.rows_inserted, c.rows_updated, c.rows_unchanged, c.rows_confirmed, c.rows_kept, c.rows_deleted,
       CASE WHEN c.error <> '' THEN c.error
            WHEN j.state IN ('cancelled', 'discarded') THEN coalesce(j.errors[array_upper(j.errors, 1)]->>'error', '')
            ELSE '' END,
       c.updated_at, c.throttled_since, c.not_final::text[], c.read_again
FROM service_run_clients c JOIN clients cl ON cl.id = c.client_id LEFT JOIN river_job j ON j.id = c.job_id
WHERE c.run_id = ANY ($1::text[])
ORDER BY cl.name, c.client_id`
)

// msgCancelled is the error of a client whose job was cancelled from outside the service.
const msgCancelled = "its job was cancelled (River's UI or JobCancel)"

const (
	// endClientsOfEndedJobs records the end of the clients whose job River ended without the
	// service's worker settling it: cancelled while it waited (River's UI, JobCancel), or
	// discarded by River's rescuer after the last attempt of a dead worker. River deletes such
	// jobs after a day or a week; the run's history must not change then.
	endClientsOfEndedJobs = `
UPDATE service_run_clients c
SET state = CASE WHEN j.state = 'cancelled' THEN 'interrupted' ELSE 'failed' END,
    error = CASE WHEN j.state = 'cancelled' THEN $2
                 ELSE coalesce(j.errors[array_upper(j.errors, 1)]->>'error', 'its job was discarded') END,
    updated_at = now()
FROM river_job j
WHERE j.id = c.job_id AND j.state IN ('cancelled', 'discarded') AND c.state NOT IN ('done', 'failed', 'interrupted')
  AND ($1::text[] IS NULL OR c.run_id = ANY ($1))
RETURNING c.run_id, c.client_id::text`
	// endClientsOfDeletedJobs records the end of the clients whose job is gone from river_job
	// while they were not over: deleted in River's UI (or by JobDelete), which only deletes jobs
	// that are not running. River's own cleanup deletes only finished jobs, whose clients are
	// over already.
	endClientsOfDeletedJobs = `
UPDATE service_run_clients c
SET state = 'interrupted', error = $2, updated_at = now()
WHERE c.job_id IS NOT NULL AND c.state NOT IN ('done', 'failed', 'interrupted')
  AND ($1::text[] IS NULL OR c.run_id = ANY ($1))
  AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.id = c.job_id)
RETURNING c.run_id, c.client_id::text`
)

// msgDeleted is the error of a client whose job was deleted from outside the service.
const msgDeleted = "its job was deleted (River's UI or JobDelete)"

// reconcile records the clients whose jobs River ended on its own (cancelled, discarded) and
// finishes their runs, for the runs given (nil: every run). Reads call it, so that a run is
// shown as it is, and workers call it now and then, so that it is kept once River deletes the
// jobs. It says whether it ended a client.
func (s *Service) reconcile(ctx context.Context, runIDs []string) (bool, error) {
	var ended []string
	for _, q := range []struct{ sql, msg string }{{endClientsOfEndedJobs, msgCancelled}, {endClientsOfDeletedJobs, msgDeleted}} {
		rows, err := s.pool.Query(ctx, q.sql, runIDs, q.msg)
		if err != nil {
			return false, fmt.Errorf("reconcile runs: %w", err)
		}
		var a ClientRunArgs
		if _, err := pgx.ForEachRow(rows, []any{&a.RunID, &a.ClientID}, func() error {
			ended = append(ended, a.RunID)
			s.removeStaged(a) // here at once when this process staged them; else the workers' sweep
			return nil
		}); err != nil {
			return false, fmt.Errorf("reconcile runs: %w", err)
		}
	}
	if len(ended) == 0 {
		return false, nil
	}
	slices.Sort(ended)
	for _, id := range slices.Compact(ended) {
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.finishRunTx(ctx, tx, id) }); err != nil {
			return false, fmt.Errorf("reconcile runs: %w", err)
		}
	}
	return true, nil
}

// Run reads one run; an unknown id is ErrNoRun.
func (s *Service) Run(ctx context.Context, id string) (*RunView, error) {
	runs, err := s.queryRuns(ctx, selectRun, id)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, ErrNoRun
	}
	return &runs[0], nil
}

// Runs reads the newest runs, at most limit.
func (s *Service) Runs(ctx context.Context, limit int) ([]RunView, error) {
	return s.queryRuns(ctx, selectRuns, limit)
}

func (s *Service) queryRuns(ctx context.Context, query string, arg any) ([]RunView, error) {
	rows, err := s.pool.Query(ctx, query, arg)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RunView, error) {
		var r RunView
		err := row.Scan(&r.RunID, &r.AsOf, &r.AsOfGiven, &r.Weeks, &r.Full, &r.Source, &r.CreatedAt, &r.FinishedAt)
		return r, err
	})
	if err != nil || len(runs) == 0 {
		return runs, err
	}
	ids := make([]string, len(runs))
	index := map[string]int{}
	var open []string
	for i, r := range runs {
		ids[i], index[r.RunID] = r.RunID, i
		if r.FinishedAt == nil {
			open = append(open, r.RunID)
		}
	}
	if len(open) > 0 {
		switch ended, err := s.reconcile(ctx, open); {
		case err != nil:
			return nil, err
		case ended:
			return s.queryRuns(ctx, query, arg) // read again what it recorded
		}
	}
	crows, err := s.pool.Query(ctx, selectRunClients, ids)
	if err != nil {
		return nil, fmt.Errorf("read run clients: %w", err)
	}
	var runID string
	var c ClientView
	_, err = pgx.ForEachRow(crows, []any{&runID, &c.ClientID, &c.Name, &c.State, &c.Attempt, &c.Worker, &c.ReportsDone,
		&c.ReportsTotal, &c.Percent, &c.Rows.Inserted, &c.Rows.Updated, &c.Rows.Unchanged, &c.Rows.Confirmed,
		&c.Rows.Kept, &c.Rows.Deleted, &c.Error, &c.Updated, &c.ThrottledSince, &c.NotFinal, &c.ReadAgain}, func() error {
		r := &runs[index[runID]]
		r.Clients = append(r.Clients, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read run clients: %w", err)
	}
	for i := range runs {
		runs[i].State, runs[i].FinishedAt = runState(runs[i].Clients, runs[i].FinishedAt)
	}
	return runs, nil
}

// runState derives a run's state from its clients': queued until one starts, running until
// all are over, then done (all loaded), interrupted (one was cancelled), partial (some loaded)
// or failed (none).
func runState(clients []ClientView, finished *time.Time) (string, *time.Time) {
	var queued, over, done, interrupted int
	var last time.Time
	for _, c := range clients {
		switch c.State {
		case StateQueued:
			queued++
		case StateDone:
			done++
			over++
		case StateInterrupted:
			interrupted++
			over++
		case StateFailed:
			over++
		}
		if c.Updated.After(last) {
			last = c.Updated
		}
	}
	switch {
	case queued == len(clients):
		return "queued", nil
	case over < len(clients):
		return "running", nil
	}
	if finished == nil {
		finished = &last
	}
	switch {
	case interrupted > 0:
		return "interrupted", finished
	case done == len(clients):
		return "done", finished
	case done > 0:
		return "partial", finished
	}
	return "failed", finished
}
