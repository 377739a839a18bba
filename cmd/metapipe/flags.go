package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/tokencrypt"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/store"
)

// The allowed ranges of the numeric flags. A value outside is a usage error (exit 2) that names
// the flag and the range; none of them has a "0 means the default" reading.
const (
	maxConcurrency    = 1000 // clients at once; each has up to --jobs-per-account report runs in flight
	maxJobsPerAccount = 100  // known extractors keep 10 to 100 in flight (docs/META_API.md, section 6)
	maxPageSize       = 500  // the `limit` Meta pages by; the simulator caps it there (MaxPageSize)
	maxWeeks          = 160  // Meta serves 37 months back (error 3018 beyond): about 160 weeks
	maxLookback       = 365  // days
	maxAccounts       = 1000 // simulated ad accounts
)

// Duration ranges: polls no closer than 100 ms, nothing longer than a day (Meta documents report
// runs of up to an hour and keeps results 30 days).
const (
	minPoll = 100 * time.Millisecond
	maxPoll = 10 * time.Minute
	minJob  = time.Second
	maxJob  = 24 * time.Hour
)

// between is a flag validator: the value must lie in [lo, hi]. urfave/cli names the flag:
// `invalid value "0" for flag -concurrency: allowed range 1 to 1000`.
func between[T int | int64 | time.Duration](lo, hi T) func(T) error {
	return func(v T) error {
		if v < lo || v > hi {
			return fmt.Errorf("allowed range %v to %v", lo, hi)
		}
		return nil
	}
}

// atLeast is a flag validator: the value must be lo or more.
func atLeast[T int64](lo T) func(T) error {
	return func(v T) error {
		if v < lo {
			return fmt.Errorf("allowed range %v or more", lo)
		}
		return nil
	}
}

// oneOf is a flag validator: the value must be one of the words.
func oneOf(words ...string) func(string) error {
	return func(v string) error {
		for _, w := range words {
			if v == w {
				return nil
			}
		}
		return fmt.Errorf("allowed values %q", words)
	}
}

// globalFlags are accepted before or after any command.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "database-url", Sources: cli.EnvVars("DATABASE_URL"), Usage: "PostgreSQL `URL`"},
		&cli.DurationFlag{Name: "lock-lease", Value: store.DefaultLeaseTTL, Sources: cli.EnvVars("METAPIPE_LOCK_LEASE"), Validator: between(2*time.Second, time.Hour),
			Usage: "how long a client's run lock (or the migration lock) outlives a holder that died (SIGKILL, a lost machine); live holders renew it every third of it"},
		&cli.StringFlag{Name: "stage-dir", Value: pipeline.DefaultStageDir, Sources: cli.EnvVars("METAPIPE_STAGE_DIR"),
			Usage: "folder of run directories", TakesFile: true},
		&cli.StringFlag{Name: "log-format", Value: "text", Validator: oneOf("text", "json"),
			Usage: "`text`, or json: one JSON object per line on stdout and stderr, no progress bars"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "debug log lines (every report run state change)"},
	}
}

// planFlags are the flags of plan and run that choose the clients and weeks.
func planFlags() []cli.Flag {
	return []cli.Flag{flagClient(), flagAsOf(), flagWeeks(), flagLookback(), flagFull(),
		&cli.StringFlag{Name: "shard", Usage: "`i/n`: the i-th of n stable shares of the clients (0-based)"}}
}

func flagClient() cli.Flag {
	return &cli.StringSliceFlag{Name: "client", Usage: "client name or id (repeatable); default every active client"}
}
func flagAsOf() cli.Flag {
	return &cli.StringFlag{Name: "as-of", Usage: "the last day included, `YYYY-MM-DD`, in the ad account's calendar; not after today in any client's account time zone (default: each ad account's today)"}
}
func flagWeeks() cli.Flag {
	return &cli.IntFlag{Name: "weeks", Value: 54, Validator: between(1, maxWeeks), Usage: "horizon in ISO weeks, the current week included"}
}
func flagLookback() cli.Flag {
	return &cli.IntFlag{Name: "lookback", Value: 28, Validator: between(0, maxLookback), Usage: "days after a week's Sunday before its numbers are final"}
}
func flagFull() cli.Flag {
	return &cli.BoolFlag{Name: "full", Usage: "refetch the whole horizon, final weeks included"}
}
func flagConcurrency() cli.Flag {
	return &cli.StringFlag{Name: "concurrency", Value: "auto", Validator: autoOrBetween(1, maxConcurrency),
		Usage: "clients extracted at once (each with its five reports): auto follows Meta's usage headers, or a number"}
}

