package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/pipeline"
)

// lastSunday is the newest Sunday up to today: the simulator has data up to its clock.
var lastSunday = e2etest.LastSunday

// env is a world (its Clients: ids, in account order) and the clock of its runners.
type env struct {
	*e2etest.World
	now func() time.Time // the simulator's clock, and the runner's
}

// pipelineWorld is what this package's worlds share: the seed, and report runs that finish
// in 150 ms.
var pipelineWorld = e2etest.SimDefaults(graphsim.Config{Seed: 11, JobDuration: 150 * time.Millisecond})

// fromWorld is the env of a world, on the clock now (nil: the real one).
func fromWorld(w *e2etest.World, now func() time.Time) *env {
	return &env{World: w, now: now}
}

func newEnv(t *testing.T, accounts int) *env {
	t.Helper()
	return newWrappedEnv(t, graphsim.Config{Accounts: accounts}, nil)
}

func (e *env) config(concurrency int) pipeline.Config {
	return pipeline.Config{
		DatabaseURL: e.DBURL, GraphURL: e.URL, Token: extract.NewToken(graphsim.DemoToken),
		StageDir: e.Stage, Concurrency: concurrency,
		Sync:     extract.SyncConfig{Weeks: extract.SyncNever}, // report runs, unless a test says otherwise
		Poll:     extract.PollConfig{First: 120 * time.Millisecond, Max: 300 * time.Millisecond},
		Retry:    extract.RetryConfig{Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond},
		Throttle: extract.ThrottleConfig{Cooldown: 20 * time.Millisecond, RegainUnit: 10 * time.Millisecond},
		Now:      e.now,
	}
}

func (e *env) runner(t *testing.T, concurrency int) *pipeline.Runner {
	t.Helper()
	r, err := pipeline.Open(context.Background(), e.config(concurrency))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func opts(asOf time.Time) pipeline.Options {
	return pipeline.Options{AsOf: asOf, Weeks: 54, Lookback: 28}
}

// weeksOpts is opts over a horizon of weeks weeks.
func weeksOpts(asOf time.Time, weeks int) pipeline.Options {
	o := opts(asOf)
	o.Weeks = weeks
	return o
}

// checkTable compares campaign_summaries with the simulator's truth for every client over the
// 54-week horizon.
func checkTable(t *testing.T, e *env, asOf time.Time) int {
	t.Helper()
	return e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, asOf, 54)
}

type rowVersion struct{ xmin, updated string }

