package pipeline_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/pipeline"
)

// shiftedClock runs from at as real time goes on, for the simulator and the runner alike.
func shiftedClock(at time.Time) func() time.Time {
	offset := time.Until(at)
	return func() time.Time { return time.Now().Add(offset) }
}

// syncState reads a client's sync state as text: covered_from final_through last_as_of.
func syncState(t *testing.T, e *env, client string) string {
	t.Helper()
	var s string
	err := e.Pool.QueryRow(context.Background(), `SELECT covered_from::text || ' ' || coalesce(final_through::text, 'NULL') || ' ' || last_as_of::text
		FROM client_sync_state WHERE client_id = $1`, client).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An as-of date after today is a usage error that changes nothing and submits nothing: after
// today anywhere (the quick check), and after today in one client's ad account time zone (the
// exact one: at 05:00 UTC on a Monday, Monday has begun in Warsaw and Sydney but not in Los
// Angeles).
func TestFutureAsOfChangesNothing(t *testing.T) {
	monday := lastSunday.AddDate(0, 0, 1)
	clock := shiftedClock(monday.Add(5 * time.Hour))
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3, Now: clock}, nil)
	r := e.runner(t, 3)
	o := weeksOpts(lastSunday, 6)
	if _, err := r.Run(context.Background(), o, ""); err != nil {
		t.Fatal(err)
	}
	before := e2etest.TableText(t, e.Pool)
	e.Sim.ResetCounters()
	for _, tc := range []struct {
		asOf     time.Time
		reason   pipeline.AsOfReason
		accounts int
		says     []string
	}{
		{time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), pipeline.AsOfFuture, 0, []string{"--as-of 2027-06-01 is in the future"}},
		{monday, pipeline.AsOfAfterAccountToday, 1, []string{"--as-of " + monday.Format(time.DateOnly) + " is after today",
			lastSunday.Format(time.DateOnly) + " in America/Los_Angeles"}},
	} {
		o.AsOf = tc.asOf
		_, err := r.Run(context.Background(), o, "")
		if !errors.Is(err, pipeline.ErrUsage) {
			t.Fatalf("as of %s: err = %v, want ErrUsage", tc.asOf.Format(time.DateOnly), err)
		}
		var ae *pipeline.AsOfError
		if !errors.As(err, &ae) || !ae.AsOf.Equal(tc.asOf) || ae.Reason != tc.reason || len(ae.Accounts) != tc.accounts {
			t.Errorf("as of %s: %#v, want an *AsOfError of reason %d naming %d accounts", tc.asOf.Format(time.DateOnly), ae, tc.reason, tc.accounts)
		}
		for _, a := range ae.Accounts {
			if !a.Today.Equal(lastSunday) || a.Zone != "America/Los_Angeles" || a.Client == "" || a.AccountID == "" {
				t.Errorf("account's today: %+v, want %s in America/Los_Angeles", a, lastSunday.Format(time.DateOnly))
			}
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
	}
	if after := e2etest.TableText(t, e.Pool); after != before {
		t.Error("campaign_summaries or client_sync_state changed")
	}
	if n := e.Sim.Counters().Requests[graphsim.KindSubmit]; n != 0 {
		t.Errorf("%d report runs submitted for a future as-of date", n)
	}
	if dirs, _ := filepath.Glob(filepath.Join(e.Stage, "*")); len(dirs) != 1 {
		t.Errorf("run directories: %v, want the first run's only", dirs)
	}
}

