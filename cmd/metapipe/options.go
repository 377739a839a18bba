package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/tokencrypt"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
	"github.com/metapipe/metapipe/store"
)

// Each command keeps its flags' values in typed options (as restic's commands do): a struct
// whose fields the flags are bound to (urfave/cli's Destination), built with the command. The
// flags' values and ranges are the libraries' Default and Max constants, so that --help, the
// README and a zero library config say the same.

// command is a command whose flags are bound to a new O (flags makes them) and whose action
// is given it.
func command[O any](name, usage string, flags func(*O) []cli.Flag, action func(context.Context, *cli.Command, *O) error) *cli.Command {
	o := new(O)
	return &cli.Command{Name: name, Usage: usage, Flags: flags(o), Action: func(ctx context.Context, cmd *cli.Command) error { return action(ctx, cmd, o) }}
}

// globalOptions are the flags every command takes, before or after its name.
type globalOptions struct {
	databaseURL string
	lockLease   time.Duration
	stageDir    string
	logFormat   string
	verbose     bool
}

// globals is the one set of global options: the global flags are persistent, the same flags
// in every command.
var globals globalOptions

func globalFlags() []cli.Flag {
	g := &globals
	return []cli.Flag{
		&cli.StringFlag{Name: "database-url", Sources: cli.EnvVars("DATABASE_URL"), Usage: "PostgreSQL `URL`", Destination: &g.databaseURL},
		&cli.DurationFlag{Name: "lock-lease", Value: store.DefaultLeaseTTL, Sources: cli.EnvVars("METAPIPE_LOCK_LEASE"), Validator: between(2*time.Second, time.Hour),
			Usage:       "how long a client's run lock (or the migration lock) outlives a holder that died (SIGKILL, a lost machine); live holders renew it every third of it",
			Destination: &g.lockLease},
		&cli.StringFlag{Name: "stage-dir", Value: pipeline.DefaultStageDir, Sources: cli.EnvVars("METAPIPE_STAGE_DIR"),
			Usage: "folder of run directories", TakesFile: true, Destination: &g.stageDir},
		&cli.StringFlag{Name: "log-format", Value: "text", Validator: oneOf("text", "json"),
			Usage: "`text`, or json: one JSON object per line on stdout and stderr, no progress bars", Destination: &g.logFormat},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "debug log lines (every report run state change)", Destination: &g.verbose},
	}
}

// planOptions are the flags that choose the clients and weeks (plan, run, demo, enqueue).
type planOptions struct {
	clients  []string
	asOf     string
	asOfFlag *cli.StringFlag // its IsSet: an empty --as-of is refused, not taken for today
	weeks    int
	lookback int
	full     bool
	shard    string
}

// flags are the planning flags; what leaves out --client, --lookback or --shard for a command
// that has none ("client", "lookback", "shard").
func (o *planOptions) flags(without ...string) []cli.Flag {
	o.asOfFlag = &cli.StringFlag{Name: "as-of", Destination: &o.asOf,
		Usage: "the last day included, `YYYY-MM-DD`, in the ad account's calendar; not after today in any client's account time zone (default: each ad account's today)"}
	all := []cli.Flag{
		&cli.StringSliceFlag{Name: "client", Usage: "client name or id (repeatable); default every active client", Destination: &o.clients},
		o.asOfFlag,
		&cli.IntFlag{Name: "weeks", Value: pipeline.DefaultWeeks, Validator: between(1, pipeline.MaxWeeks), Destination: &o.weeks,
			Usage: "horizon in ISO weeks, the current week included"},
		&cli.IntFlag{Name: "lookback", Value: pipeline.DefaultLookback, Validator: between(0, pipeline.MaxLookback), Destination: &o.lookback,
			Usage: "days after a week's Sunday before its numbers are final"},
		&cli.BoolFlag{Name: "full", Usage: "refetch the whole horizon, final weeks included", Destination: &o.full},
		&cli.StringFlag{Name: "shard", Usage: "`i/n`: the i-th of n stable shares of the clients (0-based)", Destination: &o.shard},
	}
	out := all[:0:0]
	for _, f := range all {
		if !contains(without, f.Names()[0]) {
			out = append(out, f)
		}
	}
	return out
}

