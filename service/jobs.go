package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// ClientRunArgs is the job of one client of one run. It carries ids and the client's name: no token, no data
// (River keeps jobs' arguments and shows them in its UI).
type ClientRunArgs struct {
	RunID    string `json:"run_id"`
	ClientID string `json:"client_id"`
	// Client is the client's name when the job was queued, for River's UI, which shows the
	// arguments; the job works the client by its id.
	Client string `json:"client,omitempty"`
}

// Kind is River's name of the job.
func (ClientRunArgs) Kind() string { return "metapipe_client_run" }

// InsertOpts puts the job in metapipe's queue.
func (ClientRunArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: queueName} }

type clientWorker struct {
	river.WorkerDefaults[ClientRunArgs]
	s *Service
}

// How long a job whose client another run holds waits before it looks again.
const busyWait = 15 * time.Second

// errTakenOver: the job was rescued and taken by another worker while this one worked it.
var errTakenOver = errors.New("the job was taken over by another worker")

// Work is one attempt at a client: plan it if it is not yet, extract it until Meta makes it
// wait (then snooze), then read its KPI days, transform it and load it in the transaction that
// completes the job.
func (w *clientWorker) Work(ctx context.Context, job *river.Job[ClientRunArgs]) error {
	if job.Attempt > w.s.cfg.MaxAttempts { // rescued or retried past this worker's limit
		return w.s.settle(ctx, job, river.JobCancel(fmt.Errorf("%d attempts spent (this worker's --max-attempts is %d)",
			job.Attempt-1, w.s.cfg.MaxAttempts)))
	}
	err := w.s.work(ctx, job)
	var cancel *river.JobCancelError
	if ctx.Err() == nil && !errors.As(err, &cancel) && pipeline.Permanent(err) {
		err = river.JobCancel(err) // asking again will not help: River must not retry
	}
	err = w.s.settle(ctx, job, err)
	w.s.metrics.attempt(attemptOutcome(ctx, job, err))
	return err
}

// clientRun is what the job reads of its run.
type clientRun struct {
	run      RunView
	lookback int // the run's lookback in days, as queued (service_runs.lookback)
	fleet    int // how many clients the run holds, for the planner (pipeline.Options.FleetSize)
	client   records.Client
	state    ClientState
	plan     *pipeline.ClientPlan
	// replace: an explicit re-fetch (service_runs.replace_stored, RunRequest.Replace).
	replace bool
}

func (s *Service) readClientRun(ctx context.Context, a ClientRunArgs) (*clientRun, error) {
	var cr clientRun
	var asOf *time.Time
	var plan []byte
	err := s.pool.QueryRow(ctx, selectClientRun, a.RunID, a.ClientID).Scan(&asOf, &cr.run.Weeks, &cr.lookback, &cr.run.Full, &cr.state, &plan, &cr.replace, &cr.fleet)
	if err != nil {
		return nil, fmt.Errorf("read run %s client %s: %w", a.RunID, a.ClientID, err)
	}
	if asOf != nil {
		cr.run.AsOf, cr.run.AsOfGiven = asOf.Format(time.DateOnly), true
	}
	if plan != nil {
		cr.plan = new(pipeline.ClientPlan)
		if err := json.Unmarshal(plan, cr.plan); err != nil {
			return nil, fmt.Errorf("run %s client %s: plan: %w", a.RunID, a.ClientID, err)
		}
	}
	all, err := s.runner.NamedClients(ctx, []string{a.ClientID})
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.ID == a.ClientID {
			cr.client = c
			return &cr, nil
		}
	}
	return nil, river.JobCancel(fmt.Errorf("client %s is no longer in the clients table", a.ClientID))
}

// attemptOf is the attempt as the API shows it: River's attempts spent, a rescue included,
// plus this one.
func attemptOf(job *river.Job[ClientRunArgs]) int { return len(job.Errors) + 1 }

func (s *Service) setState(ctx context.Context, job *river.Job[ClientRunArgs], state ClientState) error {
	_, err := s.pool.Exec(ctx, updateClientState, job.Args.RunID, job.Args.ClientID, string(state), attemptOf(job), s.cfg.ID)
	return err
}