func versions(t *testing.T, pool *pgxpool.Pool) map[string]rowVersion {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id::text, xmin::text, last_updated::text FROM campaign_summaries`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]rowVersion{}
	for rows.Next() {
		var id string
		var v rowVersion
		if err := rows.Scan(&id, &v.xmin, &v.updated); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t, 3)
	asOf1 := lastSunday.AddDate(0, 0, -7)
	r := e.runner(t, 4)

	// First run: a year for every client, equal to the truth.
	rep, err := r.Run(context.Background(), opts(asOf1), "")
	if err != nil {
		t.Fatal(err)
	}
	n := checkTable(t, e, asOf1)
	if n < 3*50 || rep.Ledger.Rows.Inserted != int64(n) {
		t.Fatalf("first run: %d rows in the table, %d inserted", n, rep.Ledger.Rows.Inserted)
	}
	for _, cp := range rep.Plan.Clients {
		if cp.Weeks != 54 {
			t.Errorf("first run fetched %d weeks for %s, want 54", cp.Weeks, cp.Name)
		}
	}
	if runs := e.Sim.Counters().Requests[graphsim.KindSubmit]; runs != 15 {
		t.Errorf("first run submitted %d report runs, want 15", runs)
	}

	// The same run again: nothing rewritten.
	before := versions(t, e.Pool)
	rep, err = r.Run(context.Background(), opts(asOf1), "")
	if err != nil {
		t.Fatal(err)
	}
	if tm := rep.Ledger.Rows; tm.Inserted != 0 || tm.Updated != 0 || tm.Deleted != 0 {
		t.Errorf("second identical run: %d inserted, %d updated, %d deleted, want none", tm.Inserted, tm.Updated, tm.Deleted)
	}
	after := versions(t, e.Pool)
	changed := 0
	for id, v := range before {
		if after[id] != v {
			changed++
		}
	}
	if changed != 0 || len(after) != len(before) {
		t.Errorf("second identical run rewrote %d rows (%d -> %d rows)", changed, len(before), len(after))
	}

	// A week later: about five weeks fetched, not 54.
	e.Sim.ResetCounters()
	asOf2 := lastSunday
	rep, err = r.Run(context.Background(), opts(asOf2), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range rep.Plan.Clients {
		if cp.Weeks < 5 || cp.Weeks > 6 {
			t.Errorf("a week later: %s fetched %d weeks (%s..%s), want 5-6", cp.Name, cp.Weeks, cp.Since, cp.Until)
		}
	}
	if runs := e.Sim.Counters().Requests[graphsim.KindSubmit]; runs != 15 {
		t.Errorf("a week later: %d report runs, want 15", runs)
	}
	checkTable(t, e, asOf2)
	var final string
	if err := e.Pool.QueryRow(context.Background(), `SELECT min(final_through)::text FROM client_sync_state`).Scan(&final); err != nil {
		t.Fatal(err)
	}
	if want := asOf2.AddDate(0, 0, -35).Format(time.DateOnly); final != want {
		t.Errorf("final_through %s, want %s", final, want)
	}
}

func TestConcurrencyBound(t *testing.T) {
	e := newEnv(t, 10)
	r := e.runner(t, 4)
	o := weeksOpts(lastSunday, 8)
	if _, err := r.Run(context.Background(), o, ""); err != nil {
		t.Fatal(err)
	}
	c := e.Sim.Counters()
	// Four clients at once, five report runs each.
	if c.PeakRunning > 20 {
		t.Errorf("peak running report runs %d, want at most 4 clients × 5", c.PeakRunning)
	}
	if c.PeakRunning <= 5 {
		t.Errorf("peak running report runs %d: clients did not overlap", c.PeakRunning)
	}
	t.Logf("10 clients, --concurrency 4: peak running report runs %d, peak requests in flight %d", c.PeakRunning, c.PeakInFlight)
}

func TestRefusedTokenFailsOneClient(t *testing.T) {
	e := newEnv(t, 3)
	bad := e.Sim.Accounts()[1]
	if _, err := e.Pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, e.Clients[1]); err != nil {
		t.Fatal(err)
	}
	r := e.runner(t, 4)
	o := weeksOpts(lastSunday, 6)
	rep, err := r.Run(context.Background(), o, "")
	if !errors.Is(err, pipeline.ErrSomeFailed) {
		t.Fatalf("err = %v, want ErrSomeFailed", err)
	}
	if !strings.Contains(err.Error(), bad.Name) {
		t.Errorf("error %q does not name %s", err, bad.Name)
	}
	if rep.Ledger.Status != pipeline.StatusPartial {
		t.Errorf("ledger status %s", rep.Ledger.Status)
	}
	var loaded []string
	rows, _ := e.Pool.Query(context.Background(), `SELECT DISTINCT client_id::text FROM campaign_summaries ORDER BY 1`)
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		loaded = append(loaded, id)
	}
	if len(loaded) != 2 || strings.Contains(strings.Join(loaded, ","), e.Clients[1]) {
		t.Errorf("clients loaded: %v (the refused one is %s)", loaded, e.Clients[1])
	}
	var states int
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM client_sync_state WHERE client_id = $1`, e.Clients[1]).Scan(&states)
	if states != 0 {
		t.Error("the failed client got a sync state")
	}
}

func TestOverlappingRunStops(t *testing.T) {
	e := newEnv(t, 2)
	r := e.runner(t, 2)
	// Start a run that blocks in its extraction, then a second one.
	e.Sim.SetFaults(e.Sim.Accounts()[0].ID, graphsim.Faults{StuckJobs: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := r.Run(ctx, opts(lastSunday), ""); done <- err }()
	time.Sleep(300 * time.Millisecond)
	r2 := e.runner(t, 2)
	_, err := r2.Run(context.Background(), opts(lastSunday), "")
	if !errors.Is(err, pipeline.ErrCannotStart) || !strings.Contains(err.Error(), e.Sim.Accounts()[0].Name) {
		t.Errorf("second run: %v, want ErrCannotStart naming the clients", err)
	}
	cancel()
	<-done
	var n int
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM campaign_summaries`).Scan(&n)
	if n != 0 {
		t.Errorf("%d rows loaded by a cancelled run", n)
	}
}

// No token anywhere (no META_ACCESS_TOKEN, no client's own): a configuration error, before
// anything is locked, fetched or written.
func TestNoTokenAnywhere(t *testing.T) {
	e := newEnv(t, 2)
	if _, err := e.Pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = NULL`); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(2)
	cfg.Token = extract.Token{}
	r, err := pipeline.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Run(context.Background(), opts(lastSunday), "")
	if !errors.Is(err, pipeline.ErrUsage) || !strings.Contains(err.Error(), "META_ACCESS_TOKEN") {
		t.Errorf("err = %v, want a usage error naming META_ACCESS_TOKEN", err)
	}
	if n := e.Sim.Counters().Requests[graphsim.KindSubmit]; n != 0 {
		t.Errorf("%d report runs submitted", n)
	}
}