// A backdated run (an Airflow backfill, a rerun of an old {{ ds }}) after a current one never
// rewrites a row built from the later as-of date, never moves last_as_of or final_through back,
// and still fills the weeks older than the first run's horizon.
func TestBackdatedRunKeepsFresherRows(t *testing.T) {
	e := newEnv(t, 2)
	r := e.runner(t, 2)
	if _, err := r.Run(context.Background(), opts(lastSunday), ""); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, id := range e.Clients {
		states[id] = syncState(t, e, id)
	}
	before := versions(t, e.Pool)

	// As of the Friday nine days back: its horizon starts one week before the first run's.
	backdated := lastSunday.AddDate(0, 0, -9)
	rep, err := r.Run(context.Background(), opts(backdated), "")
	if err != nil {
		t.Fatal(err)
	}
	after := versions(t, e.Pool)
	for id, v := range before {
		if after[id] != v {
			t.Errorf("row %s built as of %s was rewritten by the run as of %s", id, lastSunday.Format(time.DateOnly), backdated.Format(time.DateOnly))
		}
	}
	oldest := e2etest.Monday(backdated).AddDate(0, 0, -7*53)
	for i, id := range e.Clients {
		var n int
		_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM campaign_summaries WHERE client_id = $1 AND summary_date = $2 AND as_of = $3`,
			id, oldest, backdated).Scan(&n)
		if truth := e2etest.Truth(e.Sim, e.Sim.Accounts()[i].ID, oldest, oldest.AddDate(0, 0, 6)); n != len(truth) {
			t.Errorf("client %d: the week %s, older than the first horizon, has %d rows, want %d", i, oldest.Format(time.DateOnly), n, len(truth))
		}
		st := syncState(t, e, id)
		old := strings.Fields(states[id])
		if want := oldest.Format(time.DateOnly) + " " + old[1] + " " + old[2]; st != want {
			t.Errorf("client %d: sync state %q, want %q (covered_from back a week, final_through and last_as_of kept)", i, st, want)
		}
	}
	if k := rep.Ledger.Rows.Kept; k == 0 || rep.Ledger.Rows.Updated != 0 {
		t.Errorf("backdated run: %+v, want rows kept and none updated", rep.Ledger.Rows)
	}
	// The week that was partial in the backdated run is whole, as the first run saw it.
	checkTable(t, e, lastSunday)
}

// A final_through pushed into the future by hand is repaired by run --full: it comes back to
// at most as-of − lookback − 1 day, and the next run refetches the lookback weeks.
func TestFullRepairsAFutureFinalThrough(t *testing.T) {
	e := newEnv(t, 1)
	r := e.runner(t, 1)
	o := weeksOpts(lastSunday, 10)
	if _, err := r.Run(context.Background(), o, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(context.Background(), `UPDATE client_sync_state SET final_through = '2027-05-02'`); err != nil {
		t.Fatal(err)
	}
	p, err := r.Plan(context.Background(), o)
	if err != nil || p.Clients[0].Weeks != 1 {
		t.Fatalf("plan with a future final_through: %+v %v, want the current week only", p, err)
	}
	o.Full = true
	if _, err := r.Run(context.Background(), o, ""); err != nil {
		t.Fatal(err)
	}
	limit := lastSunday.AddDate(0, 0, -o.Lookback-1)
	fields := strings.Fields(syncState(t, e, e.Clients[0]))
	if final, _ := time.Parse(time.DateOnly, fields[1]); final.After(limit) {
		t.Fatalf("final_through after run --full: %s, want on or before %s", fields[1], limit.Format(time.DateOnly))
	}
	o.Full = false
	o.AsOf = lastSunday.AddDate(0, 0, -1) // a new run: the same as-of would find the --full run done
	p, err = r.Plan(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if since := p.Clients[0].Since.String(); since > lastSunday.AddDate(0, 0, -o.Lookback).Format(time.DateOnly) {
		t.Errorf("the next run fetches from %s: the lookback weeks are not refetched", since)
	}
}

// A --full as of an old date (an Airflow backfill with --full) or of fewer weeks than the
// lookback leaves the sync state as a current run set it: the next daily run is a daily run,
// not a backfill of the year.
func TestBackdatedOrNarrowFullKeepsTheSyncState(t *testing.T) {
	e := newEnv(t, 1)
	r := e.runner(t, 1)
	ctx := context.Background()
	o := weeksOpts(lastSunday, 12)
	if _, err := r.Run(ctx, o, ""); err != nil {
		t.Fatal(err)
	}
	want := syncState(t, e, e.Clients[0])
	for _, tc := range []struct {
		name string
		asOf time.Time
	}{
		{"backdated", lastSunday.AddDate(0, 0, -60)},
		{"narrow", lastSunday},
	} {
		full := opts(tc.asOf)
		full.Weeks, full.Full = 2, true
		rep, err := r.Run(ctx, full, "")
		if err != nil {
			t.Fatalf("%s --full: %v", tc.name, err)
		}
		if rep.Ledger.Status != pipeline.StatusDone || rep.Ledger.Rows.Inserted+rep.Ledger.Rows.Unchanged+rep.Ledger.Rows.Kept == 0 {
			t.Fatalf("%s --full: run %s, rows %+v, want done and rows seen", tc.name, rep.Ledger.Status, rep.Ledger.Rows)
		}
		if got := syncState(t, e, e.Clients[0]); got != want {
			t.Errorf("after the %s --full: sync state %q, want %q", tc.name, got, want)
		}
	}
	p, err := r.Plan(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Clients[0]; c.Weeks > 6 || strings.Contains(c.Reason, "backfill") {
		t.Errorf("the next daily run plans %d weeks (%s), want the lookback weeks only", c.Weeks, c.Reason)
	}
	e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, o.Weeks)
}

// After a run that ended partial (one client's token refused), the same run again resumes its
// run directory: the client already loaded is not fetched again, the mended one is extracted,
// transformed and loaded, and the run ends done.
func TestRetryResumesAPartialRun(t *testing.T) {
	e := newEnv(t, 3)
	ctx := context.Background()
	if _, err := e.Pool.Exec(ctx, `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, e.Clients[1]); err != nil {
		t.Fatal(err)
	}
	r := e.runner(t, 3)
	o := weeksOpts(lastSunday, 8)
	if _, err := r.Run(ctx, o, ""); !errors.Is(err, pipeline.ErrSomeFailed) {
		t.Fatalf("first run: %v, want ErrSomeFailed", err)
	}
	// Mended: the client uses the default token again.
	if _, err := e.Pool.Exec(ctx, `UPDATE clients SET meta_access_token = NULL WHERE id = $1`, e.Clients[1]); err != nil {
		t.Fatal(err)
	}
	e.Sim.ResetCounters()
	rep, err := r.Run(ctx, o, "")
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	c := e.Sim.Counters()
	for i, a := range e.Sim.Accounts() {
		want := int64(0)
		if i == 1 {
			want = 5
		}
		if got := c.ByAccount[a.ID].ReportRuns; got != want {
			t.Errorf("retry submitted %d report runs for %s, want %d", got, a.Name, want)
		}
	}
	if dirs, _ := filepath.Glob(filepath.Join(e.Stage, "*")); len(dirs) != 1 {
		t.Errorf("run directories %v, want one", dirs)
	}
	if rep.Ledger.Status != pipeline.StatusDone || rep.Ledger.Attempts != 2 {
		t.Errorf("ledger: %s after %d attempts, want done after 2", rep.Ledger.Status, rep.Ledger.Attempts)
	}
	for i, a := range e.Sim.Accounts() {
		e2etest.CheckClient(t, e.Pool, e.Sim, a, e.Clients[i], lastSunday, o.Weeks)
	}
}