func (s *Service) work(ctx context.Context, job *river.Job[ClientRunArgs]) error {
	a := job.Args
	cr, err := s.readClientRun(ctx, a)
	if err != nil {
		return err
	}
	log := s.log.With("run", a.RunID, "client", cr.client.Name, "attempt", attemptOf(job))
	if cr.state.Over() {
		// River hands out the job of a client that is over only when it was retried (River's
		// UI's Retry, JobRetry): the client runs again, planned anew, and its run reopens.
		if err := s.reopenClient(ctx, a); err != nil {
			return err
		}
		log.Info("job retried: the client runs again", "was", cr.state)
		cr.state, cr.plan = StateQueued, nil
	}

	// One run at a time per client, across metapipe run and the jobs.
	locks, err := s.runner.LockClient(ctx, cr.client, fmt.Sprintf("metapipe worker %s, job %d of run %s", s.cfg.ID, job.ID, a.RunID))
	var busy *pipeline.BusyError
	if errors.As(err, &busy) {
		log.Info("client held by another run: snoozing", "for", busyWait)
		return errors.Join(s.note(ctx, job, StateWaiting, "another run holds the client"), river.JobSnooze(busyWait))
	}
	if err != nil {
		return err
	}
	defer locks.Release()
	ctx, unbind := locks.Bind(ctx) // ends the attempt if its lock is lost
	defer unbind()

	cp, err := s.planStep(ctx, job, cr)
	if err != nil {
		return err
	}
	if held, err := s.fleet.HeldFor(ctx, cp.Account); err == nil && held > s.cfg.InlineWait {
		log.Info("ad account held by Meta's throttling: snoozing", "for", held)
		_, _ = s.pool.Exec(ctx, updateClientThrottled, overStates, a.RunID, a.ClientID, time.Now())
		return errors.Join(s.note(ctx, job, StateWaiting, ""), river.JobSnooze(held))
	}
	dir := records.RunDir(filepath.Join(s.stage, a.RunID, a.ClientID))
	wait, err := s.extractStep(ctx, job, cr, cp, dir)
	if err != nil {
		return err
	}
	if !wait.IsZero() {
		d := max(time.Until(wait), time.Second)
		log.Info("waiting on Meta: snoozing", "for", d.Round(time.Second))
		return errors.Join(s.note(ctx, job, StateWaiting, ""), river.JobSnooze(d))
	}
	lres, err := s.loadStep(ctx, job, cr, cp, dir)
	if err != nil {
		return err
	}
	s.removeStaged(a)
	s.metrics.loaded(lres)
	log.Info("client loaded", "inserted", lres.Inserted, "updated", lres.Updated, "unchanged", lres.Unchanged, "kept", lres.Kept)
	return nil
}

// reopenClient puts a client that was over back in its run, for a retried job: queued, no plan,
// no error, no saved report runs (they were of the attempt that ended), the run not finished.
func (s *Service) reopenClient(ctx context.Context, a ClientRunArgs) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, reopenClientRow, a.RunID, a.ClientID, string(StateQueued)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, deleteClientReportRuns, a.RunID, a.ClientID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, reopenRun, a.RunID)
		return err
	})
}

// planStep returns the client's plan, planning it first when it is not yet. A client that
// cannot be planned fails for good (a refused token, an as-of after its account's today) or
// is planned again at the next attempt.
func (s *Service) planStep(ctx context.Context, job *river.Job[ClientRunArgs], cr *clientRun) (*pipeline.ClientPlan, error) {
	a := job.Args
	if cr.plan == nil {
		if err := s.setState(ctx, job, StatePlanning); err != nil {
			return nil, err
		}
		var err error
		if cr.plan, err = s.planClient(ctx, a, cr); err != nil {
			return nil, err
		}
	}
	cp := cr.plan
	if err := cp.Err(); err != nil {
		if pipeline.Permanent(err) {
			return nil, river.JobCancel(err)
		}
		_, _ = s.pool.Exec(ctx, clearClientPlan, a.RunID, a.ClientID)
		return nil, err
	}
	return cp, nil
}

// extractStep extracts the client until every kind is staged, or until Meta makes it wait:
// then it returns when to look again, the report runs saved for whichever worker does.
func (s *Service) extractStep(ctx context.Context, job *river.Job[ClientRunArgs], cr *clientRun, cp *pipeline.ClientPlan, dir records.RunDir) (time.Time, error) {
	a := job.Args
	if err := s.setState(ctx, job, StateExtracting); err != nil {
		return time.Time{}, err
	}
	prog := newProgressWriter(s, a)
	out, err := s.runner.ExtractClient(ctx, *cp, cr.client, dir, s.variant(a, prog.report))
	prog.flush(ctx)
	s.metrics.throttleWait.Add(out.ThrottleWait.Seconds())
	return out.Wait, err
}

// variant is what the worker varies in a client's stages: its report runs saved in
// service_report_runs, its waits bounded by InlineWait, the ad accounts' holds shared.
func (s *Service) variant(a ClientRunArgs, progress func(pipeline.Progress)) pipeline.ClientVariant {
	return pipeline.ClientVariant{
		Runs:       observedRuns{&dbReportRuns{pool: s.pool, runID: a.RunID, clientID: a.ClientID}, s.metrics},
		InlineWait: s.cfg.InlineWait, Fleet: notifyingFleet{s.fleet, s, a}, OnProgress: progress}
}

