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
	"github.com/riverqueue/river/rivertype"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// RunRequest is what a run is asked for: by POST /v1/runs, by metapipe enqueue, by the daily
// schedule. The zero values take the defaults of metapipe run.
type RunRequest struct {
	Clients []string  // names or ids; empty: every active client
	AsOf    time.Time // zero: each ad account's today; never after today
	Weeks   int       // horizon in weeks, the current week included, 1 to pipeline.MaxWeeks; defaults to pipeline.DefaultWeeks
	Full    bool      // refetch the whole horizon
	Source  string    // api, enqueue, schedule or page (the run's history says who asked)
	// Replace is an explicit re-fetch: the loads replace the stored figures of the range even
	// when they are as of a later date (store.Request.Replace). It needs Full.
	Replace bool
}

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

// Enqueue queues a run: one River job per client, in one transaction, and returns the run's
// id at once, whatever the size of the run. A request that cannot run is a *FieldError; the
// same clients and as-of date already queued or running are a *ConflictError with that run's
// id. The as-of date is checked against today in every time zone and in each ad account's
// time zone as cached (pipeline.Runner.CheckAsOf); an account never cached yet is checked by
// its job, once Meta names its time zone.
func (s *Service) Enqueue(ctx context.Context, req RunRequest) (string, error) {
	clients, err := s.runClients(ctx, &req)
	if err != nil {
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
		if err := s.checkNoActiveRun(ctx, tx, key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertRun, runID, key, asOf, nominal, req.Weeks, pipeline.DefaultLookback, req.Full || req.Replace, req.Source, req.Replace); err != nil {
			return err
		}
		return s.queueJobsTx(ctx, tx, runID, ids, names)
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

// runClients checks a request (its weeks defaulted in place) and returns its clients, or a
// *FieldError naming what is at fault.
func (s *Service) runClients(ctx context.Context, req *RunRequest) ([]records.Client, error) {
	if req.Weeks == 0 {
		req.Weeks = pipeline.DefaultWeeks
	}
	if req.Weeks < 1 || req.Weeks > pipeline.MaxWeeks {
		return nil, &FieldError{"weeks", fmt.Sprintf("%d is outside 1..%d", req.Weeks, pipeline.MaxWeeks)}
	}
	var all []records.Client
	var err error
	if len(req.Clients) > 0 {
		all, err = s.runner.NamedClients(ctx, req.Clients) // not the whole fleet for a few clients
	} else {
		all, err = s.runner.Clients(ctx)
	}
	if err != nil {
		return nil, err
	}
	clients, err := pipeline.SelectClients(all, req.Clients, pipeline.Shard{})
	if err != nil {
		if fe := FieldErrorOf(err); fe != nil {
			return nil, fe
		}
		return nil, err
	}
	if len(clients) == 0 {
		return nil, &FieldError{"clients", "no active client to run"}
	}
	switch err := s.runner.CheckAsOf(ctx, clients, req.AsOf); {
	case FieldErrorOf(err) != nil:
		return nil, FieldErrorOf(err)
	case err != nil:
		return nil, err
	}
	return clients, nil
}

// checkNoActiveRun takes the request key's lock for tx and returns a *ConflictError naming
// the newest run of the key with a client not over whose job River has not ended either.
func (s *Service) checkNoActiveRun(ctx context.Context, tx pgx.Tx, key string) error {
	h := fnv.New64a()
	h.Write([]byte("metapipe:enqueue:" + key))
	if _, err := tx.Exec(ctx, lockRequestKey, int64(h.Sum64())); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, openRunsOfKey, key, overStates)
	if err != nil {
		return err
	}
	type openRun struct {
		id   string
		jobs []int64
	}
	var open []openRun
	var r openRun
	var all []int64
	if _, err := pgx.ForEachRow(rows, []any{&r.id, &r.jobs}, func() error {
		open, all = append(open, r), append(all, r.jobs...)
		return nil
	}); err != nil {
		return err
	}
	jobs, err := s.jobsByID(ctx, tx, all)
	if err != nil {
		return err
	}
	for _, r := range open {
		for _, id := range r.jobs {
			if j := jobs[id]; j != nil && !jobOver(j.State) {
				return &ConflictError{RunID: r.id}
			}
		}
	}
	return nil
}

// queueJobsTx queues one River job per client of the run and records them with the run, in tx.
func (s *Service) queueJobsTx(ctx context.Context, tx pgx.Tx, runID string, ids []string, names map[string]string) error {
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
	State      RunState     `json:"state"` // queued, running, done, partial, failed, interrupted
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
	State        ClientState        `json:"state"`
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

// msgCancelled is the error of a client whose job was cancelled from outside the service.
const msgCancelled = "its job was cancelled (River's UI or JobCancel)"

// msgDeleted is the error of a client whose job was deleted from outside the service.
const msgDeleted = "its job was deleted (River's UI or JobDelete)"

// reconcile records the clients whose jobs River ended on its own and finishes their runs,
// for the runs given (nil: every run): a job cancelled while it waited (River's UI,
// JobCancel) interrupts its client, a job discarded by River's rescuer after the last attempt
// of a dead worker fails it, and a job deleted (River's UI, JobDelete: only jobs not running)
// interrupts it. River deletes ended jobs after a day or a week; the run's history must not
// change then. Reads call it, so that a run is shown as it is, and workers call it now and
// then. River is asked through its client (JobList). It says whether it ended a client.
func (s *Service) reconcile(ctx context.Context, runIDs []string) (bool, error) {
	rows, err := s.pool.Query(ctx, liveJobs, overStates, runIDs)
	if err != nil {
		return false, fmt.Errorf("reconcile runs: %w", err)
	}
	var live []ClientRunArgs
	var ids []int64
	var a ClientRunArgs
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&a.RunID, &a.ClientID, &id}, func() error {
		live, ids = append(live, a), append(ids, id)
		return nil
	}); err != nil {
		return false, fmt.Errorf("reconcile runs: %w", err)
	}
	jobs, err := s.jobsByID(ctx, nil, ids)
	if err != nil {
		return false, fmt.Errorf("reconcile runs: %w", err)
	}
	var runs, clients, states, errs []string
	for i, a := range live {
		if st, msg, ended := endOfJob(jobs[ids[i]]); ended {
			runs, clients, states, errs = append(runs, a.RunID), append(clients, a.ClientID), append(states, string(st)), append(errs, msg)
		}
	}
	if len(runs) == 0 {
		return false, nil
	}
	rows, err = s.pool.Query(ctx, endClients, overStates, runs, clients, states, errs)
	if err != nil {
		return false, fmt.Errorf("reconcile runs: %w", err)
	}
	var ended []string
	if _, err := pgx.ForEachRow(rows, []any{&a.RunID, &a.ClientID}, func() error {
		ended = append(ended, a.RunID)
		s.removeStaged(a) // here at once when this process staged them; else the workers' sweep
		return nil
	}); err != nil {
		return false, fmt.Errorf("reconcile runs: %w", err)
	}
	slices.Sort(ended)
	for _, id := range slices.Compact(ended) {
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.finishRunTx(ctx, tx, id) }); err != nil {
			return false, fmt.Errorf("reconcile runs: %w", err)
		}
	}
	return len(ended) > 0, nil
}

