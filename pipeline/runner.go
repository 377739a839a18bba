package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

// Runner runs commands against one database.
type Runner struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger
	rep  Reporter
	// worker names this process in the runs' history; noHistory is set once the database
	// is found without the history's tables (recordHistory).
	worker    string
	noHistory bool
}

// Open connects to the database (store.PoolConfig: statements in store.DefaultExecMode). A
// missing or malformed URL, or a file it names that cannot be read, is ErrUsage
// (*store.ConfigError); a database that does not let us in is ErrCannotStart
// (*store.ConnectError: authentication, certificate, unreachable …). The error never echoes
// the URL's password. The config gets its defaults (Config.WithDefaults); one that breaks
// Config.Validate's rules is ErrUsage, before the database is tried.
func Open(ctx context.Context, cfg Config) (*Runner, error) {
	if err := cfg.WithDefaults().Validate(); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL == "" {
		return nil, fmt.Errorf("%w: no database: set DATABASE_URL or --database-url", ErrUsage)
	}
	pcfg, err := store.PoolConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err) // says what is wrong, never quoting the URL
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("%w: database: %w", ErrCannotStart, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: %w", ErrCannotStart, store.DescribeConnectError(&pcfg.ConnConfig.Config, err))
	}
	r := newRunner(cfg)
	r.pool = pool
	return r, nil
}

// newRunner fills the config's defaults; the pool is the caller's to set.
func newRunner(cfg Config) *Runner {
	cfg = cfg.WithDefaults()
	log := cfg.Logger
	rep := cfg.Reporter
	if rep == nil {
		rep = NewLogReporter(log)
	}
	if cfg.Poll.Times == nil {
		// The report runs' times, kept for the runner's life: a later run of an account (a
		// later wave, a fallback, the service's next job) is first polled by them.
		cfg.Poll.Times = new(extract.RunTimes)
	}
	return &Runner{cfg: cfg, log: log, rep: rep, worker: historyWorker()}
}

// Close releases the database.
func (r *Runner) Close() { r.pool.Close() }

// SyncWeeks is the threshold of synchronous reads (extract.SyncConfig.Weeks; 0: none).
func (r *Runner) SyncWeeks() int { return max(0, r.cfg.Sync.Weeks) }

// Pool is the runner's database pool.
func (r *Runner) Pool() *pgxpool.Pool { return r.pool }

// Migrate brings the schema up to date (store.MigrateWith), waiting at most
// store.DefaultMigrateWait for another migration.
func (r *Runner) Migrate(ctx context.Context) error { return r.MigrateWait(ctx, 0) }

// MigrateWait is Migrate waiting at most wait (0: store.DefaultMigrateWait) for another one.
func (r *Runner) MigrateWait(ctx context.Context, wait time.Duration) error {
	return store.MigrateWith(ctx, r.pool, store.MigrateOptions{Lease: r.Lease(""), Wait: wait, Log: r.log})
}

// clients reads every client; a failure means the schema is missing or the database went away.
func (r *Runner) clients(ctx context.Context) ([]records.Client, error) {
	all, err := store.ReadClients(ctx, r.pool)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (has `metapipe migrate` run?)", ErrCannotStart, err)
	}
	return all, r.decryptTokens(all)
}

// selected reads the clients and picks the run's.
func (r *Runner) selected(ctx context.Context, o Options) ([]records.Client, error) {
	all, err := r.clients(ctx)
	if err != nil {
		return nil, err
	}
	clients, err := SelectClients(all, o.Clients, o.Shard)
	r.warnShared(clients)
	return clients, err
}

// lock takes the run locks of the clients and binds ctx to them: the context returned ends if
// any lock is lost, and release (call it when done, typically deferred) unbinds it and releases
// the locks. Another run holding any is ErrCannotStart.
func (r *Runner) lock(ctx context.Context, clients []records.Client) (context.Context, func(), error) {
	locks, err := store.LockClients(ctx, r.pool, clients, r.Lease(""))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrCannotStart, err)
	}
	bound, unbind := locks.Bind(ctx)
	return bound, func() { unbind(); locks.Release() }, nil
}

// Lease is the run locks' lease of this process: its holder (what, or Config.Holder), the
// TTL, the logger.
func (r *Runner) Lease(what string) store.Lease {
	if what == "" {
		what = r.cfg.Holder
	}
	return store.Lease{Holder: what, TTL: r.cfg.LockLease, Logger: r.log}
}

// tokenFor returns the client's own token or the default one.
func (r *Runner) tokenFor(c records.Client) extract.Token {
	if c.Token != "" {
		return extract.NewToken(c.Token)
	}
	return r.cfg.Token
}

// now is the runner's clock.
func (r *Runner) now() time.Time {
	if r.cfg.Now != nil {
		return r.cfg.Now()
	}
	return time.Now()
}

// graphClient is a Graph API client with the run's URL, version, app secret and retries.
func (r *Runner) graphClient() *extract.Client {
	cl := extract.NewClient(r.cfg.GraphURL, r.cfg.APIVersion, r.cfg.AppSecret)
	if r.cfg.HTTPClient != nil {
		cl.HTTP = r.cfg.HTTPClient
	}
	cl.Retry = r.cfg.Retry
	cl.OnAnswer = r.cfg.OnGraphAnswer
	return cl
}

func (r *Runner) extractor() *extract.Extractor {
	return &extract.Extractor{Client: r.graphClient(), Sync: r.cfg.Sync, Poll: r.cfg.Poll, Throttle: r.cfg.Throttle,
		PageSize: r.cfg.PageSize, JobsPerAccount: r.cfg.JobsPerAccount}
}

// graphDialTimeout bounds reachGraph's connection attempt.
const graphDialTimeout = 5 * time.Second

// reachGraph opens (and closes) a TCP connection to the Graph API's host, or to the proxy the
// environment names for it (HTTPS_PROXY), sending nothing: no request, no token. A run that
// cannot reach Meta at all (no route, DNS failure, connection refused, nothing answering within
// graphDialTimeout) is ErrCannotStart at once, naming the URL, instead of every client failing
// after its retries. Any answer at that level is enough: what the API says is the clients'.
func (r *Runner) reachGraph(ctx context.Context) error {
	base := r.cfg.GraphURL
	if base == "" {
		base = extract.DefaultGraphURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: META_GRAPH_URL %q is not a URL", ErrUsage, base)
	}
	target := u
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err == nil && p != nil {
		target = p
	}
	host := target.Host
	if target.Port() == "" {
		port := "443"
		if target.Scheme == "http" {
			port = "80"
		}
		host = net.JoinHostPort(target.Hostname(), port)
	}
	dctx, cancel := context.WithTimeout(ctx, graphDialTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", host)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		via := ""
		if target != u {
			via = " (through the proxy " + target.Redacted() + ")"
		}
		return fmt.Errorf("%w: cannot reach the Graph API at %s%s: %w", ErrCannotStart, u.Redacted(), via, err)
	}
	conn.Close()
	return nil
}
