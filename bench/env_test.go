package bench

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/store"
)

const (
	Weeks    = 54  // a first run's horizon
	Lookback = 28  // days: the default
	PageSize = 500 // rows per results page (Meta's and the simulator's cap)
	Seed     = 7
)

// asOf is the as-of date of every run: today at UTC−12, the earliest today anywhere (the
// simulator has data up to its clock), so that no ad account's time zone (America/Los_Angeles
// among them) finds it after its own today, as between 00:00 and 08:00 UTC UTC's today was.
var asOf = func() time.Time {
	y, m, d := time.Now().UTC().Add(-12 * time.Hour).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}()

// horizon is the first Monday of the 54 weeks.
func horizon() time.Time { return pipeline.Monday(asOf).AddDate(0, 0, -7*(Weeks-1)) }

// dailySince is where a daily run starts: the Monday after the last final Sunday, the Sunday on
// or before as-of − lookback − 1 days (docs/DESIGN.md, "Weeks").
func dailySince() time.Time {
	d := asOf.AddDate(0, 0, -Lookback-1)
	for d.Weekday() != time.Sunday {
		d = d.AddDate(0, 0, -1)
	}
	return d.AddDate(0, 0, 1)
}

// world is one simulator on a loopback server and one seeded database.
type world struct {
	sim     *graphsim.Simulator
	url     string
	dbURL   string
	pool    *pgxpool.Pool
	clients []records.Client
}

// newWorld starts a simulator with `accounts` accounts and the given latency model, creates a
// database, migrates it and seeds one client per account with its daily KPI rows.
func newWorld(b *testing.B, accounts int, cfg graphsim.Config) *world {
	b.Helper()
	cfg.Accounts, cfg.Seed = accounts, Seed
	return fromWorld(b, e2etest.New(b, e2etest.Sim(cfg), e2etest.Seeded(horizon(), asOf)))
}

// newDB is newWorld without the loopback server (url is empty): it serves nothing.
func newDB(b *testing.B, accounts int) *world {
	b.Helper()
	return fromWorld(b, e2etest.New(b, e2etest.Sim(graphsim.Config{Accounts: accounts, Seed: Seed}), e2etest.NoServer(), e2etest.Seeded(horizon(), asOf)))
}

// fromWorld is the bench world of an e2etest world, with its clients read back and the
// simulator's counters reset.
func fromWorld(b *testing.B, e *e2etest.World) *world {
	b.Helper()
	w := &world{sim: e.Sim, url: e.URL, dbURL: e.DBURL, pool: e.Pool}
	var err error
	if w.clients, err = store.ReadClients(context.Background(), w.pool); err != nil {
		b.Fatal(err)
	}
	w.sim.ResetCounters()
	return w
}

// daily makes the database look as after yesterday's run: every client covered from the
// horizon and final up to the last final Sunday, so that a run as of today plans a daily run
// (five or six weeks from dailySince).
func (w *world) daily(b *testing.B) {
	b.Helper()
	final := dailySince().AddDate(0, 0, -1)
	if _, err := w.pool.Exec(context.Background(), `
INSERT INTO client_sync_state (client_id, covered_from, final_through, last_as_of, last_run_id)
SELECT id, $1, $2, $3, 'yesterday' FROM clients`, horizon(), final, asOf.AddDate(0, 0, -1)); err != nil {
		b.Fatal(err)
	}
	// Yesterday's run cached the ad accounts.
	var accts []records.AdAccount
	for _, a := range w.sim.Accounts() {
		accts = append(accts, records.AdAccount{ID: a.ID, Name: a.Name, TimeZone: a.TimeZone, Currency: a.Currency})
	}
	if _, err := store.SaveAdAccounts(context.Background(), w.pool, accts); err != nil {
		b.Fatal(err)
	}
}

// warmPlan has the simulator compute, before a benchmark's timer starts, every report the plan
// will ask for: each client's range per kind, or the planner's chunks of it (warmReports).
func (w *world) warmPlan(b *testing.B, p *pipeline.Plan) {
	b.Helper()
	for _, cp := range p.Clients {
		for _, k := range records.Kinds {
			s := extract.Specs[k]
			ranges := []extract.Range{cp.Range()}
			if weeks := cp.SyncChunks[k]; weeks > 0 {
				ranges = cp.Range().Chunks(weeks)
			}
			for _, rng := range ranges {
				q := s.Params(rng) // what metapipe will ask
				if err := w.sim.Warm(cp.Account, q); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// warmReports has the simulator compute, before a benchmark's timer starts, every report the
// run will ask for (docs in graphsim.Simulator.Warm): for metapipe the five reports of each
// client from since to asOf by weeks, for the old loop and its fix the four reports of each
// client and week. Meta computes its reports on its own machines; here the simulator would
// take the CPU from the side it measures.
func (w *world) warmReports(b *testing.B, since time.Time, old bool) {
	b.Helper()
	for _, c := range w.clients {
		if !old {
			for _, k := range records.Kinds {
				q := extract.Specs[k].Params(extract.Range{Since: since, Until: asOf}) // what metapipe will ask
				if err := w.sim.Warm(c.AdAccountID, q); err != nil {
					b.Fatal(err)
				}
			}
			continue
		}
		for from := since; !from.After(asOf); from = from.AddDate(0, 0, 7) {
			until := from.AddDate(0, 0, 6)
			if until.After(asOf) {
				until = asOf
			}
			for _, k := range oldKinds {
				if err := w.sim.Warm(c.AdAccountID, oldParams(extract.Specs[k], from, until)); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// timedRun starts the benchmark's timer, runs r once with o and closes r; it returns the report
// and the run's wall time. An error (ErrSomeFailed for a failed client) is fatal.
func timedRun(b *testing.B, r *pipeline.Runner, o pipeline.Options) (*pipeline.Report, time.Duration) {
	b.Helper()
	b.StartTimer()
	start := time.Now()
	rep, err := r.Run(context.Background(), o, "")
	wall := time.Since(start)
	r.Close()
	if err != nil {
		b.Fatal(err)
	}
	return rep, wall
}
