package service_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/internal/servicetest"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

var lastSunday = e2etest.LastSunday

// env is a world whose database also has River's tables.
type env struct {
	*e2etest.World
}

func newEnv(t *testing.T, cfg graphsim.Config) *env {
	t.Helper()
	return newWrappedEnv(t, cfg, nil)
}

// newWrappedEnv is newEnv with a middleware in front of the simulator.
func newWrappedEnv(t *testing.T, cfg graphsim.Config, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	return &env{World: servicetest.New(t, e2etest.Sim(cfg), e2etest.Wrap(wrap))}
}

// config is the service configuration of process id (servicetest.Config).
func (e *env) config(id string, concurrency int) service.Config {
	return servicetest.Config(e.World, id, concurrency)
}

func (e *env) open(t *testing.T, id string, concurrency int) *service.Service {
	t.Helper()
	return openWith(t, e.config(id, concurrency))
}

// openWith opens a service of cfg, closed when the test ends.
func openWith(t *testing.T, cfg service.Config) *service.Service {
	t.Helper()
	s, err := service.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// syncWorker starts a worker of concurrency workers that reads short ranges synchronously
// (the command's --sync-weeks).
func (e *env) syncWorker(t *testing.T, concurrency int) *service.Service {
	t.Helper()
	cfg := e.config("worker", concurrency)
	cfg.Pipeline.Sync = extract.SyncConfig{Weeks: extract.DefaultSyncWeeks}
	return start(t, openWith(t, cfg))
}

// start starts s's workers; they stop when the test ends, before s is closed.
func start(t *testing.T, s *service.Service) *service.Service {
	t.Helper()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// waitRun waits until the run is over and returns it.
func waitRun(t *testing.T, s *service.Service, id string, within time.Duration) *service.RunView {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, err := s.Run(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.FinishedAt != nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not over after %s: %+v", id, within, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A run queued as one job per client is worked by two processes: every client loaded, equal to
// the simulator's truth, five report runs each and no more although the jobs snoozed while
// Meta worked; the run says done and its clients' progress is whole.
func TestServiceRunsClientsAsJobs(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 4})
	ctx := context.Background()
	a, b := start(t, e.open(t, "worker-a", 2)), start(t, e.open(t, "worker-b", 2))
	id, err := a.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 8, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 8, Source: "test"}); !isConflict(err, id) {
		t.Errorf("the same run again: %v, want a conflict naming %s", err, id)
	}
	r := waitRun(t, a, id, 2*time.Minute)
	if r.State != "done" || len(r.Clients) != 4 {
		t.Fatalf("run: %+v", r)
	}
	for _, c := range r.Clients {
		// A first load: every row inserted, nothing else.
		var n int64
		_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM campaign_summaries WHERE client_id = $1`, c.ClientID).Scan(&n)
		if c.State != "done" || c.ReportsDone != 5 || c.ReportsTotal != 5 || c.Percent != 100 || c.Attempt != 1 || c.Error != "" ||
			n == 0 || c.Rows != (pipeline.RowCounts{Inserted: n}) {
			t.Errorf("client %s: %+v, want done, %d rows inserted", c.Name, c, n)
		}
	}
	e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, 8)
	// A loaded client's staged files are of no more use: nothing of the run is left behind.
	if left, _ := filepath.Glob(filepath.Join(e.Stage, "service", id, "*")); len(left) != 0 {
		t.Errorf("staged files left after the run: %v", left)
	}
	for _, acct := range e.Sim.Accounts() {
		if n := e.Sim.Counters().ByAccount[acct.ID].ReportRuns; n != 5 {
			t.Errorf("%s: %d report runs submitted, want 5", acct.Name, n)
		}
	}
	var snoozed, workers int
	_ = e.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE (metadata->>'snoozes')::int > 0), count(DISTINCT attempted_by[array_upper(attempted_by, 1)])
		FROM river_job WHERE kind = 'metapipe_client_run'`).Scan(&snoozed, &workers)
	if snoozed == 0 {
		t.Error("no job snoozed while Meta worked: the workers were held")
	}
	t.Logf("%d of 4 jobs snoozed; finished by %d workers", snoozed, workers)
	// The same run again once the first is over: queued anew.
	if _, err := a.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 8, Source: "test"}); err != nil {
		t.Errorf("the same run after the first ended: %v", err)
	}
}

