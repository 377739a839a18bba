package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/fixtures"
	"github.com/metapipe/metapipe/pipeline"
)

var (
	flagDatabaseURL = &cli.StringFlag{Name: "database-url", EnvVars: []string{"DATABASE_URL"}, Usage: "PostgreSQL URL (env DATABASE_URL)"}
	flagStageDir    = &cli.StringFlag{Name: "stage-dir", Value: "stage", EnvVars: []string{"METAPIPE_STAGE_DIR"}, Usage: "folder of run directories"}
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
	flagJobTimeout  = &cli.DurationFlag{Name: "job-timeout", Value: 30 * time.Minute, Usage: "a report run not done after this is resubmitted once, then fails"}
	flagPageSize    = &cli.IntFlag{Name: "page-size", Value: 500, Usage: "result rows per page"}
	flagJobs        = &cli.IntFlag{Name: "jobs-per-account", Value: 10, Usage: "report runs in flight per ad account"}
)

var planFlags = []cli.Flag{flagClient, flagAsOf, flagWeeks, flagLookback, flagFull, flagShard}
var extractFlags = []cli.Flag{flagConcurrency, flagPollFirst, flagPollMax, flagJobTimeout, flagPageSize, flagJobs}

func newApp() *cli.App {
	app := &cli.App{
		Name:  "metapipe",
		Usage: "weekly Meta ads summaries per client, from async Insights report runs into PostgreSQL",
		Description: "Environment: DATABASE_URL, META_ACCESS_TOKEN (default token), META_APP_SECRET (adds appsecret_proof),\n" +
			"META_GRAPH_URL (default " + extract.DefaultGraphURL + "), META_API_VERSION (default " + extract.DefaultAPIVersion + ").\n" +
			"Exit codes: 0 every client done, 1 some client failed (the others are loaded), 2 usage or configuration error,\n" +
			"3 could not start (database unreachable, another run holds a client).",
		Flags:           []cli.Flag{flagDatabaseURL, flagStageDir, flagLogFormat, flagVerbose},
		HideHelpCommand: true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w: %v", pipeline.ErrUsage, err)
		},
		Before: func(c *cli.Context) error {
			if f := c.String("log-format"); f != "text" && f != "json" {
				return fmt.Errorf("%w: --log-format must be text or json", pipeline.ErrUsage)
			}
			return nil
		},
		Commands: []*cli.Command{
			{Name: "migrate", Usage: "create or update the tables", Action: cmdMigrate},
			{Name: "plan", Usage: "print what a run would fetch (changes nothing)", Flags: append(planFlags, flagJSON), Action: cmdPlan},
			{Name: "run", Usage: "plan, extract, transform and load; resumes an unfinished run", Flags: append(append(planFlags, extractFlags...), flagRun), Action: cmdRun},
			{Name: "extract", Usage: "run the extract stage of a run directory", Flags: append(extractFlags, required(flagRun)), Action: cmdStage("extract")},
			{Name: "transform", Usage: "run the transform stage of a run directory (no database, no API)", Flags: []cli.Flag{required(flagRun)}, Action: cmdStage("transform")},
			{Name: "load", Usage: "run the load stage of a run directory", Flags: []cli.Flag{required(flagRun)}, Action: cmdStage("load")},
			{Name: "status", Usage: "print a run's ledger (default the latest run)", Flags: []cli.Flag{flagRun, flagJSON}, Action: cmdStatus},
			{Name: "sim", Usage: "serve the Graph API simulator on loopback", Action: cmdSim,
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "listen address (loopback only)"}}, simFlags()...)},
			{Name: "demo", Usage: "everything local: simulator, demo clients and KPI rows, a full run (what make run calls)",
				Flags: append([]cli.Flag{flagAsOf, flagWeeks, flagLookback, flagFull, flagConcurrency, flagPageSize}, simFlags()...), Action: cmdDemo},
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError // a bad flag is a usage error (exit 2) everywhere
	}
	return app
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
			Timeout: c.Duration("job-timeout")},
		PageSize:       c.Int("page-size"),
		JobsPerAccount: c.Int("jobs-per-account"),
		Logger:         logger(c),
	}
	if c.String("log-format") == "text" && term.IsTerminal(int(os.Stderr.Fd())) {
		bars := pipeline.NewBarReporter(os.Stderr)
		cfg.Reporter, cfg.Logger = bars, loggerTo(c, bars)
	}
	return cfg
}

func cmdMigrate(c *cli.Context) error {
	r, err := pipeline.Open(c.Context, config(c))
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Migrate(c.Context); err != nil {
		return fmt.Errorf("%w: migrate: %v", pipeline.ErrCannotStart, err)
	}
	fmt.Fprintln(c.App.Writer, "schema up to date")
	return nil
}

func cmdPlan(c *cli.Context) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	r, err := pipeline.Open(c.Context, config(c))
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := r.Plan(c.Context, o)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, p)
	}
	pipeline.PrintPlan(c.App.Writer, p)
	return nil
}

func cmdRun(c *cli.Context) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	r, err := pipeline.Open(c.Context, config(c))
	if err != nil {
		return err
	}
	defer r.Close()
	rep, err := r.Run(c.Context, o, c.String("run"))
	if rep != nil {
		fmt.Fprintf(c.App.Writer, "run %s: %s\n", rep.Dir, rep.Ledger.Status)
		pipeline.PrintTimings(c.App.Writer, &rep.Ledger)
	}
	return err
}