func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// options are the planning options of the flags.
func (o *planOptions) options() (pipeline.Options, error) {
	opts := pipeline.Options{Weeks: o.weeks, Lookback: o.lookback, Full: o.full, Clients: o.clients}
	if o.asOf != "" || o.asOfFlag.IsSet() {
		// An empty value is refused, not taken for "today": it is what an empty template
		// (Airflow's {{ ds }} gone wrong) gives.
		t, err := time.Parse(time.DateOnly, o.asOf)
		if err != nil {
			return opts, fmt.Errorf("%w: --as-of %q: want YYYY-MM-DD", pipeline.ErrUsage, o.asOf)
		}
		if err := pipeline.CheckAsOfDate(t, time.Now()); err != nil {
			return opts, err
		}
		opts.AsOf = t
	}
	sh, err := pipeline.ParseShard(o.shard)
	if err != nil {
		return opts, err
	}
	opts.Shard = sh
	return opts, nil
}

// extractOptions are the flags that pace the Graph API (run, extract, demo, worker, serve;
// plan takes the read planning's two).
type extractOptions struct {
	concurrency                            string
	syncWeeks, syncBudget                  int
	pollFirst, pollMax, jobTimeout, jobMax time.Duration
	pageSize, jobsPerAccount               int
	reads                                  bool // readFlags are bound: --sync-weeks and --sync-budget mean what they say
}

func (o *extractOptions) concurrencyFlag() cli.Flag {
	return &cli.StringFlag{Name: "concurrency", Value: "auto", Validator: autoOrBetween(1, pipeline.MaxConcurrency), Destination: &o.concurrency,
		Usage: "clients extracted at once (each with its five reports): auto follows Meta's usage headers, or a number"}
}

// readFlags are --sync-weeks and --sync-budget.
func (o *extractOptions) readFlags() []cli.Flag {
	o.reads = true
	return []cli.Flag{
		&cli.IntFlag{Name: "sync-weeks", Value: extract.DefaultSyncWeeks, Validator: between(0, pipeline.MaxWeeks), Destination: &o.syncWeeks,
			Usage: "read ranges of up to this many weeks with synchronous requests instead of report runs (0: never)"},
		&cli.IntFlag{Name: "sync-budget", Value: pipeline.DefaultSyncBudget, Validator: between(0, pipeline.MaxSyncBudget), Destination: &o.syncBudget,
			Usage: "the most synchronous reads a run makes at once to read ranges longer than --sync-weeks in week-aligned chunks, " +
				"every client together, shrunk by Meta's app-wide usage; a run that would need more reads them by report runs (0: always report runs)"},
	}
}

func (o *extractOptions) pageSizeFlag() cli.Flag {
	return &cli.IntFlag{Name: "page-size", Value: extract.DefaultPageSize, Validator: between(1, extract.MaxPageSize), Destination: &o.pageSize,
		Usage: "result rows per page"}
}

// pacingFlags are every extract flag but --concurrency (a worker has its own).
func (o *extractOptions) pacingFlags() []cli.Flag {
	return append(o.readFlags(),
		&cli.DurationFlag{Name: "poll-first", Value: extract.DefaultPollFirst, Validator: between(extract.MinPollWait, extract.MaxPollWait), Destination: &o.pollFirst,
			Usage: "first wait before polling a report run; then the polls are timed by Meta's percent"},
		&cli.DurationFlag{Name: "poll-max", Value: extract.DefaultPollMax, Validator: between(extract.MinPollWait, extract.MaxPollWait), Destination: &o.pollMax,
			Usage: "longest wait between polls (at least --poll-first)"},
		&cli.DurationFlag{Name: "job-timeout", Value: extract.DefaultStallTimeout, Validator: between(extract.MinRunWait, extract.MaxRunWait), Destination: &o.jobTimeout,
			Usage: "a report run whose status and percent have not changed this long has stalled: resubmitted once, then the client fails"},
		&cli.DurationFlag{Name: "job-max", Value: extract.DefaultMaxRunTime, Validator: between(extract.MinRunWait, extract.MaxRunWait), Destination: &o.jobMax,
			Usage: "a report run not completed this long after the submit is stuck, progress or not: resubmitted once, then the client fails"},
		o.pageSizeFlag(),
		&cli.IntFlag{Name: "jobs-per-account", Value: extract.DefaultJobsPerAccount, Validator: between(1, pipeline.MaxJobsPerAccount), Destination: &o.jobsPerAccount,
			Usage: "report runs in flight per ad account"},
	)
}