// A daily run after the first: the service's workers read the lookback's weeks synchronously
// (--sync-weeks), submitting no report run, and the table still equals the simulator's truth.
// The first run, 3 clients' 12 weeks, is read in synchronous chunks (the planner).
func TestServiceDailyRunReadsSynchronously(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 3})
	ctx := context.Background()
	s := e.syncWorker(t, 3)
	runs := func() int64 {
		var n int64
		for _, acct := range e.Sim.Accounts() {
			n += e.Sim.Counters().ByAccount[acct.ID].ReportRuns
		}
		return n
	}
	first, err := s.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 12, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, s, first, 2*time.Minute); r.State != "done" {
		t.Fatalf("first run: %+v", r)
	}
	submitted, syncReads := runs(), e.Sim.Counters().Requests[graphsim.KindSync]
	if submitted != 0 {
		// A run of 3 clients' 12 weeks: the planner reads them in synchronous chunks.
		t.Errorf("first run of 12 weeks: %d report runs, want none", submitted)
	}
	daily, err := s.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 12, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, s, daily, 2*time.Minute)
	if r.State != "done" || len(r.Clients) != 3 {
		t.Fatalf("daily run: %+v", r)
	}
	for _, c := range r.Clients {
		// The lookback's weeks read again, equal to the stored: nothing written.
		if c.State != "done" || c.Error != "" || c.Attempt != 1 || c.ReportsDone != 5 || c.ReportsTotal != 5 ||
			c.Rows.Inserted != 0 || c.Rows.Updated != 0 || c.Rows.Unchanged == 0 {
			t.Errorf("daily run, client %s: %+v, want 0 rows inserted, 0 updated, some unchanged", c.Name, c)
		}
	}
	if n := runs() - submitted; n != 0 {
		t.Errorf("the daily run submitted %d report runs, want none", n)
	}
	if n := e.Sim.Counters().Requests[graphsim.KindSync] - syncReads; n < 3*5 {
		t.Errorf("the daily run made %d synchronous reads, want at least one per client and kind (15)", n)
	}
	e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, 12)
}

func isConflict(err error, id string) bool {
	var ce *service.ConflictError
	return errors.As(err, &ce) && ce.RunID == id
}