// autoOrBetween is a flag validator: "auto", or an integer in [lo, hi].
func autoOrBetween(lo, hi int) func(string) error {
	return func(v string) error {
		if v == "auto" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("allowed values auto or %d to %d", lo, hi)
		}
		return nil
	}
}

// concurrency reads --concurrency: pipeline.ConcurrencyAuto for auto (and where the command
// has no such flag), else the number.
func concurrency(cmd *cli.Command) int {
	n, err := strconv.Atoi(cmd.String("concurrency"))
	if err != nil {
		return pipeline.ConcurrencyAuto
	}
	return n
}
func flagSyncWeeks() cli.Flag {
	return &cli.IntFlag{Name: "sync-weeks", Value: extract.DefaultSyncWeeks, Validator: between(0, maxWeeks),
		Usage: "read ranges of up to this many weeks with synchronous requests instead of report runs (0: never)"}
}
func flagSyncBudget() cli.Flag {
	return &cli.StringFlag{Name: "sync-budget", Value: "1000", Validator: func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 100000 {
			return fmt.Errorf("--sync-budget %q: allowed range 0 to 100000", v)
		}
		return nil
	}, Usage: "the most synchronous reads a run makes at once to read ranges longer than --sync-weeks in week-aligned chunks, " +
		"every client together, shrunk by Meta's app-wide usage; a run that would need more reads them by report runs (0: always report runs)"}
}

// syncBudget is --sync-budget as pipeline.ReadPlanning.Budget: 0 (the default) where the
// command has no such flag, -1 (report runs only) for --sync-budget 0.
func syncBudget(cmd *cli.Command) int {
	n, err := strconv.Atoi(cmd.String("sync-budget"))
	switch {
	case err != nil:
		return 0
	case n == 0:
		return -1
	}
	return n
}
func flagPageSize() cli.Flag {
	return &cli.IntFlag{Name: "page-size", Value: maxPageSize, Validator: between(1, maxPageSize), Usage: "result rows per page"}
}
func flagRun(required bool) cli.Flag {
	return &cli.StringFlag{Name: "run", Required: required, TakesFile: true, Usage: "run directory (stage/<run-id>)"}
}
func flagJSON() cli.Flag { return &cli.BoolFlag{Name: "json", Usage: "print JSON"} }

// extractFlags are the flags of run and extract that pace the Graph API.
func extractFlags() []cli.Flag {
	return []cli.Flag{
		flagConcurrency(),
		flagSyncWeeks(),
		flagSyncBudget(),
		&cli.DurationFlag{Name: "poll-first", Value: 2 * time.Second, Validator: between(minPoll, maxPoll),
			Usage: "first wait before polling a report run; then the polls are timed by Meta's percent"},
		&cli.DurationFlag{Name: "poll-max", Value: 2 * time.Minute, Validator: between(minPoll, maxPoll),
			Usage: "longest wait between polls (at least --poll-first)"},
		&cli.DurationFlag{Name: "job-timeout", Value: 10 * time.Minute, Validator: between(minJob, maxJob),
			Usage: "a report run whose status and percent have not changed this long has stalled: resubmitted once, then the client fails"},
		&cli.DurationFlag{Name: "job-max", Value: 60 * time.Minute, Validator: between(minJob, maxJob),
			Usage: "a report run not completed this long after the submit is stuck, progress or not: resubmitted once, then the client fails"},
		flagPageSize(),
		&cli.IntFlag{Name: "jobs-per-account", Value: 10, Validator: between(1, maxJobsPerAccount), Usage: "report runs in flight per ad account"},
	}
}

func simFlags() []cli.Flag {
	return []cli.Flag{
		&cli.Int64Flag{Name: "seed", Value: 1, Validator: atLeast[int64](1), Usage: "data seed"},
		&cli.IntFlag{Name: "accounts", Value: 3, Validator: between(1, maxAccounts), Usage: "simulated ad accounts"},
		&cli.DurationFlag{Name: "job-duration", Value: 2 * time.Second, Validator: between(time.Millisecond, time.Hour), Usage: "time a report run takes"},
		&cli.DurationFlag{Name: "latency", Value: 20 * time.Millisecond, Validator: between(0, time.Minute), Usage: "added to every request"},
		&cli.DurationFlag{Name: "jitter", Value: 5 * time.Millisecond, Validator: between(0, time.Minute), Usage: "± jitter on the latency (at most --latency)"},
	}
}

func jsonMode(cmd *cli.Command) bool { return cmd.String("log-format") == "json" }

func logger(cmd *cli.Command) *slog.Logger { return loggerTo(cmd, os.Stderr) }

