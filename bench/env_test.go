package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/fixtures"
	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/load"
	"github.com/metapipe/metapipe/pipeline"
)

// The latency model: the real API's figures divided by Scale.
const (
	Scale       = 20
	Latency     = 800 * time.Millisecond / Scale // per call
	Jitter      = 200 * time.Millisecond / Scale // ± uniform
	WeekPause   = 100 * time.Millisecond / Scale // the old loop's pause between weeks
	JobDuration = 2 * time.Second                // the simulator's default report-run time
	Weeks       = 54
	PageSize    = 500 // rows per results page (Meta's and the simulator's cap)
	Seed        = 7
)

// asOf is the as-of date of every run: today (the simulator has data up to its clock).
var asOf = func() time.Time {
	y, m, d := time.Now().UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}()

// horizon is the first Monday of the 54 weeks.
func horizon() time.Time { return pipeline.Monday(asOf).AddDate(0, 0, -7*(Weeks-1)) }

// pollCounter wraps the simulator and counts the polls of each report run, which the
// simulator's own counters give only in total.
type pollCounter struct {
	h     http.Handler
	mu    sync.Mutex
	polls map[string]int
}

func (p *pollCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method == http.MethodGet && len(segs) == 2 && !strings.HasPrefix(segs[1], "act_") {
		p.mu.Lock()
		p.polls[segs[1]]++
		p.mu.Unlock()
	}
	p.h.ServeHTTP(w, r)
}

// maxPolls is the most polls any one report run had.
func (p *pollCounter) maxPolls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := 0
	for _, n := range p.polls {
		m = max(m, n)
	}
	return m
}

// world is one simulator on a loopback server and one seeded database.
type world struct {
	sim     *fixtures.Simulator
	polls   *pollCounter
	url     string
	dbURL   string
	pool    *pgxpool.Pool
	clients []records.Client
}

// newWorld starts a simulator with `accounts` accounts and the given latency model, creates a
// database, migrates it and seeds one client per account with its daily KPI rows.
func newWorld(b *testing.B, accounts int, cfg fixtures.Config) *world {
	b.Helper()
	cfg.Accounts, cfg.Seed = accounts, Seed
	sim := fixtures.New(cfg)
	pc := &pollCounter{h: sim, polls: map[string]int{}}
	srv := httptest.NewServer(pc)
	b.Cleanup(srv.Close)
	w := newDB(b, sim)
	w.polls, w.url = pc, srv.URL
	return w
}

// newDB creates a database, migrates it and seeds one client per account of sim with its
// daily KPI rows; the world it returns serves nothing (url is empty).
func newDB(b *testing.B, sim *fixtures.Simulator) *world {
	b.Helper()
	ctx := context.Background()
	w := &world{sim: sim, dbURL: pgtest.NewDatabase(b)}
	pool, err := pgxpool.New(ctx, w.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	w.pool = pool
	if err := load.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	if _, err := fixtures.SeedDemo(ctx, pool, sim, horizon(), asOf); err != nil {
		b.Fatal(err)
	}
	if w.clients, err = load.ReadClients(ctx, pool); err != nil {
		b.Fatal(err)
	}
	sim.ResetCounters()
	return w
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// oldDefaultConcurrency was --concurrency's fixed default before `auto`.
const oldDefaultConcurrency = 32