// A refused token fails that client at once (not retried), the others are loaded, and the run
// is partial; bad requests are field errors.
func TestServicePermanentErrorsAndBadRequests(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	ctx := context.Background()
	if _, err := e.Pool.Exec(ctx, `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, e.Clients[0]); err != nil {
		t.Fatal(err)
	}
	s := start(t, e.open(t, "worker", 2))
	for _, tc := range []struct {
		req   service.RunRequest
		field string
	}{
		{service.RunRequest{Clients: []string{"Nobody"}}, "clients"},
		{service.RunRequest{Weeks: 500}, "weeks"},
		{service.RunRequest{AsOf: time.Now().AddDate(1, 0, 0)}, "as_of"},
	} {
		var fe *service.FieldError
		if _, err := s.Enqueue(ctx, tc.req); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want a field error on %s", tc.req, err, tc.field)
		}
	}
	id, err := s.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 6})
	if err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, s, id, time.Minute)
	if r.State != "partial" {
		t.Fatalf("run state %s, want partial: %+v", r.State, r)
	}
	for _, c := range r.Clients {
		refused := c.ClientID == e.Clients[0]
		switch {
		case refused && (c.State != "failed" || c.Attempt != 1 || !strings.Contains(c.Error, "190")):
			t.Errorf("refused client: %+v, want failed on attempt 1 with the 190 error", c)
		case !refused && c.State != "done":
			t.Errorf("other client: %+v", c)
		}
	}

	// The run cached the ad accounts. An as-of that is today somewhere (UTC+14) but after today
	// in a cached account's time zone (UTC-11: always a day or two behind) is refused before
	// anything is queued, naming the client and its today, as metapipe run refuses it.
	if _, err := e.Pool.Exec(ctx, `UPDATE ad_accounts SET timezone_name = 'Pacific/Pago_Pago'
		WHERE ad_account_id = (SELECT ltrim(meta_ad_account_id, 'act_') FROM clients WHERE id = $1)`, e.Clients[1]); err != nil {
		t.Fatal(err)
	}
	var runs int
	_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM service_runs`).Scan(&runs)
	latest := time.Now().In(time.FixedZone("UTC+14", 14*3600))
	asOf := time.Date(latest.Year(), latest.Month(), latest.Day(), 0, 0, 0, 0, time.UTC)
	var fe *service.FieldError
	_, err = s.Enqueue(ctx, service.RunRequest{AsOf: asOf})
	if !errors.As(err, &fe) || fe.Field != "as_of" || !strings.Contains(fe.Reason, "Pacific/Pago_Pago") ||
		!strings.Contains(fe.Reason, "after today") || strings.Contains(fe.Reason, "usage") {
		t.Errorf("as of %s, after today in Pago Pago: %v, want a field error on as_of naming the zone", asOf.Format(time.DateOnly), err)
	}
	var after int
	_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM service_runs`).Scan(&after)
	if after != runs {
		t.Errorf("service_runs %d -> %d: a refused run was queued", runs, after)
	}
}

// slowPages delays every results page of a report run (GET <run id>/insights) by d.
func slowPages(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
			if len(segs) == 3 && segs[2] == "insights" && !strings.HasPrefix(segs[1], "act_") {
				time.Sleep(d)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// An attempt is bounded by --rescue-after (River rescues nothing younger, and ends an attempt
// older): a client whose result pages take longer to read than that fails after its attempts,
// with an error that says so and what to raise, not a bare "context deadline exceeded"; given
// a bound longer than its reading, the same client is loaded in one attempt.
func TestAttemptOutlastingItsBound(t *testing.T) {
	e := newWrappedEnv(t, graphsim.Config{Accounts: 1, JobDuration: 200 * time.Millisecond}, slowPages(300*time.Millisecond))
	ctx := context.Background()
	run := func(rescueAfter time.Duration) *service.RunView {
		cfg := e.config("worker-"+rescueAfter.String(), 1)
		cfg.RescueAfter, cfg.MaxAttempts, cfg.Pipeline.PageSize = rescueAfter, 2, 20
		s, err := service.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = s.Stop(ctx) }()
		id, err := s.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 13, Full: true, Source: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return waitRun(t, s, id, time.Minute)
	}
	r := run(2 * time.Second)
	if c := r.Clients[0]; r.State != "failed" || c.Attempt != 2 || !strings.Contains(c.Error, "--rescue-after") || !strings.Contains(c.Error, "2s") {
		t.Errorf("with a 2 s bound: %+v, want failed after 2 attempts, the error naming --rescue-after", r)
	}
	if r := run(time.Minute); r.State != "done" || r.Clients[0].Attempt != 1 {
		t.Errorf("with a 1 min bound: %+v, want done in one attempt", r)
	}
}

// A run of a whole fleet (every active client, 1,000 of them) is queued as one run of 1,000
// jobs, and the same request again is a conflict naming it: what a run was asked for is kept
// short whatever its size.
func TestEnqueueAWholeFleet(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	ctx := context.Background()
	if _, err := e.Pool.Exec(ctx, `INSERT INTO clients (name, meta_ad_account_id, active)
		SELECT 'Fleet ' || i, 'act_' || (2000000000 + i), true FROM generate_series(1, 999) i`); err != nil {
		t.Fatal(err)
	}
	s := e.open(t, "api", 0)
	id, err := s.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Source: "test"})
	if err != nil {
		t.Fatalf("queue a run of every client: %v", err)
	}
	r, err := s.Run(ctx, id)
	if err != nil || len(r.Clients) != 1000 || r.State != "queued" {
		t.Fatalf("the run: %v, %d clients, %s", err, len(r.Clients), r.State)
	}
	var jobs int
	_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE args->>'run_id' = $1`, id).Scan(&jobs)
	if jobs != 1000 {
		t.Errorf("%d jobs, want 1000", jobs)
	}
	if _, err := s.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Source: "test"}); !isConflict(err, id) {
		t.Errorf("the same run again: %v, want a conflict naming %s", err, id)
	}
}