// loadStep reads the client's KPI days, transforms it and loads it (pipeline.TransformLoad)
// in the transaction that completes the job, fenced against a job rescued or taken over
// meanwhile.
func (s *Service) loadStep(ctx context.Context, job *river.Job[ClientRunArgs], cr *clientRun, cp *pipeline.ClientPlan, dir records.RunDir) (pipeline.LoadResult, error) {
	a := job.Args
	if err := s.setState(ctx, job, StateLoading); err != nil {
		return pipeline.LoadResult{}, err
	}
	commit := pipeline.LoadCommit{
		Before: func(ctx context.Context, tx pgx.Tx) error {
			var attempt int
			var lastBy string
			if err := tx.QueryRow(ctx, fenceJob, job.ID).Scan(&attempt, &lastBy); err != nil || attempt != job.Attempt || lastBy != s.cfg.ID {
				return errTakenOver
			}
			return nil
		},
		After: func(ctx context.Context, tx pgx.Tx, out pipeline.ClientLoad) error {
			lres := out.Result
			if _, err := tx.Exec(ctx, updateClientDone, a.RunID, a.ClientID, string(StateDone),
				lres.Inserted, lres.Updated, lres.Unchanged, lres.Confirmed, lres.Kept, lres.Deleted,
				nonNil(out.NotFinal), jsonText(nonNil(out.ReadAgain))); err != nil {
				return err
			}
			if err := s.finishRunTx(ctx, tx, a.RunID); err != nil {
				return err
			}
			done, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			if err != nil {
				return err
			}
			if done.State != rivertype.JobStateCompleted {
				return fmt.Errorf("%w (its state is %s)", errTakenOver, done.State)
			}
			return nil
		},
	}
	v := s.variant(a, nil)
	v.InlineWait = 0 // the second reads of disagreeing weeks wait as a run's do
	out, err := s.runner.TransformLoad(ctx, a.RunID, *cp, cr.client, dir, cr.run.Full, cr.replace, v, commit)
	s.metrics.throttleWait.Add(out.ThrottleWait.Seconds())
	return out.Result, err
}

// removeStaged removes the staged files of a client that is over (loaded, failed or
// interrupted): of no more use. The run's folder goes with its last client.
func (s *Service) removeStaged(a ClientRunArgs) {
	if err := os.RemoveAll(filepath.Join(s.stage, a.RunID, a.ClientID)); err != nil {
		s.log.Warn("remove the staged files", "run", a.RunID, "client_id", a.ClientID, "err", err)
	}
	_ = os.Remove(filepath.Join(s.stage, a.RunID)) // fails while other clients' are there
}

// planClient plans the client as metapipe run would, and keeps the plan with the run.
func (s *Service) planClient(ctx context.Context, a ClientRunArgs, cr *clientRun) (*pipeline.ClientPlan, error) {
	o := pipeline.Options{Weeks: cr.run.Weeks, Lookback: cr.lookback, Full: cr.run.Full, FleetSize: cr.fleet}
	if cr.run.AsOfGiven {
		o.AsOf, _ = time.Parse(time.DateOnly, cr.run.AsOf)
	}
	p, err := s.runner.PlanClients(ctx, []records.Client{cr.client}, o)
	if err != nil {
		return nil, err
	}
	cp := p.Clients[0]
	b, err := json.Marshal(cp)
	if err != nil {
		return nil, err
	}
	if _, err := s.pool.Exec(ctx, updateClientPlan, a.RunID, a.ClientID, string(b), len(records.Kinds)); err != nil {
		return nil, err
	}
	return &cp, nil
}

// note records a client's state and error, for the API, without failing the attempt.
func (s *Service) note(ctx context.Context, job *river.Job[ClientRunArgs], state ClientState, msg string) error {
	_, err := s.pool.Exec(context.WithoutCancel(ctx), updateClientError, overStates, job.Args.RunID, job.Args.ClientID, string(state), msg)
	return err
}

