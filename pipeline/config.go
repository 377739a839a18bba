package pipeline

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/tokencrypt"
	"github.com/metapipe/metapipe/store"
)

// The defaults and bounds of a run: what a zero field of Config, Options, AutoConcurrency and
// ReadPlanning stands for (Config.WithDefaults), what Validate allows, and what the command's
// flags show (cmd/metapipe takes its flags' values and ranges from these, and from extract's
// and store's own Default constants). Each field's doc names its constant.
const (
	// DefaultStageDir is Config.StageDir: where run directories live.
	DefaultStageDir = "stage"
	// DefaultWeeks is the horizon of a run (Options.Weeks, service.RunRequest.Weeks), the
	// current week included: a year and two weeks, for the year-over-year figures.
	DefaultWeeks = 54
	// MaxWeeks is the longest horizon: Meta serves 37 months back (error 3018 beyond), about
	// 160 weeks.
	MaxWeeks = 160
	// DefaultLookback is Options.Lookback: the days after a week's Sunday before its numbers
	// are final (Meta's attribution windows settle within 28 days).
	DefaultLookback = 28
	// MaxLookback is the longest Options.Lookback, in days.
	MaxLookback = 365
	// MaxConcurrency is the most clients extracted at once (Config.Concurrency,
	// AutoConcurrency.Max's default).
	MaxConcurrency = 1000
	// MaxJobsPerAccount is the most report runs in flight per ad account: known extractors
	// keep 10 to 100 (docs/META_API.md, section 6).
	MaxJobsPerAccount = 100
	// DefaultAccountMaxAge is Config.AccountMaxAge: a cached ad account Meta confirmed within
	// a week serves the plan without asking Meta first.
	DefaultAccountMaxAge = 7 * 24 * time.Hour

	DefaultAutoStart = 32   // AutoConcurrency.Start: clients in flight at first (the old fixed default)
	DefaultAutoLow   = 60.0 // AutoConcurrency.Low, percent of Meta's app-wide usage
	DefaultAutoHigh  = 75.0 // AutoConcurrency.High, percent: the throttle's submit hold

	// DefaultSyncBudget is ReadPlanning.Budget, and MaxSyncBudget the most --sync-budget takes.
	DefaultSyncBudget         = 1000
	MaxSyncBudget             = 100000
	DefaultChunkRows          = 250 // ReadPlanning.ChunkRows: half a page of 500
	DefaultUnknownRowsPerWeek = 20  // ReadPlanning.UnknownRowsPerWeek
	DefaultHistoryWeeks       = 13  // ReadPlanning.HistoryWeeks
	DefaultReportRunPolls     = 3   // ReadPlanning.ReportRunPolls
)

// Config is everything a run needs besides the planning options. The zero value of each field
// is its default (WithDefaults fills them; Open does); Validate checks the rules across fields.
type Config struct {
	DatabaseURL string
	Token       extract.Token // META_ACCESS_TOKEN: for clients without their own token
	GraphURL    string        // META_GRAPH_URL; defaults to extract.DefaultGraphURL
	APIVersion  string        // META_API_VERSION; defaults to extract.DefaultAPIVersion
	AppSecret   string        // META_APP_SECRET, optional: adds appsecret_proof
	StageDir    string        // where run directories live; defaults to DefaultStageDir
	// Concurrency is how many clients are extracted at once, at most MaxConcurrency;
	// defaults to ConcurrencyAuto (0; a negative value too), which follows Meta's usage
	// headers (clientGate), tuned by AutoConcurrency.
	Concurrency     int
	AutoConcurrency AutoConcurrency

	// Sync says which reports are read synchronously: ranges of at most Sync.Weeks weeks;
	// Sync.Weeks defaults to extract.DefaultSyncWeeks, extract.SyncNever reads none.
	Sync extract.SyncConfig
	// ReadPlanning tunes the choice between synchronous chunks and report runs for ranges
	// longer than Sync.Weeks (each field defaults to its constant).
	ReadPlanning ReadPlanning
	Poll         extract.PollConfig     // each field defaults to its extract.Default constant
	Throttle     extract.ThrottleConfig // each field defaults to its extract.Default constant
	Retry        extract.RetryConfig    // each field defaults to its extract.Default constant
	// PageSize is the result rows asked per page, 1 to extract.MaxPageSize; defaults to
	// extract.DefaultPageSize (500).
	PageSize int
	// JobsPerAccount is the report runs in flight per ad account, 1 to MaxJobsPerAccount;
	// defaults to extract.DefaultJobsPerAccount (10).
	JobsPerAccount int
	LockTimeout    time.Duration // the load's lock_timeout; defaults to store.DefaultLockTimeout (30 s)
	// LockLease is how long a run lock outlives a holder that died; defaults to
	// store.DefaultLeaseTTL.
	LockLease time.Duration
	// Holder names this process in the run locks it takes; defaults to
	// store.DefaultHolder("metapipe").
	Holder string
	// AccountMaxAge: a cached ad account Meta wrote or confirmed this recently serves the plan
	// without a request in front of the reports, and is asked for again beside them; defaults
	// to DefaultAccountMaxAge (a week); negative: always ask Meta first.
	AccountMaxAge time.Duration
	MaxConns      int32        // the database pool's size; defaults to pgx's, max(4, CPUs)
	HTTPClient    *http.Client // defaults to the default transport (TLS verified)

	// TokenKeys decrypt the clients' own tokens stored encrypted (METAPIPE_TOKEN_KEY:
	// internal/tokencrypt); the zero value reads plain-text tokens only.
	TokenKeys tokencrypt.Keys
	// OnGraphAnswer, when set, is told every Graph API attempt's kind and error (nil: answered),
	// the ad accounts' reads and the extraction's alike (extract.Client.OnAnswer).
	OnGraphAnswer func(extract.CallKind, error)

	Logger   *slog.Logger     // defaults to a logger that discards
	Reporter Reporter         // defaults to log lines only (NewLogReporter)
	Now      func() time.Time // the clock; defaults to time.Now. The accounts' today comes from it
}