// --schedule makes the worker that is River's leader queue the daily run of every active
// client, once a day: the schedule fires every second here, and one run is queued, worked and
// done, and no second one.
func TestScheduleQueuesOneRunADay(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	ctx := context.Background()
	cfg := e.config("scheduler", 2)
	cfg.Schedule = "@every 1s"
	s := start(t, openWith(t, cfg))
	var runs []service.RunView
	var err error
	deadline := time.Now().Add(time.Minute)
	for len(runs) == 0 || runs[0].FinishedAt == nil {
		if runs, err = s.Runs(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled run over after a minute: %+v", runs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // three more ticks of the schedule
	if runs, err = s.Runs(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Source != "schedule" || runs[0].State != "done" || len(runs[0].Clients) != 2 || runs[0].AsOfGiven {
		t.Fatalf("runs: %+v, want one run of both clients queued by the schedule, done", runs)
	}
	var daily int
	_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'metapipe_daily_run'`).Scan(&daily)
	if daily != 1 {
		t.Errorf("%d daily jobs, want 1", daily)
	}
}

// A binary rolled out before metapipe migrate (metapipe's schema older than it needs) does not
// start: exit 3 with what to run, not a failure at the first job.
func TestServiceRefusesAnOldSchema(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	ctx := context.Background()
	if _, err := e.Pool.Exec(ctx, `DELETE FROM metapipe_schema_migrations WHERE version_id = (SELECT max(version_id) FROM metapipe_schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	s, err := service.Open(ctx, e.config("old-schema", 1))
	if err == nil {
		s.Close()
		t.Fatal("the service opened on an old schema")
	}
	if se := (*service.StartError)(nil); !errors.As(err, &se) || !strings.Contains(err.Error(), "run metapipe migrate") {
		t.Errorf("%v, want a *service.StartError saying to run metapipe migrate", err)
	}
}

// A worker removes the staged folders of clients that are over, whoever finished them (an
// attempt retried and loaded elsewhere leaves files only this worker sees), and those of runs
// the database does not know, when it starts; a client still in progress keeps its folder.
func TestWorkerSweepsStagedFilesOfClientsThatAreOver(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	ctx := context.Background()
	q := e.open(t, "queue-only", 0)
	done, err := q.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 3, Source: "test", Clients: []string{e.Clients[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE service_run_clients SET state = 'done' WHERE run_id = $1`, done); err != nil {
		t.Fatal(err)
	}
	live, err := q.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 3, Source: "test", Clients: []string{e.Clients[1]}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE service_run_clients SET state = 'waiting' WHERE run_id = $1`, live); err != nil {
		t.Fatal(err)
	}
	staged := func(run, client string) string {
		dir := filepath.Join(e.Stage, "service", run, client)
		if err := os.MkdirAll(filepath.Join(dir, "extract"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "extract", "campaigns.parquet"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	over, unknown, inProgress := staged(done, e.Clients[0]), staged("20200101T000000Z-000000", e.Clients[0]), staged(live, e.Clients[1])
	// Cancel the live run's job before a worker takes it: this test is about the folders only.
	if _, err := e.Pool.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now() WHERE state = 'available'`); err != nil {
		t.Fatal(err)
	}
	start(t, e.open(t, "sweeper", 1))
	for dir, want := range map[string]bool{over: false, unknown: false, inProgress: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", dir, err == nil, want)
		}
	}
	if _, err := os.Stat(filepath.Join(e.Stage, "service", "20200101T000000Z-000000")); err == nil {
		t.Error("the unknown run's folder is left")
	}
}

// failing answers every Graph API request with a transient error (HTTP 500, Meta's code 2).
func failing(http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","is_transient":true,"code":2}}`))
	})
}

// --max-attempts is the worker's, whoever queued the job: a run queued by a process whose
// limit is 6 (serve, enqueue) and worked by a worker whose limit is 2 fails its client after
// 2 attempts. Before, River took the attempts from the job's row, set by whoever inserted it,
// and the worker's limit had no effect (River's third attempt came 16 s later, and three more).
func TestWorkerMaxAttemptsAppliesToEveryJob(t *testing.T) {
	e := newWrappedEnv(t, graphsim.Config{Accounts: 1}, failing)
	ctx := context.Background()
	queuer := e.config("serve", 0)
	queuer.MaxAttempts = 6
	q := openWith(t, queuer)
	wcfg := e.config("worker", 1)
	wcfg.MaxAttempts = 2
	start(t, openWith(t, wcfg))
	id, err := q.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 13, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, q, id, time.Minute)
	if c := r.Clients[0]; r.State != "failed" || c.State != "failed" || c.Attempt != 2 {
		t.Errorf("run %s client %s attempt %d (%s), want failed after the worker's 2 attempts", r.State, c.State, c.Attempt, c.Error)
	}
	var state string
	var attempt int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) { // River records it a moment later
		if err := e.Pool.QueryRow(ctx, `SELECT state::text, attempt FROM river_job WHERE kind = 'metapipe_client_run'`).Scan(&state, &attempt); err != nil {
			t.Fatal(err)
		}
		if state != "running" || time.Now().After(deadline) {
			break
		}
	}
	if state != "cancelled" || attempt != 2 {
		t.Errorf("River's job: %s after %d attempts, want cancelled after 2 (not retried on)", state, attempt)
	}
}

// A first run of one client's 54 weeks: the job plans it as a run of one client and reads it in
// week-aligned synchronous chunks (the planner, issue 19), submitting no report run and polling
// none, and the table equals the simulator's truth. Before, the service's jobs read a long
// range by five report runs whatever the fleet.
func TestServiceFirstRunOfOneClientReadsSynchronousChunks(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	ctx := context.Background()
	s := e.syncWorker(t, 2)
	id, err := s.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 54, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, s, id, 2*time.Minute)
	if r.State != "done" || len(r.Clients) != 1 || r.Clients[0].State != "done" || r.Clients[0].Error != "" {
		t.Fatalf("run: %+v", r)
	}
	var plan pipeline.ClientPlan
	if err := e.Pool.QueryRow(ctx, `SELECT plan FROM service_run_clients WHERE run_id = $1`, id).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if plan.Read != pipeline.ReadSync || len(plan.SyncChunks) != len(records.Kinds) || !strings.Contains(plan.ReadWhy, "1 client,") {
		t.Fatalf("the job's plan: read %q, chunks %v, why %q; want synchronous chunks of every kind for a run of 1 client",
			plan.Read, plan.SyncChunks, plan.ReadWhy)
	}
	c := e.Sim.Counters()
	planned := 0
	for _, k := range records.Kinds {
		planned += len(plan.Range().Chunks(plan.SyncChunks[k]))
	}
	if c.Requests[graphsim.KindSubmit] != 0 || c.Requests[graphsim.KindPoll] != 0 || c.Requests[graphsim.KindSync] < int64(planned) ||
		planned <= len(records.Kinds) {
		t.Errorf("requests %v, %d chunks planned; want every chunk read synchronously, no report run submitted or polled", c.Requests, planned)
	}
	t.Logf("%d chunks planned (%v weeks a chunk); requests %v", planned, plan.SyncChunks, c.Requests)
	e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, 54)
}

// A run keeps the lookback it was queued with (service_runs.lookback): the worker plans the
// client with it, not with the default of the binary that works the job. Here the stored
// lookback is 7 days, so the run's sync state is final through the Sunday two weeks before
// the as-of Sunday (pipeline.DefaultLookback, 28 days, would make it five weeks before).
func TestWorkerPlansWithTheRunsLookback(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	ctx := context.Background()
	queue := e.open(t, "queue", 0)
	id, err := queue.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 8, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE service_runs SET lookback = 7 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	w := start(t, e.open(t, "worker", 1))
	if r := waitRun(t, w, id, 2*time.Minute); r.State != "done" {
		t.Fatalf("run: %+v", r)
	}
	var final time.Time
	if err := e.Pool.QueryRow(ctx, `SELECT final_through FROM client_sync_state`).Scan(&final); err != nil {
		t.Fatal(err)
	}
	if want := lastSunday.AddDate(0, 0, -14); !final.Equal(want) {
		t.Errorf("final through %s, want %s (as of %s, lookback 7 days)", final.Format(time.DateOnly), want.Format(time.DateOnly), lastSunday.Format(time.DateOnly))
	}
}