// endOfJob is the state and error River's end of a job (nil: deleted) gives a client not
// over, and whether it ended the client.
func endOfJob(j *rivertype.JobRow) (ClientState, string, bool) {
	switch {
	case j == nil:
		return StateInterrupted, msgDeleted, true
	case j.State == rivertype.JobStateCancelled:
		return StateInterrupted, msgCancelled, true
	case j.State == rivertype.JobStateDiscarded:
		if n := len(j.Errors); n > 0 {
			return StateFailed, j.Errors[n-1].Error, true
		}
		return StateFailed, "its job was discarded", true
	}
	return "", "", false
}

// jobOver says whether River ended a job for good: completed, cancelled or discarded.
func jobOver(st rivertype.JobState) bool {
	return st == rivertype.JobStateCompleted || st == rivertype.JobStateCancelled || st == rivertype.JobStateDiscarded
}

// jobAttempt is a job's attempt as the API shows it: River's attempts spent (its errors, a
// rescue included) plus the one under way; 0 before the first.
func jobAttempt(j *rivertype.JobRow) int {
	if j.AttemptedAt == nil {
		return 0
	}
	n := len(j.Errors)
	if j.State != rivertype.JobStateCancelled && j.State != rivertype.JobStateDiscarded {
		n++
	}
	return n
}

