package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/robfig/cron/v3"

	"github.com/metapipe/metapipe/pipeline"
)

// queueName is the River queue of metapipe's jobs.
const queueName = "metapipe"

// Service is one process of the service: it queues runs, reads them, and works jobs when its
// Concurrency is not 0.
type Service struct {
	cfg    Config
	runner *pipeline.Runner
	pool   *pgxpool.Pool
	river  *river.Client[pgx.Tx]
	fleet  fleetThrottle
	log    *slog.Logger
	stage  string // <stage-dir>/service
	// stopReconcile ends the worker's reconcile loop; reconciled is closed when it has.
	stopReconcile context.CancelFunc
	reconciled    chan struct{}

	// metrics are the process's Prometheus metrics (metrics.go).
	metrics *Metrics
}

// reconcileEvery is how often a worker records the clients whose jobs River ended on its own.
const reconcileEvery = 30 * time.Second

// Open connects to the database and builds the River client. The schema (metapipe's and
// River's) must be migrated: otherwise a *StartError says so; a Config that cannot work is a
// *ConfigError; the pipeline's errors are returned as they are.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	metrics := newMetrics()
	cfg.Pipeline.OnGraphAnswer = metrics.graphAnswer
	runner, err := pipeline.Open(ctx, cfg.Pipeline)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, runner: runner, pool: runner.Pool(), log: cfg.Logger,
		fleet: fleetThrottle{pool: runner.Pool()}, stage: filepath.Join(stageDir(cfg.Pipeline), "service")}
	s.metrics = metrics
	metrics.reg.MustRegister(&dbCollector{s: s})
	if err := checkSchemas(ctx, s.pool); err != nil {
		runner.Close()
		return nil, &StartError{What: "check the schemas", Err: err}
	}
	rc := &river.Config{
		ID:                   cfg.ID,
		Logger:               cfg.Logger,
		MaxAttempts:          cfg.MaxAttempts,
		RescueStuckJobsAfter: cfg.RescueAfter,
		// An attempt's own bound: River rescues only jobs past it, and needs it no longer than
		// RescueAfter. As long as it may be: an attempt that reads many result pages needs it.
		JobTimeout: cfg.RescueAfter,
	}
	if err := s.addWorkers(ctx, rc); err != nil {
		runner.Close()
		return nil, err
	}
	s.river, err = river.NewClient(riverpgxv5.New(s.pool), rc)
	if err != nil {
		runner.Close()
		return nil, &ConfigError{Setting: "river", Err: err}
	}
	return s, nil
}

// addWorkers makes rc work jobs when the process's Concurrency is not 0: the clients' jobs,
// the daily run (Schedule), the notifications; River listens for new jobs, or polls where
// LISTEN/NOTIFY does not reach the process.
func (s *Service) addWorkers(ctx context.Context, rc *river.Config) error {
	if s.cfg.Concurrency == 0 {
		return nil
	}
	if notifyWorks(ctx, s.pool) {
		s.log.Info("River listens for new jobs (LISTEN/NOTIFY reaches this process)")
	} else {
		// River's own advice for PgBouncer in transaction mode: its poll-only mode.
		rc.PollOnly = true
		s.log.Info("River polls for new jobs every second (poll-only mode): LISTEN/NOTIFY does not reach this process, " +
			"as through a pooler in transaction mode (Supabase's port 6543, Neon's -pooler host)")
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &clientWorker{s: s})
	river.AddWorker(workers, &dailyWorker{s: s})
	river.AddWorker(workers, &notifyWorker{s: s})
	rc.Workers = workers
	rc.Queues = map[string]river.QueueConfig{queueName: {MaxWorkers: s.cfg.Concurrency}, notifyQueue: {MaxWorkers: 2}}
	if s.cfg.Schedule != "" {
		sched, err := cron.ParseStandard(s.cfg.Schedule)
		if err != nil {
			return &ConfigError{Setting: fmt.Sprintf("--schedule %q", s.cfg.Schedule), Err: err}
		}
		rc.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
			return DailyRunArgs{Date: time.Now().UTC().Format(time.DateOnly)}, nil
		}, &river.PeriodicJobOpts{ID: "metapipe_daily_run"})}
	}
	return nil
}