// flags are every extract flag.
func (o *extractOptions) flags() []cli.Flag {
	return append([]cli.Flag{o.concurrencyFlag()}, o.pacingFlags()...)
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

// apply sets the config's pacing from the flags the command has (a flag it does not have
// leaves the field zero: the library's default). --concurrency auto is ConcurrencyAuto,
// --sync-weeks 0 extract.SyncNever, --sync-budget 0 a negative budget (report runs only).
func (o *extractOptions) apply(cfg *pipeline.Config) {
	if n, err := strconv.Atoi(o.concurrency); err == nil {
		cfg.Concurrency = n
	}
	if o.reads {
		cfg.Sync.Weeks, cfg.ReadPlanning.Budget = o.syncWeeks, o.syncBudget
		if o.syncWeeks == 0 {
			cfg.Sync.Weeks = extract.SyncNever
		}
		if o.syncBudget == 0 {
			cfg.ReadPlanning.Budget = -1
		}
	}
	cfg.Poll = extract.PollConfig{First: o.pollFirst, Max: o.pollMax, StallTimeout: o.jobTimeout, MaxRunTime: o.jobMax}
	cfg.PageSize, cfg.JobsPerAccount = o.pageSize, o.jobsPerAccount
}

// serviceOptions are the flags of a process that works jobs (worker, serve --worker).
type serviceOptions struct {
	id                      string
	concurrency             int
	rescueAfter, inlineWait time.Duration
	schedule                string
	maxAttempts             int
	metricsAddr             string
	extract                 extractOptions
}

func (o *serviceOptions) flags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "id", Destination: &o.id, Usage: "this worker's River client id, what river_job.attempted_by shows (default host name and process id)"},
		&cli.IntFlag{Name: "concurrency", Value: service.DefaultWorkerConcurrency, Validator: between(1, pipeline.MaxConcurrency), Destination: &o.concurrency,
			Usage: "jobs (clients) worked at once"},
		&cli.DurationFlag{Name: "rescue-after", Value: service.DefaultRescueAfter, Validator: between(service.MinRescueAfter, service.MaxRescueAfter), Destination: &o.rescueAfter,
			Usage: "how long a job of a dead worker waits before another worker takes it; longer than a client's attempt (its result pages read, transformed and loaded)"},
		&cli.StringFlag{Name: "schedule", Destination: &o.schedule,
			Usage: "a cron spec (\"15 6 * * *\", \"CRON_TZ=Europe/Warsaw 15 6 * * *\"): the workers queue the daily run of every active client themselves, once a day"},
		&cli.DurationFlag{Name: "inline-wait", Value: service.DefaultInlineWait, Validator: between(service.MinInlineWait, service.MaxInlineWait), Destination: &o.inlineWait,
			Usage: "the longest a job waits for Meta (a poll, a throttle) before it snoozes and frees the worker"},
		&cli.IntFlag{Name: "max-attempts", Value: service.DefaultMaxAttempts, Validator: between(1, service.MaxAttemptsCeiling), Destination: &o.maxAttempts,
			Usage: "attempts of a failing client, in every job this process works whoever queued it (serve, enqueue, the schedule); snoozes do not count"},
		metricsAddrFlag(&o.metricsAddr),
	}, o.extract.pacingFlags()...)
}

// config is the service process of the flags; concurrency 0 makes one that works no job.
func (o *serviceOptions) config(cmd *cli.Command, concurrency int) (service.Config, error) {
	pc, err := baseConfig(cmd)
	if err != nil {
		return service.Config{}, err
	}
	o.extract.apply(&pc)
	pc.Concurrency = pipeline.ConcurrencyAuto
	notify, err := notifyConfig()
	if err != nil {
		return service.Config{}, err
	}
	return service.Config{Notify: notify, Pipeline: pc, ID: o.id, Concurrency: concurrency, RescueAfter: o.rescueAfter,
		Schedule: o.schedule, InlineWait: o.inlineWait, MaxAttempts: o.maxAttempts, Logger: pc.Logger}, nil
}