func loggerTo(cmd *cli.Command, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if cmd.Bool("verbose") {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if jsonMode(cmd) {
		return slog.New(jsonHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// options reads the planning flags.
func options(cmd *cli.Command) (pipeline.Options, error) {
	o := pipeline.Options{Weeks: cmd.Int("weeks"), Lookback: cmd.Int("lookback"), Full: cmd.Bool("full"),
		Clients: cmd.StringSlice("client")}
	if s := cmd.String("as-of"); s != "" || cmd.IsSet("as-of") {
		// An empty value is refused, not taken for "today": it is what an empty template
		// (Airflow's {{ ds }} gone wrong) gives.
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return o, fmt.Errorf("%w: --as-of %q: want YYYY-MM-DD", pipeline.ErrUsage, s)
		}
		if err := pipeline.CheckAsOfDate(t, time.Now()); err != nil {
			return o, err
		}
		o.AsOf = t
	}
	sh, err := pipeline.ParseShard(cmd.String("shard"))
	if err != nil {
		return o, err
	}
	o.Shard = sh
	return o, nil
}

// openWithOptions reads the planning flags and the config, then connects: a bad flag is
// reported before the database is tried.
func openWithOptions(ctx context.Context, cmd *cli.Command) (*pipeline.Runner, pipeline.Options, error) {
	o, err := options(cmd)
	if err != nil {
		return nil, o, err
	}
	cfg, err := config(cmd)
	if err != nil {
		return nil, o, err
	}
	r, err := pipeline.Open(ctx, cfg)
	return r, o, err
}

// config reads the environment and the flags; secrets come only from the environment. The
// extract flags are read where the command has them (run, extract, demo).
func config(cmd *cli.Command) (pipeline.Config, error) {
	cfg := pipeline.Config{
		DatabaseURL:  cmd.String("database-url"),
		Token:        extract.NewToken(os.Getenv("META_ACCESS_TOKEN")),
		AppSecret:    os.Getenv("META_APP_SECRET"),
		GraphURL:     os.Getenv("META_GRAPH_URL"),
		APIVersion:   os.Getenv("META_API_VERSION"),
		StageDir:     cmd.String("stage-dir"),
		Concurrency:  concurrency(cmd),
		Sync:         extract.SyncConfig{Weeks: cmd.Int("sync-weeks")},
		ReadPlanning: pipeline.ReadPlanning{Budget: syncBudget(cmd)},
		Poll: extract.PollConfig{First: cmd.Duration("poll-first"), Max: cmd.Duration("poll-max"),
			StallTimeout: cmd.Duration("job-timeout"), MaxRunTime: cmd.Duration("job-max")},
		PageSize:       cmd.Int("page-size"),
		JobsPerAccount: cmd.Int("jobs-per-account"),
		LockLease:      cmd.Duration("lock-lease"),
		Holder:         store.DefaultHolder("metapipe " + cmd.Name),
		Logger:         logger(cmd),
	}
	keys, err := tokencrypt.FromEnv()
	if err != nil {
		return cfg, fmt.Errorf("%w: %w", pipeline.ErrUsage, err)
	}
	cfg.TokenKeys = keys
	if first, most := cfg.Poll.First, cfg.Poll.Max; first != 0 && most != 0 && most < first {
		return cfg, fmt.Errorf("%w: --poll-max %s is shorter than --poll-first %s: allowed range --poll-first to %s", pipeline.ErrUsage, most, first, maxPoll)
	}
	if !jsonMode(cmd) && term.IsTerminal(int(os.Stderr.Fd())) {
		bars := newBarReporter(os.Stderr)
		cfg.Reporter, cfg.Logger = bars, loggerTo(cmd, bars)
	}
	return cfg, nil
}

// checkJitter is the cross-flag check of the simulator's flags.
func checkJitter(cmd *cli.Command) error {
	if j, l := cmd.Duration("jitter"), cmd.Duration("latency"); j > l {
		return fmt.Errorf("%w: --jitter %s is more than --latency %s: allowed range 0 to --latency", pipeline.ErrUsage, j, l)
	}
	return nil
}

// jsonHandler is the JSON log handler of --log-format json: durations are in seconds, as
// everywhere else in metapipe's output (a number, its key ending in _seconds: "for": 15s is
// "for_seconds": 15), not slog's nanoseconds.
func jsonHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	o := slog.HandlerOptions{}
	if opts != nil {
		o = *opts
	}
	o.ReplaceAttr = secondsForDurations
	return slog.NewJSONHandler(w, &o)
}

// secondsForDurations turns a duration attribute into seconds under a key ending in _seconds.
func secondsForDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "seconds") {
		key += "_seconds"
	}
	return slog.Float64(key, a.Value.Duration().Seconds())
}