func cmdStage(stage string) cli.ActionFunc {
	return func(c *cli.Context) error {
		dir := c.String("run")
		var rep *pipeline.Report
		var err error
		if stage == "transform" {
			rep, err = pipeline.TransformDir(c.Context, dir, logger(c))
		} else {
			r, oerr := pipeline.Open(c.Context, config(c))
			if oerr != nil {
				return oerr
			}
			defer r.Close()
			rep, err = r.Stage(c.Context, dir, stage)
		}
		if rep != nil {
			fmt.Fprintf(c.App.Writer, "%s %s: %s\n", stage, rep.Dir, rep.Ledger.Stages[stage].Status)
			pipeline.PrintTimings(c.App.Writer, &rep.Ledger)
		}
		return err
	}
}

func cmdStatus(c *cli.Context) error {
	dir := c.String("run")
	if dir == "" {
		dir = pipeline.LatestRun(c.String("stage-dir"))
		if dir == "" {
			return fmt.Errorf("%w: no run directory in %s", pipeline.ErrUsage, c.String("stage-dir"))
		}
	}
	l, err := pipeline.ReadLedger(dir)
	if err != nil {
		return fmt.Errorf("%w: %v", pipeline.ErrUsage, err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, l)
	}
	pipeline.PrintLedger(c.App.Writer, dir, l)
	return nil
}

func newSim(c *cli.Context, accounts int) *fixtures.Simulator {
	return fixtures.New(fixtures.Config{Seed: c.Int64("seed"), Accounts: accounts, JobDuration: c.Duration("job-duration"),
		Latency: c.Duration("latency"), Jitter: c.Duration("jitter")})
}

// serveSim serves the simulator on a loopback address and returns its URL.
func serveSim(ctx context.Context, addr string, sim *fixtures.Simulator) (string, func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("%w: --addr %q: %v", pipeline.ErrUsage, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("%w: --addr %q: the simulator listens on loopback only", pipeline.ErrUsage, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%w: listen %s: %v", pipeline.ErrCannotStart, addr, err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func cmdSim(c *cli.Context) error {
	sim := newSim(c, c.Int("accounts"))
	url, stop, err := serveSim(c.Context, c.String("addr"), sim)
	if err != nil {
		return err
	}
	defer stop()
	w := c.App.Writer
	fmt.Fprintf(w, "Graph API simulator on %s (job duration %s, latency %s ± %s)\n", url, c.Duration("job-duration"), c.Duration("latency"), c.Duration("jitter"))
	fmt.Fprintf(w, "  export META_GRAPH_URL=%s META_ACCESS_TOKEN=%s\n", url, fixtures.DemoToken)
	for _, a := range sim.Accounts() {
		fmt.Fprintf(w, "  account act_%s  %s\n", a.ID, a.Name)
	}
	<-c.Context.Done()
	return nil
}

func cmdDemo(c *cli.Context) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	start := time.Now()
	sim := newSim(c, c.Int("accounts"))
	url, stop, err := serveSim(c.Context, "127.0.0.1:0", sim)
	if err != nil {
		return err
	}
	defer stop()
	cfg := config(c)
	cfg.GraphURL, cfg.Token = url, extract.NewToken(fixtures.DemoToken)
	r, err := pipeline.Open(c.Context, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	w := c.App.Writer
	fmt.Fprintf(w, "simulator on %s; migrating and seeding %d demo clients\n", url, c.Int("accounts"))
	if err := r.Migrate(c.Context); err != nil {
		return fmt.Errorf("%w: migrate: %v", pipeline.ErrCannotStart, err)
	}
	horizon := pipeline.Monday(o.AsOf).AddDate(0, 0, -7*(o.Weeks-1))
	ids, err := pipeline.SeedDemo(c.Context, r.Pool(), sim, horizon, o.AsOf)
	if err != nil {
		return fmt.Errorf("%w: seed demo: %v", pipeline.ErrCannotStart, err)
	}
	for _, a := range sim.Accounts() {
		o.Clients = append(o.Clients, "Demo "+a.Name)
	}
	rep, runErr := r.Run(c.Context, o, "")
	if rep != nil {
		fmt.Fprintf(w, "\nrun %s: %s\n", rep.Dir, rep.Ledger.Status)
	}
	fmt.Fprintln(w, "\nwhat landed in campaign_summaries:")
	if err := pipeline.PrintLanded(c.Context, w, r.Pool(), ids); err != nil {
		return err
	}
	cnt := sim.Counters()
	fmt.Fprintf(w, "\nGraph API requests: %d (%s)\n", sumCounts(cnt.Requests), fmtCounts(cnt.Requests))
	if rep != nil {
		pipeline.PrintCost(w, rep.Plan, &rep.Ledger, c.Int("page-size"))
	}
	if rep != nil {
		pipeline.PrintTimings(w, &rep.Ledger)
	}
	fmt.Fprintf(w, "demo wall time %.2fs; `metapipe --stage-dir %s status` shows the ledger\n", time.Since(start).Seconds(), c.String("stage-dir"))
	return runErr
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func fmtCounts(m map[string]int64) string {
	var parts []string
	for _, k := range []string{fixtures.KindSubmit, fixtures.KindPoll, fixtures.KindResults, fixtures.KindSync, fixtures.KindOther} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