// open opens the service of the flags (config); the caller closes it.
func (o *serviceOptions) open(ctx context.Context, cmd *cli.Command, concurrency int) (*service.Service, service.Config, error) {
	cfg, err := o.config(cmd, concurrency)
	if err != nil {
		return nil, cfg, err
	}
	svc, err := service.Open(ctx, cfg)
	return svc, cfg, err
}

// simOptions are the simulator's flags (sim, demo).
type simOptions struct {
	seed                         int64
	accounts                     int
	jobDuration, latency, jitter time.Duration
}

func (o *simOptions) flags() []cli.Flag {
	return []cli.Flag{
		&cli.Int64Flag{Name: "seed", Value: 1, Validator: atLeast[int64](1), Usage: "data seed", Destination: &o.seed},
		&cli.IntFlag{Name: "accounts", Value: 3, Validator: between(1, maxAccounts), Usage: "simulated ad accounts", Destination: &o.accounts},
		&cli.DurationFlag{Name: "job-duration", Value: 2 * time.Second, Validator: between(time.Millisecond, time.Hour), Usage: "time a report run takes", Destination: &o.jobDuration},
		&cli.DurationFlag{Name: "latency", Value: 20 * time.Millisecond, Validator: between(0, time.Minute), Usage: "added to every request", Destination: &o.latency},
		&cli.DurationFlag{Name: "jitter", Value: 5 * time.Millisecond, Validator: between(0, time.Minute), Usage: "± jitter on the latency (at most --latency)", Destination: &o.jitter},
	}
}

// simulator builds the simulator of the flags; a jitter above the latency is a usage error.
func (o *simOptions) simulator() (*graphsim.Simulator, error) {
	if o.jitter > o.latency {
		return nil, fmt.Errorf("%w: --jitter %s is more than --latency %s: allowed range 0 to --latency", pipeline.ErrUsage, o.jitter, o.latency)
	}
	return graphsim.New(graphsim.Config{Seed: o.seed, Accounts: o.accounts, JobDuration: o.jobDuration, Latency: o.latency, Jitter: o.jitter}), nil
}

// baseConfig is the pipeline's config of the environment and the global flags; secrets come
// only from the environment. No progress display: withProgress adds it where stages run.
func baseConfig(cmd *cli.Command) (pipeline.Config, error) {
	cfg := pipeline.Config{
		DatabaseURL: globals.databaseURL,
		Token:       extract.NewToken(os.Getenv("META_ACCESS_TOKEN")),
		AppSecret:   os.Getenv("META_APP_SECRET"),
		GraphURL:    os.Getenv("META_GRAPH_URL"),
		APIVersion:  os.Getenv("META_API_VERSION"),
		StageDir:    globals.stageDir,
		LockLease:   globals.lockLease,
		Holder:      store.DefaultHolder("metapipe " + cmd.Name),
		Logger:      logger(cmd),
	}
	keys, err := tokencrypt.FromEnv()
	if err != nil {
		return cfg, fmt.Errorf("%w: %w", pipeline.ErrUsage, err)
	}
	cfg.TokenKeys = keys
	return cfg, nil
}

// stageConfig is baseConfig with the extract flags and, on a terminal without --log-format
// json, the progress bars: the config of the commands that run stages (run, extract, load,
// demo). The config's rules (pipeline.Config.Validate) are checked before anything opens.
func stageConfig(cmd *cli.Command, x *extractOptions) (pipeline.Config, error) {
	cfg, err := baseConfig(cmd)
	if err != nil {
		return cfg, err
	}
	x.apply(&cfg)
	if err := cfg.WithDefaults().Validate(); err != nil {
		return cfg, err
	}
	if !jsonMode(cmd) && term.IsTerminal(int(os.Stderr.Fd())) {
		bars := newBarReporter(os.Stderr)
		cfg.Reporter, cfg.Logger = bars, loggerTo(cmd, bars)
	}
	return cfg, nil
}

// openRunner connects with cfg, unless err (the config's own) is not nil; the caller closes
// the runner. A command that runs no stage opens with baseConfig: no progress display.
func openRunner(ctx context.Context, cfg pipeline.Config, err error) (*pipeline.Runner, pipeline.Config, error) {
	if err != nil {
		return nil, cfg, err
	}
	r, err := pipeline.Open(ctx, cfg)
	return r, cfg, err
}