// settle records the outcome of an attempt that did not load the client: a snooze waits, a
// stop puts the job back in the queue, a permanent error fails the client, another error is
// retried by River (and fails the client once its attempts are spent).
func (s *Service) settle(ctx context.Context, job *river.Job[ClientRunArgs], err error) error {
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && err != nil && !errors.As(err, &snooze) {
		// River ended the attempt: it lasted as long as River lets one last before it would
		// rescue the job.
		err = fmt.Errorf("the attempt outlasted its bound of %s (--rescue-after: raise it above the longest attempt, "+
			"a client's result pages read, transformed and loaded): %w", s.cfg.RescueAfter, err)
	}
	switch {
	case err == nil, errors.As(err, &snooze):
		return err
	case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
		// Cancelled in River's UI (or by JobCancel): River ends the job; the client is
		// interrupted, and so is the run once its other clients are over.
		_ = s.note(ctx, job, StateInterrupted, msgCancelled)
		s.markRunFinished(ctx, job.Args.RunID)
		s.removeStaged(job.Args)
		s.log.Warn("client interrupted: its job was cancelled", "run", job.Args.RunID, "client_id", job.Args.ClientID)
		return err
	case errors.Is(ctx.Err(), context.Canceled):
		// Stopped (SIGTERM): the job goes back to the queue at once; River counts no attempt.
		_ = s.note(ctx, job, StateQueued, "")
		return err
	case errors.As(err, &cancel), job.Attempt >= min(job.MaxAttempts, s.cfg.MaxAttempts):
		msg := err.Error()
		if cancel != nil && cancel.Unwrap() != nil {
			msg = cancel.Unwrap().Error()
		}
		_ = s.note(ctx, job, StateFailed, msg)
		s.inTx(ctx, "record the events of a failed client", func(ctx context.Context, tx pgx.Tx) error {
			return s.clientFailedTx(ctx, tx, job.Args, err, msg)
		})
		s.markRunFinished(ctx, job.Args.RunID)
		s.removeStaged(job.Args)
		s.log.Error("client failed", "run", job.Args.RunID, "client_id", job.Args.ClientID, "err", err,
			"attempts", job.Attempt, "max_attempts", s.cfg.MaxAttempts)
		if cancel == nil {
			err = river.JobCancel(err) // this worker's limit, not River's: River must not retry
		}
		return err
	default:
		_, _ = s.pool.Exec(context.WithoutCancel(ctx), updateAttemptError, job.Args.RunID, job.Args.ClientID, err.Error())
		s.log.Warn("client attempt failed: River retries it", "run", job.Args.RunID, "client_id", job.Args.ClientID,
			"attempt", attemptOf(job), "of", min(job.MaxAttempts, s.cfg.MaxAttempts), "err", err)
		return err
	}
}

func (s *Service) markRunFinished(ctx context.Context, runID string) {
	s.inTx(ctx, "finish run "+runID, func(ctx context.Context, tx pgx.Tx) error { return s.finishRunTx(ctx, tx, runID) })
}

// jsonText is v as JSON text.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// nonNil is s, or an empty slice for nil (a JSON [] and a SQL '{}', not null).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// progressWriter keeps a client's progress in service_run_clients: its report kinds done and
// Meta's percent over the kinds, at most once a second, and since when Meta's throttling holds
// it, as soon as that changes.
type progressWriter struct {
	s         *Service
	a         ClientRunArgs
	mu        sync.Mutex
	kinds     map[records.Kind]pipeline.Progress
	written   time.Time
	throttled time.Time // the ThrottledSince last written (zero: none, or not yet written)
}

func newProgressWriter(s *Service, a ClientRunArgs) *progressWriter {
	return &progressWriter{s: s, a: a, kinds: map[records.Kind]pipeline.Progress{}}
}

func (p *progressWriter) report(pr pipeline.Progress) {
	p.mu.Lock()
	p.kinds[pr.Kind] = pr
	due := time.Since(p.written) >= time.Second
	if due {
		p.written = time.Now()
	}
	throttled := !pr.ThrottledSince.Equal(p.throttled)
	p.throttled = pr.ThrottledSince
	p.mu.Unlock()
	if throttled {
		var since *time.Time // NULL clears it: a request succeeded since
		if !pr.ThrottledSince.IsZero() {
			since = &pr.ThrottledSince
		}
		_, _ = p.s.pool.Exec(context.Background(), updateClientThrottled, overStates, p.a.RunID, p.a.ClientID, since)
	}
	if due {
		p.flush(context.Background())
	}
}

func (p *progressWriter) flush(ctx context.Context) {
	p.mu.Lock()
	done, sum := 0, 0
	for _, k := range records.Kinds {
		pr := p.kinds[k]
		switch pr.State {
		case pipeline.ProgressDone:
			done++
			sum += 100
		case pipeline.ProgressReading:
			sum += 100
		default:
			sum += pr.Percent
		}
	}
	p.mu.Unlock()
	_, _ = p.s.pool.Exec(context.WithoutCancel(ctx), updateClientProgress, overStates, p.a.RunID, p.a.ClientID, done, sum/len(records.Kinds))
}