// With --sync-weeks, the first run's year of a few clients goes by synchronous chunks, and a
// daily run's five or six weeks by one synchronous read per kind: no report run, one request
// per kind, the ledger says so, and the table equals the truth.
func TestDailyRunSynchronous(t *testing.T) {
	e := newEnv(t, 3)
	cfg := e.config(4)
	cfg.Sync = extract.SyncConfig{Weeks: extract.DefaultSyncWeeks}
	r, err := pipeline.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	asOf1 := lastSunday.AddDate(0, 0, -7)
	if _, err := r.Run(context.Background(), opts(asOf1), ""); err != nil {
		t.Fatal(err)
	}
	// Three clients' years: synchronous reads in week-aligned chunks, more than one per kind
	// (TestPlannerReadsOneClientSynchronouslyAndAThousandByReportRuns).
	if c := e.Sim.Counters(); c.Requests[graphsim.KindSubmit] != 0 || c.Requests[graphsim.KindSync] <= 15 {
		t.Errorf("first run: %d report runs, %d synchronous reads; want none and chunks", c.Requests[graphsim.KindSubmit], c.Requests[graphsim.KindSync])
	}
	e.Sim.ResetCounters()
	rep, err := r.Run(context.Background(), opts(lastSunday), "")
	if err != nil {
		t.Fatal(err)
	}
	c := e.Sim.Counters()
	if c.Requests[graphsim.KindSubmit] != 0 || c.Requests[graphsim.KindPoll] != 0 || c.Requests[graphsim.KindResults] != 0 || c.Requests[graphsim.KindSync] != 15 {
		t.Errorf("daily run: requests %v, want 15 synchronous reads and no report run", c.Requests)
	}
	for id, cr := range rep.Ledger.Clients {
		if cr.Extract.Stats.Syncs != 5 || cr.Extract.Stats.Submits != 0 {
			t.Errorf("ledger, client %s: stats %+v", id, cr.Extract.Stats)
		}
		for k, kr := range cr.Extract.Kinds {
			if !kr.Sync {
				t.Errorf("ledger, client %s: %s not read synchronously: %+v", id, k, kr)
			}
		}
	}
	checkTable(t, e, lastSunday)
}

// --concurrency auto against the simulator, whose app-wide usage headers rise with its call
// rate: with room in the app's budget the limit climbs from its start to every client of the
// run; with a budget the run fills, the limit is cut, and the run still loads the truth.
func TestAutoConcurrency(t *testing.T) {
	const clients = 40
	run := func(t *testing.T, appBudget int) (*pipeline.ConcurrencyRecord, *env) {
		e := newWrappedEnv(t, graphsim.Config{Accounts: clients, AppCallBudget: appBudget, JobDuration: 300 * time.Millisecond}, nil)
		cfg := e.config(pipeline.ConcurrencyAuto)
		cfg.AutoConcurrency = pipeline.AutoConcurrency{Start: 4}
		r, err := pipeline.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		o := weeksOpts(lastSunday, 13)
		rep, err := r.Run(context.Background(), o, "")
		if err != nil {
			t.Fatal(err)
		}
		c := rep.Ledger.Concurrency
		if c == nil || c.Mode != "auto" || c.Start != 4 {
			t.Fatalf("ledger concurrency %+v", c)
		}
		e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, 13)
		t.Logf("app budget %d calls a minute: %+v; peak report runs running %d", appBudget, *c, e.Sim.Counters().PeakRunning)
		return c, e
	}
	var low *pipeline.ConcurrencyRecord
	t.Run("low usage: ramps up", func(t *testing.T) {
		c, e := run(t, 0) // 600 calls a minute per account: a few percent
		low = c
		// The limit rises only while a client waits and every slot is taken, so whether it
		// reaches the last client or one short depends on which finishes first: at least
		// three quarters of the run, from a start of 4.
		if c.Cuts != 0 || c.High < clients*3/4 || c.Peak < clients/2 || c.MaxAppUsage >= 60 {
			t.Errorf("%+v: want the limit raised to at least %d clients, more than %d in flight, no cut", *c, clients*3/4, clients/2)
		}
		if running := e.Sim.Counters().PeakRunning; running <= 4*5 {
			t.Errorf("peak report runs running %d: never more than the 4 clients it started with", running)
		}
	})
	t.Run("high usage: backs off", func(t *testing.T) {
		c, _ := run(t, 120) // the run makes about 600 calls: the app-wide usage climbs past 75 %
		if c.Cuts == 0 || c.MaxAppUsage < 75 || c.Final >= c.High {
			t.Errorf("%+v: want the limit cut below its highest", *c)
		}
		if low != nil && c.Average >= low.Average {
			t.Errorf("average clients in flight %.1f under a full budget, %.1f with room: want fewer", c.Average, low.Average)
		}
	})
}

// A run in which every client failed is failed, not partial (exit 1 still: ErrSomeFailed).
func TestEveryClientRefusedFailsTheRun(t *testing.T) {
	e := newEnv(t, 2)
	if _, err := e.Pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = $1`, graphsim.ExpiredToken); err != nil {
		t.Fatal(err)
	}
	o := weeksOpts(lastSunday, 6)
	rep, err := e.runner(t, 2).Run(context.Background(), o, "")
	if !errors.Is(err, pipeline.ErrSomeFailed) {
		t.Fatalf("err = %v, want ErrSomeFailed", err)
	}
	if rep.Ledger.Status != pipeline.StatusFailed {
		t.Errorf("ledger status %s, want failed", rep.Ledger.Status)
	}
}