// jobListPage is the most jobs one JobList returns (River's limit).
const jobListPage = 10_000

// jobsByID reads River's jobs of the given ids through River's client (in tx, unless nil),
// by id; a job River deleted is absent.
func (s *Service) jobsByID(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]*rivertype.JobRow, error) {
	out := make(map[int64]*rivertype.JobRow, len(ids))
	for chunk := range slices.Chunk(ids, jobListPage) {
		p := river.NewJobListParams().IDs(chunk...).First(len(chunk))
		var res *river.JobListResult
		var err error
		if tx != nil {
			res, err = s.river.JobListTx(ctx, tx, p)
		} else {
			res, err = s.river.JobList(ctx, p)
		}
		if err != nil {
			return nil, fmt.Errorf("read River's jobs: %w", err)
		}
		for _, j := range res.Jobs {
			out[j.ID] = j
		}
	}
	return out, nil
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
	if err := s.readRunClients(ctx, runs, ids, index); err != nil {
		return nil, err
	}
	for i := range runs {
		runs[i].State, runs[i].FinishedAt = runState(runs[i].Clients, runs[i].FinishedAt)
	}
	return runs, nil
}

// readRunClients reads the clients of the runs ids (runs[index[id]]), each with the attempt
// River counts for its job (the one recorded once River deleted the job).
func (s *Service) readRunClients(ctx context.Context, runs []RunView, ids []string, index map[string]int) error {
	crows, err := s.pool.Query(ctx, selectRunClients, ids)
	if err != nil {
		return fmt.Errorf("read run clients: %w", err)
	}
	var runID string
	var c ClientView
	var jobID int64
	var jobIDs []int64
	var at [][2]int // each row's run and client index, in jobIDs' order
	_, err = pgx.ForEachRow(crows, []any{&runID, &c.ClientID, &c.Name, &c.State, &jobID, &c.Attempt, &c.Worker, &c.ReportsDone,
		&c.ReportsTotal, &c.Percent, &c.Rows.Inserted, &c.Rows.Updated, &c.Rows.Unchanged, &c.Rows.Confirmed,
		&c.Rows.Kept, &c.Rows.Deleted, &c.Error, &c.Updated, &c.ThrottledSince, &c.NotFinal, &c.ReadAgain}, func() error {
		r := &runs[index[runID]]
		r.Clients = append(r.Clients, c)
		jobIDs, at = append(jobIDs, jobID), append(at, [2]int{index[runID], len(r.Clients) - 1})
		return nil
	})
	if err != nil {
		return fmt.Errorf("read run clients: %w", err)
	}
	jobs, err := s.jobsByID(ctx, nil, slices.DeleteFunc(slices.Clone(jobIDs), func(id int64) bool { return id == 0 }))
	if err != nil {
		return fmt.Errorf("read run clients: %w", err)
	}
	for i, id := range jobIDs {
		if j := jobs[id]; j != nil {
			runs[at[i][0]].Clients[at[i][1]].Attempt = jobAttempt(j)
		}
	}
	return nil
}

// runState derives a run's state from its clients' (runStateOf), and when it finished: the
// time recorded, else its clients' last update once it is over.
func runState(clients []ClientView, finished *time.Time) (RunState, *time.Time) {
	n := map[ClientState]int{}
	var last time.Time
	for _, c := range clients {
		n[c.State]++
		if c.Updated.After(last) {
			last = c.Updated
		}
	}
	st := runStateOf(n)
	if !st.Over() {
		return st, nil
	}
	if finished == nil {
		finished = &last
	}
	return st, finished
}
