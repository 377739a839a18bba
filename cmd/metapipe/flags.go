package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/pipeline"
)

var (
	flagDatabaseURL = &cli.StringFlag{Name: "database-url", EnvVars: []string{"DATABASE_URL"}, Usage: "PostgreSQL URL (env DATABASE_URL)"}
	flagStageDir    = &cli.StringFlag{Name: "stage-dir", Value: pipeline.DefaultStageDir, EnvVars: []string{"METAPIPE_STAGE_DIR"}, Usage: "folder of run directories"}
	flagLogFormat   = &cli.StringFlag{Name: "log-format", Value: "text", Usage: "log lines as `text` or json (json: no progress bars)"}
	flagVerbose     = &cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "debug log lines (every report run status change)"}
	flagClient      = &cli.StringSliceFlag{Name: "client", Usage: "client name or id (repeatable); default every active client"}
	flagAsOf        = &cli.StringFlag{Name: "as-of", Usage: "last day included, YYYY-MM-DD (default today, UTC)"}
	flagWeeks       = &cli.IntFlag{Name: "weeks", Value: 54, Usage: "horizon in ISO weeks, the current week included"}
	flagLookback    = &cli.IntFlag{Name: "lookback", Value: 28, Usage: "days after a week's Sunday before its numbers are final"}
	flagFull        = &cli.BoolFlag{Name: "full", Usage: "refetch the whole horizon, final weeks included"}
	flagConcurrency = &cli.IntFlag{Name: "concurrency", Value: pipeline.DefaultConcurrency, Usage: "clients extracted at once (each with its five report runs)"}
	flagShard       = &cli.StringFlag{Name: "shard", Usage: "take the i-th of n stable shares of the clients, `i/n` (0-based)"}
	flagRun         = &cli.StringFlag{Name: "run", Usage: "run directory (stage/<run-id>)"}
	flagJSON        = &cli.BoolFlag{Name: "json", Usage: "print JSON"}
	flagPollFirst   = &cli.DurationFlag{Name: "poll-first", Value: 2 * time.Second, Usage: "first wait before polling a report run"}
	flagPollMax     = &cli.DurationFlag{Name: "poll-max", Value: 30 * time.Second, Usage: "longest wait between polls"}
	flagJobTimeout  = &cli.DurationFlag{Name: "job-timeout", Value: 10 * time.Minute, Usage: "a report run without progress (status and percent unchanged) this long has stalled: resubmitted once, then the client fails"}
	flagJobMax      = &cli.DurationFlag{Name: "job-max", Value: 60 * time.Minute, Usage: "a report run not completed this long after the submit is stuck, progress or not: resubmitted once, then the client fails"}
	flagPageSize    = &cli.IntFlag{Name: "page-size", Value: 500, Usage: "result rows per page"}
	flagJobs        = &cli.IntFlag{Name: "jobs-per-account", Value: 10, Usage: "report runs in flight per ad account"}
)

// planFlags are the flags of plan and run that choose the clients and weeks.
func planFlags() []cli.Flag {
	return []cli.Flag{flagClient, flagAsOf, flagWeeks, flagLookback, flagFull, flagShard}
}

// extractFlags are the flags of run and extract that pace the Graph API.
func extractFlags() []cli.Flag {
	return []cli.Flag{flagConcurrency, flagPollFirst, flagPollMax, flagJobTimeout, flagJobMax, flagPageSize, flagJobs}
}

func required(f *cli.StringFlag) *cli.StringFlag { g := *f; g.Required = true; return &g }

func simFlags() []cli.Flag {
	return []cli.Flag{
		&cli.Int64Flag{Name: "seed", Value: 1, Usage: "data seed"},
		&cli.IntFlag{Name: "accounts", Value: 3, Usage: "simulated ad accounts"},
		&cli.DurationFlag{Name: "job-duration", Value: 2 * time.Second, Usage: "time a report run takes"},
		&cli.DurationFlag{Name: "latency", Value: 20 * time.Millisecond, Usage: "added to every request"},
		&cli.DurationFlag{Name: "jitter", Value: 5 * time.Millisecond, Usage: "± jitter on the latency"},
	}
}

func logger(c *cli.Context) *slog.Logger { return loggerTo(c, os.Stderr) }

func loggerTo(c *cli.Context, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if c.Bool("verbose") {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.String("log-format") == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// options reads the planning flags.
func options(c *cli.Context) (pipeline.Options, error) {
	o := pipeline.Options{Weeks: c.Int("weeks"), Lookback: c.Int("lookback"), Full: c.Bool("full"), Clients: c.StringSlice("client"), AsOf: time.Now().UTC()}
	if s := c.String("as-of"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return o, fmt.Errorf("%w: --as-of %q: want YYYY-MM-DD", pipeline.ErrUsage, s)
		}
		o.AsOf = t
	}
	sh, err := pipeline.ParseShard(c.String("shard"))
	if err != nil {
		return o, err
	}
	o.Shard = sh
	return o, nil
}

// openWithOptions reads the planning flags, then connects: a bad flag is reported before the
// database is tried.
func openWithOptions(c *cli.Context) (*pipeline.Runner, pipeline.Options, error) {
	o, err := options(c)
	if err != nil {
		return nil, o, err
	}
	r, err := pipeline.Open(c.Context, config(c))
	return r, o, err
}

// config reads the environment and the flags; secrets come only from the environment.
func config(c *cli.Context) pipeline.Config {
	cfg := pipeline.Config{
		DatabaseURL: c.String("database-url"),
		Token:       extract.NewToken(os.Getenv("META_ACCESS_TOKEN")),
		AppSecret:   os.Getenv("META_APP_SECRET"),
		GraphURL:    os.Getenv("META_GRAPH_URL"),
		APIVersion:  os.Getenv("META_API_VERSION"),
		StageDir:    c.String("stage-dir"),
		Concurrency: c.Int("concurrency"),
		Poll: extract.PollConfig{First: c.Duration("poll-first"), Max: c.Duration("poll-max"),
			StallTimeout: c.Duration("job-timeout"), MaxRunTime: c.Duration("job-max")},
		PageSize:       c.Int("page-size"),
		JobsPerAccount: c.Int("jobs-per-account"),
		Logger:         logger(c),
	}
	if c.String("log-format") == "text" && term.IsTerminal(int(os.Stderr.Fd())) {
		bars := newBarReporter(os.Stderr)
		cfg.Reporter, cfg.Logger = bars, loggerTo(c, bars)
	}
	return cfg
}