// Each ad account runs on its own calendar and in its own currency: with no --as-of, at 05:00
// UTC on a Monday, Warsaw's and Sydney's clients are as of Monday and Los Angeles's as of
// Sunday, and each row carries its account's currency.
func TestAccountsTimeZonesAndCurrencies(t *testing.T) {
	monday := lastSunday.AddDate(0, 0, 1)
	clock := shiftedClock(monday.Add(5 * time.Hour))
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3, Now: clock}, nil)
	r := e.runner(t, 3)
	o := pipeline.Options{Weeks: 6, Lookback: 28}
	rep, err := r.Run(context.Background(), o, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range e.Sim.Accounts() {
		cp := rep.Plan.Clients[indexOf(rep.Plan.Clients, e.Clients[i])]
		want := monday
		if a.TimeZone == "America/Los_Angeles" {
			want = lastSunday
		}
		if cp.Until.String() != want.Format(time.DateOnly) || cp.TimeZone != a.TimeZone || cp.Currency != a.Currency {
			t.Errorf("%s (%s): as of %s in %s, %s; want %s, %s", a.Name, a.TimeZone, cp.Until, cp.TimeZone, cp.Currency,
				want.Format(time.DateOnly), a.Currency)
		}
		e2etest.CheckClient(t, e.Pool, e.Sim, a, e.Clients[i], want, o.Weeks)
	}
	// The accounts are cached: with Meta gone, the plan still knows their time zones.
	var cached int
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM ad_accounts`).Scan(&cached)
	if cached != 3 {
		t.Errorf("%d ad accounts cached, want 3", cached)
	}
}

func indexOf(cs []pipeline.ClientPlan, id string) int {
	for i, c := range cs {
		if c.ID == id {
			return i
		}
	}
	return -1
}

// reset-state makes weeks non-final on purpose: from a date, final_through goes back to the
// Sunday before its week and the rows from then on forget their as-of date; without a date the
// sync state goes and the next run backfills the horizon.
func TestResetState(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	r := e.runner(t, 1)
	o := weeksOpts(lastSunday, 12)
	if _, err := r.Run(ctx, o, ""); err != nil {
		t.Fatal(err)
	}
	from := lastSunday.AddDate(0, 0, -7*8+3) // a Wednesday: its week's Monday counts
	resets, err := r.ResetState(ctx, []string{"Demo " + e.Sim.Accounts()[0].Name}, from)
	if err != nil || len(resets) != 1 {
		t.Fatalf("%v %v", resets, err)
	}
	mon := e2etest.Monday(from)
	if got := resets[0].After.FinalThrough; got == nil || !got.Equal(mon.AddDate(0, 0, -1)) {
		t.Errorf("final_through after reset %v, want %s", got, mon.AddDate(0, 0, -1).Format(time.DateOnly))
	}
	var forgot, kept int
	_ = e.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE as_of IS NULL AND summary_date >= $1),
		count(*) FILTER (WHERE as_of IS NOT NULL AND summary_date < $1) FROM campaign_summaries`, mon).Scan(&forgot, &kept)
	if int64(forgot) != resets[0].RowsReset || forgot == 0 || kept == 0 {
		t.Errorf("rows from %s without as_of: %d (reported %d), rows before it with as_of: %d", mon.Format(time.DateOnly), forgot, resets[0].RowsReset, kept)
	}
	p, err := r.Plan(ctx, o)
	if err != nil || p.Clients[0].Since.String() != mon.Format(time.DateOnly) {
		t.Errorf("the next run fetches from %s, want %s (%v)", p.Clients[0].Since, mon.Format(time.DateOnly), err)
	}
	if resets, err = r.ResetState(ctx, []string{e.Clients[0]}, time.Time{}); err != nil || resets[0].After != nil {
		t.Fatalf("reset of every week: %+v %v", resets, err)
	}
	if _, err := r.ResetState(ctx, []string{"nobody"}, time.Time{}); !errors.Is(err, pipeline.ErrUsage) {
		t.Errorf("unknown client: %v", err)
	}
}