// notifyWorks reports whether a notification sent on one connection of the pool reaches a
// session that listens on another, within 3 s. Through a pooler in transaction mode it does
// not: the LISTEN stays with a server connection the listener no longer holds.
func notifyWorks(ctx context.Context, pool *pgxpool.Pool) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return false
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var b [8]byte
	_, _ = rand.Read(b[:])
	channel := "metapipe_probe_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return false
	}
	if _, err := pool.Exec(ctx, `SELECT pg_notify($1, 'probe')`, channel); err != nil {
		return false
	}
	n, err := conn.WaitForNotification(ctx)
	// Through a transaction pooler the LISTEN stays on a pooled server connection: unlisten
	// (best effort: on whichever server connection this statement gets).
	_, _ = conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+pgx.Identifier{channel}.Sanitize())
	return err == nil && n.Channel == channel
}

func stageDir(c pipeline.Config) string { return c.WithDefaults().StageDir }

// Start works jobs until Stop; ctx's end does not stop it (Stop does, handing running jobs
// back at once). A process without Concurrency has nothing to start.
func (s *Service) Start(ctx context.Context) error {
	if s.cfg.Concurrency == 0 {
		return nil
	}
	if err := s.river.Start(context.WithoutCancel(ctx)); err != nil {
		return &StartError{What: "start the workers", Err: err}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopReconcile, s.reconciled = cancel, make(chan struct{})
	s.sweep(rctx)
	go s.reconcileLoop(rctx)
	s.log.Info("working jobs", "id", s.cfg.ID, "concurrency", s.cfg.Concurrency, "rescue_after", s.cfg.RescueAfter)
	return nil
}

// reconcileLoop records, now and then, the clients whose jobs River cancelled or discarded
// without a worker settling them (see reconcile), until ctx ends.
func (s *Service) reconcileLoop(ctx context.Context) {
	defer close(s.reconciled)
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.reconcile(ctx, nil); err != nil && ctx.Err() == nil {
				s.log.Warn("reconcile runs", "err", err)
			}
			s.sweep(ctx)
		}
	}
}

// sweep is sweepStaged, logged.
func (s *Service) sweep(ctx context.Context) {
	n, err := s.sweepStaged(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("remove the staged files of clients that are over", "err", err)
	case n > 0:
		s.log.Info("removed the staged files of clients that are over", "clients", n)
	}
}

// Stop cancels the running jobs, which go back to the queue at once for another worker (no
// attempt spent), and waits for them at most until ctx ends.
func (s *Service) Stop(ctx context.Context) error {
	if s.cfg.Concurrency == 0 {
		return nil
	}
	if s.stopReconcile != nil {
		s.stopReconcile()
		<-s.reconciled
	}
	if err := s.river.StopAndCancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stop the workers: %w", err)
	}
	return nil
}

// Close releases the database.
func (s *Service) Close() { s.runner.Close() }

// River is the process's River client (for River's UI).
func (s *Service) River() *river.Client[pgx.Tx] { return s.river }

// Ping checks that the database answers.
func (s *Service) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// DailyRunArgs is the job the schedule queues once a day: it queues the run of every active
// client, as of each ad account's today. Unique by its date.
type DailyRunArgs struct {
	Date string `json:"date"` // the UTC date it was queued for
}

// Kind is River's name of the job.
func (DailyRunArgs) Kind() string { return "metapipe_daily_run" }

// InsertOpts makes the daily run unique per date, whoever queues it.
func (DailyRunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type dailyWorker struct {
	river.WorkerDefaults[DailyRunArgs]
	s *Service
}

func (w *dailyWorker) Work(ctx context.Context, job *river.Job[DailyRunArgs]) error {
	id, err := w.s.Enqueue(ctx, RunRequest{Source: "schedule"})
	var ce *ConflictError
	switch {
	case errors.As(err, &ce):
		w.s.log.Info("daily run already running", "run", ce.RunID)
		return nil
	case err != nil:
		return err
	}
	w.s.log.Info("daily run queued", "run", id, "date", job.Args.Date)
	return nil
}