// WithDefaults returns the config with every zero field set to its default (the constants
// above, extract's and store's); negative Concurrency becomes ConcurrencyAuto. Sentinels that
// mean "none" (extract.SyncNever, a negative ReadPlanning.Budget or AccountMaxAge) are kept.
// The Reporter is left to the Runner (it logs to Logger).
func (c Config) WithDefaults() Config {
	c.Concurrency = max(c.Concurrency, ConcurrencyAuto)
	c.StageDir, c.Holder = cmp.Or(c.StageDir, DefaultStageDir), cmp.Or(c.Holder, store.DefaultHolder("metapipe"))
	c.GraphURL, c.APIVersion = cmp.Or(c.GraphURL, extract.DefaultGraphURL), cmp.Or(c.APIVersion, extract.DefaultAPIVersion)
	c.AutoConcurrency, c.ReadPlanning = c.AutoConcurrency.WithDefaults(), c.ReadPlanning.WithDefaults()
	c.Sync.Weeks = cmp.Or(c.Sync.Weeks, extract.DefaultSyncWeeks)
	c.Sync, c.Poll, c.Throttle, c.Retry = c.Sync.WithDefaults(), c.Poll.WithDefaults(), c.Throttle.WithDefaults(), c.Retry.WithDefaults()
	c.PageSize, c.JobsPerAccount = cmp.Or(c.PageSize, extract.DefaultPageSize), cmp.Or(c.JobsPerAccount, extract.DefaultJobsPerAccount)
	c.LockTimeout, c.LockLease = cmp.Or(c.LockTimeout, store.DefaultLockTimeout), cmp.Or(c.LockLease, store.DefaultLeaseTTL)
	c.AccountMaxAge = cmp.Or(c.AccountMaxAge, DefaultAccountMaxAge)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}

// Validate checks a config with its defaults (WithDefaults) against the bounds above and the
// rules across fields: PageSize, JobsPerAccount, Concurrency and Sync.Weeks within their
// bounds, Poll.Max at least Poll.First, AutoConcurrency's Low below its High and its Start at
// most its Max. Its error wraps ErrUsage and names the field with its flag.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...)
	}
	switch {
	case c.PageSize < 1 || c.PageSize > extract.MaxPageSize:
		return bad("--page-size %d (Config.PageSize): allowed range 1 to %d", c.PageSize, extract.MaxPageSize)
	case c.JobsPerAccount < 1 || c.JobsPerAccount > MaxJobsPerAccount:
		return bad("--jobs-per-account %d (Config.JobsPerAccount): allowed range 1 to %d", c.JobsPerAccount, MaxJobsPerAccount)
	case c.Concurrency > MaxConcurrency:
		return bad("--concurrency %d (Config.Concurrency): allowed values auto or 1 to %d", c.Concurrency, MaxConcurrency)
	case c.Sync.Weeks > MaxWeeks:
		return bad("--sync-weeks %d (Config.Sync.Weeks): allowed range 0 to %d", c.Sync.Weeks, MaxWeeks)
	case c.AutoConcurrency.Low >= c.AutoConcurrency.High:
		return bad("AutoConcurrency.Low %.0f is not below High %.0f", c.AutoConcurrency.Low, c.AutoConcurrency.High)
	case c.AutoConcurrency.Start > c.AutoConcurrency.Max:
		return bad("AutoConcurrency.Start %d is more than Max %d", c.AutoConcurrency.Start, c.AutoConcurrency.Max)
	}
	if err := c.Poll.Validate(); err != nil {
		return bad("%w: allowed range --poll-first to %s", err, extract.MaxPollWait)
	}
	return nil
}

// WithDefaults fills the zero fields with their Default constants (Max: MaxConcurrency), in
// step with the fields given: a Max below DefaultAutoStart starts at Max, a High at or below
// DefaultAutoLow has its Low at the same ratio to it as the defaults (four fifths).
func (a AutoConcurrency) WithDefaults() AutoConcurrency {
	a.Max = cmp.Or(max(a.Max, 0), MaxConcurrency)
	a.Start = cmp.Or(max(a.Start, 0), min(DefaultAutoStart, a.Max))
	a.High = cmp.Or(a.High, DefaultAutoHigh)
	a.Low = cmp.Or(a.Low, min(DefaultAutoLow, a.High*DefaultAutoLow/DefaultAutoHigh))
	return a
}

// WithDefaults fills the zero fields with their Default constants; a negative Budget (report
// runs only) is kept.
func (p ReadPlanning) WithDefaults() ReadPlanning {
	p.Budget, p.ChunkRows = cmp.Or(p.Budget, DefaultSyncBudget), cmp.Or(max(p.ChunkRows, 0), DefaultChunkRows)
	p.UnknownRowsPerWeek = cmp.Or(max(p.UnknownRowsPerWeek, 0), DefaultUnknownRowsPerWeek)
	p.HistoryWeeks, p.ReportRunPolls = cmp.Or(max(p.HistoryWeeks, 0), DefaultHistoryWeeks), cmp.Or(max(p.ReportRunPolls, 0), DefaultReportRunPolls)
	return p
}