// A backfill of a date 30 months back with the default 54 weeks asks Meta only for the 37
// months it keeps (the simulator refuses older ranges with 3018, as Meta does): every client is
// loaded, from the first Monday Meta keeps.
func TestBackfillWithinMetaRetention(t *testing.T) {
	e := newEnv(t, 2)
	r := e.runner(t, 2)
	asOf := lastSunday.AddDate(0, -30, 0)
	rep, err := r.Run(context.Background(), opts(asOf), "")
	if err != nil {
		t.Fatalf("backfill as of %s: %v", asOf.Format(time.DateOnly), err)
	}
	first := rep.Plan.Clients[0].Since
	if !strings.Contains(rep.Plan.Clients[0].Reason, "Meta keeps 37 months") || rep.Plan.Clients[0].Weeks >= 54 {
		t.Errorf("plan from %s, %d weeks (%s), want the horizon cut at Meta's 37 months", first, rep.Plan.Clients[0].Weeks, rep.Plan.Clients[0].Reason)
	}
	var oldest time.Time
	var n int
	if err := e.Pool.QueryRow(context.Background(), `SELECT min(summary_date), count(*) FROM campaign_summaries`).Scan(&oldest, &n); err != nil {
		t.Fatal(err)
	}
	if n == 0 || oldest.Format(time.DateOnly) < first.String() {
		t.Errorf("%d rows from %s, want rows from %s on", n, oldest.Format(time.DateOnly), first)
	}
}

// refuseInsights answers every Insights request for one ad account (synchronous reads and
// report runs alike, not the account read) with Meta's error 100 while on is set: a client that
// fails after it was planned.
func refuseInsights(account *atomic.Pointer[string], on *atomic.Bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if on.Load() && account.Load() != nil && strings.Contains(r.URL.Path, "/act_"+*account.Load()+"/insights") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"fbtrace_id":"Atest"}}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// failedDailyRun is a world of two clients after a run of `weeks` weeks as of lastSunday and a
// daily run of the same as-of date that failed for the second client (Meta refusing its
// insights) after planning its few non-final weeks; Meta answers again afterwards. It returns
// the second client's ad account, the runner, the runs' options and the failed run's report.
func failedDailyRun(t *testing.T, weeks int) (*env, graphsim.Account, *pipeline.Runner, pipeline.Options, *pipeline.Report) {
	t.Helper()
	var refuse atomic.Bool
	var refused atomic.Pointer[string]
	e := newWrappedEnv(t, graphsim.Config{Accounts: 2}, refuseInsights(&refused, &refuse))
	acct := e.Sim.Accounts()[1]
	refused.Store(&acct.ID)
	ctx := context.Background()
	r := e.runner(t, 2)
	o := weeksOpts(lastSunday, weeks)
	if _, err := r.Run(ctx, o, ""); err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	rep, err := r.Run(ctx, o, "")
	if !errors.Is(err, pipeline.ErrSomeFailed) {
		t.Fatalf("second run: %v, want ErrSomeFailed", err)
	}
	refuse.Store(false)
	return e, acct, r, o, rep
}

