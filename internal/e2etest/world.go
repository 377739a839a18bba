package e2etest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/store"
)

// World is what an end-to-end test runs against: the simulator on a loopback HTTP server, a
// database of the test's own (internal/pgtest) with the schema migrated and one demo client
// per simulated ad account, and a stage folder. Everything is closed or removed when the test
// ends. The world imports neither pipeline nor service, so that any package's tests may use it.
type World struct {
	Sim    *graphsim.Simulator
	Server *httptest.Server // nil with NoServer
	URL    string           // the simulator's base URL ("" with NoServer)
	DBURL  string           // the database the code under test is given
	Pool   *pgxpool.Pool    // a pool on the database itself (not through Through's pooler)
	// Stage is an empty folder for run directories.
	Stage string
	// Clients are the demo clients' ids, in the simulator's account order.
	Clients []string
}

// Migration brings a world's database to the schema its tests need; it runs after the database
// is made and before the clients are seeded.
type Migration func(ctx context.Context, w *World) error

// Schema is the database layer's own migration (store.Migrate): the default.
func Schema(ctx context.Context, w *World) error { return store.Migrate(ctx, w.Pool) }

// Option is what one package's world differs in.
type Option func(*options)

type options struct {
	sim, base  graphsim.Config
	wrap       func(http.Handler) http.Handler
	noServer   bool
	through    func(t testing.TB, direct string) string
	migrations []Migration
	from, to   time.Time
}

// Sim is the simulator's config (accounts, faults, time zones, latencies, its clock); a zero
// Seed or JobDuration takes SimDefaults'.
func Sim(cfg graphsim.Config) Option { return func(o *options) { o.sim = cfg } }

// SimDefaults are the Seed and JobDuration of a package's worlds when Sim leaves them zero.
func SimDefaults(base graphsim.Config) Option { return func(o *options) { o.base = base } }

// Wrap puts a middleware in front of the simulator: a proxy that misbehaves, a request log.
func Wrap(mw func(http.Handler) http.Handler) Option { return func(o *options) { o.wrap = mw } }

// NoServer makes a world whose simulator is not served (URL is ""): benchmarks that only
// load, or a test serving the simulator from a process of its own.
func NoServer() Option { return func(o *options) { o.noServer = true } }

// Through gives the code under test the database through what f returns for its direct URL (a
// PgBouncer); Pool stays direct.
func Through(f func(t testing.TB, direct string) string) Option {
	return func(o *options) { o.through = f }
}

// Migrate replaces the migrations (default: Schema alone).
func Migrate(m ...Migration) Option { return func(o *options) { o.migrations = m } }

// Seeded is the range of the demo clients' daily KPI rows (default: 60 weeks before LastSunday
// to a week after it).
func Seeded(from, to time.Time) Option { return func(o *options) { o.from, o.to = from, to } }

// New builds a world. In -short mode the test is skipped: a world is end-to-end.
func New(t testing.TB, opts ...Option) *World {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: the simulator and PostgreSQL")
	}
	o := options{migrations: []Migration{Schema}, from: LastSunday.AddDate(0, 0, -7*60), to: LastSunday.AddDate(0, 0, 7)}
	for _, opt := range opts {
		opt(&o)
	}
	cfg := o.sim
	if cfg.Seed == 0 {
		cfg.Seed = o.base.Seed
	}
	if cfg.JobDuration == 0 {
		cfg.JobDuration = o.base.JobDuration
	}
	w := &World{Sim: graphsim.New(cfg), Stage: t.TempDir()}
	if !o.noServer {
		var h http.Handler = w.Sim
		if o.wrap != nil {
			h = o.wrap(w.Sim)
		}
		w.Server = httptest.NewServer(h)
		t.Cleanup(w.Server.Close)
		w.URL = w.Server.URL
	}
	direct := pgtest.NewDatabase(t)
	w.DBURL = direct
	if o.through != nil {
		w.DBURL = o.through(t, direct)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	w.Pool = pool
	for _, m := range o.migrations {
		if err := m(ctx, w); err != nil {
			t.Fatalf("e2etest: migrate: %v", err)
		}
	}
	if w.Clients, err = graphsim.SeedDemo(ctx, pool, w.Sim, o.from, o.to); err != nil {
		t.Fatalf("e2etest: seed the demo clients: %v", err)
	}
	return w
}

// Names are the demo clients' names ("Demo <account name>"), in account order.
func (w *World) Names() []string {
	var names []string
	for _, a := range w.Sim.Accounts() {
		names = append(names, "Demo "+a.Name)
	}
	return names
}

// Check compares every client's campaign_summaries rows over the weeks ending with asOf's week
// with the simulator's truth (CheckTable); it returns the rows compared.
func (w *World) Check(t testing.TB, asOf time.Time, weeks int) int {
	t.Helper()
	return CheckTable(t, w.Pool, w.Sim, w.Clients, asOf, weeks)
}
