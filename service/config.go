package service

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/metapipe/metapipe/pipeline"
)

// The defaults and bounds of a service process: what a zero field of Config stands for
// (Config.WithDefaults) and what the worker's and serve's flags show.
const (
	// DefaultRescueAfter is Config.RescueAfter; MinRescueAfter and MaxRescueAfter bound it
	// (--rescue-after).
	DefaultRescueAfter             = 5 * time.Minute
	MinRescueAfter, MaxRescueAfter = 10 * time.Second, 24 * time.Hour
	DefaultInlineWait              = 5 * time.Second                     // Config.InlineWait
	MinInlineWait, MaxInlineWait   = 100 * time.Millisecond, time.Minute // bound Config.InlineWait (--inline-wait)
	// DefaultMaxAttempts is Config.MaxAttempts.
	DefaultMaxAttempts = 6
	// MaxAttemptsCeiling is River's max_attempts of the clients' jobs and the highest
	// Config.MaxAttempts: each worker stops a client at its own MaxAttempts (River takes a job's
	// attempts from whoever inserts it, which is serve or enqueue, not the worker).
	MaxAttemptsCeiling = 100
	// DefaultWorkerConcurrency is the jobs a worker process works at once unless told
	// otherwise (metapipe worker's and serve --worker's --concurrency). Config.Concurrency's
	// zero is not it: 0 is a process that works no job.
	DefaultWorkerConcurrency = 4
	// DefaultFailuresInARow is NotifyConfig.FailuresInARow.
	DefaultFailuresInARow = 3
	// DefaultThrottleBound is NotifyConfig.ThrottleBound.
	DefaultThrottleBound = 15 * time.Minute
	// DefaultWebhookTimeout is the timeout of each POST of NotifyConfig.HTTP's default.
	DefaultWebhookTimeout = 10 * time.Second
)

// Config is a service process: the pipeline's configuration (database, Graph API, pacing,
// stage folder) and how it works River's jobs. The zero value of each field is its default
// (WithDefaults; Open fills them), Validate checks the rules across fields.
type Config struct {
	// Pipeline is the runs' configuration (its own defaults: pipeline.Config.WithDefaults);
	// its MaxConns defaults to Concurrency + 10, its Logger is Logger.
	Pipeline pipeline.Config
	// ID is the River client id, what river_job.attempted_by records; defaults to the host
	// name and process id. It must be unique among the live processes.
	ID string
	// Concurrency is how many jobs the process works at once, 0 to pipeline.MaxConcurrency;
	// 0 makes a process that queues runs and reads them but works no job (serve without
	// --worker). The commands' default is DefaultWorkerConcurrency.
	Concurrency int
	// RescueAfter is how long a job of a dead worker waits before another takes it; defaults
	// to DefaultRescueAfter (5m). It must exceed the longest attempt: a client's pages read,
	// transformed and loaded.
	RescueAfter time.Duration
	// Schedule, a cron spec ("15 6 * * *", "CRON_TZ=Europe/Warsaw 15 6 * * *"), queues the
	// daily run of every active client, once a day whichever worker is River's leader; it
	// needs Concurrency. "" queues none.
	Schedule string
	// InlineWait is the longest a job waits for Meta (a poll, a throttle) before it snoozes,
	// so a worker is not held while Meta works; defaults to DefaultInlineWait (5s).
	InlineWait time.Duration
	// MaxAttempts bounds the attempts of a failing client (snoozes do not count), for every
	// job this process works, whoever queued it; defaults to DefaultMaxAttempts (6), at most
	// MaxAttemptsCeiling. The jobs are queued with River's max_attempts at MaxAttemptsCeiling,
	// and the worker fails the client (River: cancelled) once its own limit is spent.
	MaxAttempts int
	Logger      *slog.Logger // defaults to a logger that discards

	// Notify says where and when the service tells people what went wrong (notify.go).
	Notify NotifyConfig
}

// WithDefaults returns the config with every zero field set to its default; MaxAttempts above
// MaxAttemptsCeiling becomes the ceiling. The pipeline's config is left to pipeline.Open,
// but for its MaxConns and Logger.
func (c Config) WithDefaults() Config {
	c.RescueAfter, c.InlineWait = cmp.Or(c.RescueAfter, DefaultRescueAfter), cmp.Or(c.InlineWait, DefaultInlineWait)
	c.MaxAttempts = min(cmp.Or(c.MaxAttempts, DefaultMaxAttempts), MaxAttemptsCeiling)
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	c.Notify = c.Notify.WithDefaults()
	if c.Pipeline.MaxConns == 0 {
		// Each job holds one connection for its run lock and borrows another for a query or
		// its load; River holds a few (its listener, fetches, completions). Jobs wait for the
		// connections they borrow rather than open as many: the server's max_connections has
		// to cover every worker's pool.
		c.Pipeline.MaxConns = int32(c.Concurrency + 10)
	}
	c.Pipeline.Logger = c.Logger
	return c
}

// Validate checks a config with its defaults: the notifications (NotifyConfig.Validate), a
// Concurrency within 0 to pipeline.MaxConcurrency, a RescueAfter longer than InlineWait (a
// job waiting inline must not look dead), and a Schedule that parses and has workers to queue
// it. Its error is a *ConfigError naming the field by its flag (cmd maps it to exit 2).
func (c Config) Validate() error {
	if err := c.Notify.Validate(); err != nil {
		return &ConfigError{Setting: "notifications", Err: err}
	}
	switch {
	case c.Concurrency < 0 || c.Concurrency > pipeline.MaxConcurrency:
		return &ConfigError{Setting: "--concurrency", Err: fmt.Errorf("%d (Config.Concurrency): allowed range 0 to %d", c.Concurrency, pipeline.MaxConcurrency)}
	case c.RescueAfter <= c.InlineWait:
		return &ConfigError{Setting: "--rescue-after", Err: fmt.Errorf("%s is not longer than --inline-wait %s", c.RescueAfter, c.InlineWait)}
	case c.Schedule != "" && c.Concurrency == 0:
		return &ConfigError{Setting: "--schedule", Err: errors.New("needs --worker (or give it to the metapipe worker processes)")}
	}
	if c.Schedule != "" {
		if _, err := cron.ParseStandard(c.Schedule); err != nil {
			return &ConfigError{Setting: fmt.Sprintf("--schedule %q", c.Schedule), Err: err}
		}
	}
	return nil
}