// reset-state after a failed run of the same day is not undone by the next run: that run does
// not resume the failed one (planned from the sync state before the reset, a few weeks) but
// plans again and backfills the horizon, and no row is left without its as-of date. Before the
// fix the next run resumed the failed run's plan (5 weeks) and marked the weeks final again.
func TestResetStateIsNotUndoneByAResumedRun(t *testing.T) {
	e, acct, r, o, rep := failedDailyRun(t, 12)
	ctx := context.Background()
	failedDir := rep.Dir
	if w := rep.Plan.Clients[indexOf(rep.Plan.Clients, e.Clients[1])].Weeks; w >= o.Weeks {
		t.Fatalf("second run planned %d weeks for %s, want the few non-final ones", w, acct.Name)
	}
	// A data fix: every week of the client non-final again.
	if _, err := r.ResetState(ctx, []string{e.Clients[1]}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(ctx, o, "")
	if err != nil {
		t.Fatalf("run after reset-state: %v", err)
	}
	if rep.Dir == failedDir {
		t.Errorf("the run after reset-state resumed %s, planned before the reset", failedDir)
	}
	cp := rep.Plan.Clients[indexOf(rep.Plan.Clients, e.Clients[1])]
	if cp.Weeks != o.Weeks || cp.Since != rep.Plan.HorizonStart {
		t.Errorf("run after reset-state fetched %d weeks from %s for %s, want the %d-week backfill from %s (%s)",
			cp.Weeks, cp.Since, acct.Name, o.Weeks, rep.Plan.HorizonStart, cp.Reason)
	}
	var noAsOf int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM campaign_summaries WHERE client_id = $1 AND as_of IS NULL`, e.Clients[1]).Scan(&noAsOf); err != nil {
		t.Fatal(err)
	}
	if noAsOf != 0 {
		t.Errorf("%d rows of %s still without an as-of date: their weeks were not fetched again", noAsOf, acct.Name)
	}
	if got, want := syncState(t, e, e.Clients[1]), rep.Plan.HorizonStart.String(); !strings.HasPrefix(got, want) {
		t.Errorf("sync state %q, want covered from %s", got, want)
	}
	e2etest.CheckClient(t, e.Pool, e.Sim, acct, e.Clients[1], lastSunday, o.Weeks)

	// The failed run, named with --run, is refused: it would undo the reset as well.
	if _, err := r.ResetState(ctx, []string{e.Clients[1]}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, o, failedDir); !errors.Is(err, pipeline.ErrUsage) || !strings.Contains(err.Error(), acct.Name) {
		t.Errorf("--run %s after reset-state: %v, want ErrUsage naming %s", failedDir, err, acct.Name)
	}
}

// An explicit re-fetch (--full) after a failed run of the same day is not undone either: the
// next plain run does not resume the failed run, planned before the re-fetch, so the client's
// sync state stays the one a fresh plan makes. Before the fix it resumed the failed run and
// loaded that run's old extract over the re-fetched rows.
func TestRefetchIsNotUndoneByAResumedRun(t *testing.T) {
	e, _, r, o, rep := failedDailyRun(t, 8)
	ctx := context.Background()
	failedDir := rep.Dir
	full := o
	full.Full, full.Clients = true, []string{e.Clients[1]}
	if _, err := r.Run(ctx, full, ""); err != nil {
		t.Fatalf("--full re-fetch: %v", err)
	}
	rep, err := r.Run(ctx, o, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dir == failedDir {
		t.Errorf("the run after the re-fetch resumed %s, planned before it", failedDir)
	}
	var lastRun string
	if err := e.Pool.QueryRow(ctx, `SELECT last_run_id FROM client_sync_state WHERE client_id = $1`, e.Clients[1]).Scan(&lastRun); err != nil {
		t.Fatal(err)
	}
	if lastRun != rep.Plan.RunID {
		t.Errorf("sync state last set by run %s, want %s (the new run)", lastRun, rep.Plan.RunID)
	}
}
