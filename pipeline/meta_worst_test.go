package pipeline_test

// Meta at its worst — large accounts, busy hours — as the simulator plays it (issue 17): each
// case runs Runner.Run with one account under a fault and ends with the table equal to the
// simulator's truth for every client. docs/META_API.md names the source of each fault.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

func TestFaultLargeAndBusyAccounts(t *testing.T) {
	cases := []struct {
		name   string
		faults graphsim.Faults
		config func(*pipeline.Config)
		check  func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters)
	}{
		{"a page refused as too much data: halved from the same cursor", graphsim.Faults{BigPageLimit: 60}, nil,
			func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
				// 500 → 250 → 125 → 62 → 31: four refusals for each of the five reports.
				if st.SmallerPages != 5*4 || c.ReportRuns != 5 {
					t.Errorf("%d smaller pages, %d report runs; want 20 and 5 (no split)", st.SmallerPages, c.ReportRuns)
				}
			}},
		{"1/99 on a page: halved", graphsim.Faults{BigPageLimit: 100, BigPageError: "unknown"}, nil,
			func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
				if st.SmallerPages != 5*3 || c.ReportRuns != 5 {
					t.Errorf("%d smaller pages, %d report runs; want 15 and 5", st.SmallerPages, c.ReportRuns)
				}
			}},
		{"100/1487534 on a page: halved", graphsim.Faults{BigPageLimit: 300, BigPageError: "1487534"}, nil,
			func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
				if st.SmallerPages != 5 || c.ReportRuns != 5 {
					t.Errorf("%d smaller pages, %d report runs; want 5 and 5", st.SmallerPages, c.ReportRuns)
				}
			}},
		{"pages refused at every size over 4 weeks: split down to 4 weeks", graphsim.Faults{BigPageLimit: 1, BigPageOverWeeks: 4}, nil,
			func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
				// 13 weeks → 6 + 7 → 3 + 3 + 3 + 4: 1 + 2 + 4 report runs per kind.
				if c.ReportRuns != 5*7 {
					t.Errorf("%d report runs, want 35 (split twice)", c.ReportRuns)
				}
			}},
		{"an empty page that has a next link, endlessly", graphsim.Faults{EndlessPaging: 1}, nil,
			func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
				if st.PagingEnded != 5 || st.Pages != c.Pages || st.Pages > 5*3 {
					t.Errorf("paging ended %d times, %d pages read; want 5 and at most 15", st.PagingEnded, st.Pages)
				}
			}},
		{"a next link that repeats its cursor", graphsim.Faults{EndlessPaging: 2}, nil,
			func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
				if st.PagingEnded != 5 || st.Pages > 5*3 {
					t.Errorf("paging ended %d times, %d pages read; want 5 and at most 15", st.PagingEnded, st.Pages)
				}
			}},
		{"synchronous reads answer 1/99: report runs", graphsim.Faults{SyncErrors: 1}, withSync,
			func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
				if st.Fallbacks != 5 || c.ReportRuns != 5 {
					t.Errorf("%d fallbacks, %d report runs; want 5 and 5", st.Fallbacks, c.ReportRuns)
				}
			}},
		{"synchronous reads answer 2/1504044: report runs", graphsim.Faults{SyncErrors: 2}, withSync,
			func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
				if st.Fallbacks != 5 || c.ReportRuns != 5 {
					t.Errorf("%d fallbacks, %d report runs; want 5 and 5", st.Fallbacks, c.ReportRuns)
				}
			}},
		{"not ready 15 times after Job Completed", graphsim.Faults{NotReadyReads: 15}, func(c *pipeline.Config) {
			c.Poll.NotReadyWait = 5 * time.Millisecond
		}, func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
			if st.NotReady != 5*15 || c.ReportRuns != 5 {
				t.Errorf("%d not-ready answers waited out, %d report runs; want 75 and 5", st.NotReady, c.ReportRuns)
			}
		}},
		{"queued three stall timeouts long: waited, not resubmitted", graphsim.Faults{QueuedFor: 900 * time.Millisecond}, func(c *pipeline.Config) {
			c.Poll.StallTimeout = 300 * time.Millisecond
		}, func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
			if c.ReportRuns != 5 {
				t.Errorf("%d report runs, want 5", c.ReportRuns)
			}
		}},
		{"report runs failed throttled (4/1504022): held, resubmitted, never split", graphsim.Faults{FailJobs: 3, FailCode: 4, FailSubcode: 1504022,
			FailMessage: "(#4) Too Many API Requests"}, nil,
			func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
				if c.ReportRuns != 5+3 || st.Throttled < 3 {
					t.Errorf("%d report runs, %d holds; want 8 (3 resubmitted, none split) and at least 3", c.ReportRuns, st.Throttled)
				}
			}},
		{"throttled without a regain time for 1.5 s (60 cooldowns)", graphsim.Faults{ThrottleFor: 1500 * time.Millisecond}, func(c *pipeline.Config) {
			c.Throttle.Cooldown = 25 * time.Millisecond
		}, func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
			if c.Throttled == 0 {
				t.Error("nothing was throttled")
			}
		}},
		{"reduce on the ad account's read: retried", graphsim.Faults{AccountTooLarge: 1}, nil, nil},
		{"deleted and archived campaigns: asked for below the account level", graphsim.Faults{GoneCampaigns: 3}, nil, nil},
		{"x-app-usage, x-ad-account-usage and ads_management at 100 %: not paced by", graphsim.Faults{OtherUsageAt: 100}, func(c *pipeline.Config) {
			c.Throttle.Cooldown = time.Second
		}, func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
			if st.ThrottleWait != 0 {
				t.Errorf("waited %s for figures that do not gate Insights", st.ThrottleWait)
			}
		}},
		{"acc_id_util_pct stuck at 100 % while Meta answers: one cooldown, then paced", graphsim.Faults{InsightsUsageAt: 100}, func(c *pipeline.Config) {
			c.Throttle.Cooldown, c.Throttle.Pace = 300*time.Millisecond, 5*time.Millisecond
		}, func(t *testing.T, st extract.StatsSnapshot, c graphsim.AccountCounters) {
			// A cooldown before every call would be one per request (dozens); the kinds share
			// the first one, each waiting it at most 1.2 ×.
			if st.ThrottleWait > 10*300*time.Millisecond || st.ThrottleWait < 300*time.Millisecond {
				t.Errorf("waited %s over %d requests, want one cooldown (300ms) for each kind and then 5ms a call", st.ThrottleWait, st.Requests)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, nil)
			accts := e.Sim.Accounts()
			e.Sim.SetFaults(accts[1].ID, tc.faults)
			cfg := e.config(3)
			if tc.config != nil {
				tc.config(&cfg)
			}
			rep, err := e.runWith(t, cfg, faultOpts())
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range accts {
				if xs, ls := clientStatus(rep, e.Clients[i]); xs != pipeline.StatusDone || ls != pipeline.StatusDone {
					t.Errorf("%s: extract %s, load %s", a.Name, xs, ls)
				}
			}
			e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, faultWeeks)
			if tc.check != nil {
				tc.check(t, rep.Ledger.Clients[e.Clients[1]].Extract.Stats, e.Sim.Counters().ByAccount[accts[1].ID])
			}
		})
	}
}

// withSync reads the quarter with synchronous requests.
func withSync(c *pipeline.Config) { c.Sync = extract.SyncConfig{Weeks: faultWeeks} }

// Throttling that outlasts RetryConfig.Throttled fails the client, saying for how long, and
// leaves the others done and right. Throttled at the ad account read of its first run, the client
// fails before anything is submitted; throttled during the extraction of a later run (its ad
// account cached), the ledger also says since when (status prints "throttled by Meta since …"),
// and the rows of the first run stay as they were.
func TestFaultThrottledPastTheBudget(t *testing.T) {
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, nil)
	accts := e.Sim.Accounts()
	cfg := e.config(3)
	cfg.Retry.Throttled = 400 * time.Millisecond
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ThrottleFor: time.Hour})
	rep, err := e.runWith(t, cfg, faultOpts())
	if err == nil {
		t.Fatal("the run succeeded")
	}
	msg := rep.Ledger.Clients[e.Clients[1]].Extract.Error
	if !strings.Contains(msg, accts[1].Name) || !strings.Contains(msg, "still throttled after") || !strings.Contains(msg, "80000") {
		t.Errorf("ledger error %q does not name the client, the wait and Meta's code", msg)
	}
	if n := e2etest.Rows(t, e.Pool, e.Clients[1]); n != 0 {
		t.Errorf("%d rows of the throttled client loaded", n)
	}
	for _, i := range []int{0, 2} {
		e2etest.CheckClient(t, e.Pool, e.Sim, accts[i], e.Clients[i], lastSunday, faultWeeks)
	}

	// A later run: the ad account is cached, the extraction is throttled.
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{})
	if _, err := e.runWith(t, cfg, faultOpts()); err != nil {
		t.Fatal(err)
	}
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ThrottleFor: time.Hour})
	o := faultOpts()
	o.Full = true
	rep, err = e.runWith(t, cfg, o)
	if !errors.Is(err, pipeline.ErrSomeFailed) {
		t.Fatalf("err = %v, want ErrSomeFailed", err)
	}
	if ts := rep.Ledger.Clients[e.Clients[1]].Extract.ThrottledSince; ts.IsZero() || ts.After(time.Now()) {
		t.Errorf("the ledger says throttled since %v: want when Meta began throttling", ts)
	}
	if ts := rep.Ledger.Clients[e.Clients[0]].Extract.ThrottledSince; !ts.IsZero() {
		t.Errorf("a client that was not throttled says throttled since %v", ts)
	}
	e2etest.CheckClient(t, e.Pool, e.Sim, accts[1], e.Clients[1], lastSunday, faultWeeks) // the first run's rows, still right
}

// Meta upgrades an expired version of some endpoints and not of others (its 2024-04-16
// blog post): when the ad account reads pass and the Insights requests answer 2635, the run
// stops at the first with one usage error naming META_API_VERSION, not one failed client
// after another, and nothing is loaded.
func TestFaultDeprecatedVersionOnInsightsOnly(t *testing.T) {
	deprecated := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/insights") {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version: v27.0.","type":"OAuthException","code":2635,"fbtrace_id":"AbC"}}`))
		})
	}
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, deprecated)
	cfg := e.config(1)
	cfg.APIVersion = "v23.0"
	rep, err := e.runWith(t, cfg, faultOpts())
	if !errors.Is(err, pipeline.ErrUsage) || !errors.Is(err, extract.ErrAPIVersion) ||
		!strings.Contains(err.Error(), "META_API_VERSION v23.0") || !strings.Contains(err.Error(), "v27.0") {
		t.Fatalf("err = %v, want one usage error naming META_API_VERSION v23.0 and v27.0", err)
	}
	if errors.Is(err, pipeline.ErrSomeFailed) {
		t.Error("reported as failed clients")
	}
	failed := 0
	for _, id := range e.Clients {
		if rep.Ledger.Clients[id].Extract.Status == pipeline.StatusFailed {
			failed++
		}
		if n := e2etest.Rows(t, e.Pool, id); n != 0 {
			t.Errorf("client %s: %d rows loaded", id, n)
		}
	}
	if failed > 1 {
		t.Errorf("%d clients failed one after another; the first should have stopped the run", failed)
	}
	if st := rep.Ledger.Stages[pipeline.StageExtract]; st == nil || !strings.Contains(st.Error, "META_API_VERSION") {
		t.Errorf("the extract stage's error does not say why: %+v", st)
	}
}

// The current week's KPI window ends at the as-of date, whatever date_stop Meta gives the last
// bucket: with an as-of on a Thursday and a last bucket that says Tuesday or Sunday, the KPI of
// Monday to Thursday (the table equals the truth); and buckets anchored elsewhere than where metapipe asked
// fail their client with an error naming the report and the bucket, nothing of it loaded.
func TestFaultBuckets(t *testing.T) {
	thursday := lastSunday.AddDate(0, 0, -3)
	o := faultOpts()
	o.AsOf = thursday
	for _, shift := range []int{-2, 3} {
		t.Run(fmt.Sprintf("a last bucket whose date_stop is %+d days from the as-of date", shift), func(t *testing.T) {
			t.Parallel()
			e := newWrappedEnv(t, graphsim.Config{Accounts: 2}, nil)
			for _, a := range e.Sim.Accounts() {
				e.Sim.SetFaults(a.ID, graphsim.Faults{LastBucketStop: shift})
			}
			if _, err := e.runWith(t, e.config(2), o); err != nil {
				t.Fatal(err)
			}
			e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, thursday, faultWeeks)
			var kpiDays int
			if err := e.Pool.QueryRow(context.Background(), `SELECT kpi_days FROM campaign_summaries WHERE client_id = $1 AND summary_date = $2`,
				e.Clients[0], e2etest.Monday(thursday)).Scan(&kpiDays); err != nil || kpiDays > 4 {
				t.Errorf("the as-of week has %d KPI days (%v), want at most 4 (Monday to Thursday)", kpiDays, err)
			}
		})
	}
	t.Run("buckets anchored three days after since", func(t *testing.T) {
		t.Parallel()
		e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, nil)
		accts := e.Sim.Accounts()
		e.Sim.SetFaults(accts[1].ID, graphsim.Faults{BucketShift: 3})
		rep, err := e.runWith(t, e.config(3), o)
		if !errors.Is(err, pipeline.ErrSomeFailed) {
			t.Fatalf("err = %v, want ErrSomeFailed", err)
		}
		msg := rep.Ledger.Clients[e.Clients[1]].Extract.Error
		if !strings.Contains(msg, accts[1].Name) || !strings.Contains(msg, "report ") || !strings.Contains(msg, "field date_start") ||
			!strings.Contains(msg, "not the start of a weekly bucket") {
			t.Errorf("ledger error %q does not name the client, the report and the bucket", msg)
		}
		if n := e2etest.Rows(t, e.Pool, e.Clients[1]); n != 0 {
			t.Errorf("%d rows of the misbucketed client loaded", n)
		}
		for _, i := range []int{0, 2} {
			e2etest.CheckClient(t, e.Pool, e.Sim, accts[i], e.Clients[i], thursday, faultWeeks)
		}
	})
}

// Weeks whose campaign sums disagree with the account's totals are read again once, in the same
// run (one report run of the campaigns for each such week, nothing else); as they still
// disagree, they are loaded but never made final: the ledger names them (status and the run's
// summary print them), final_through stops before the first, and the next run fetches them
// again; the other clients' weeks become final as usual.
func TestFaultDisagreeingWeeksStayOpen(t *testing.T) {
	e := newWrappedEnv(t, graphsim.Config{Accounts: 2}, nil)
	accts := e.Sim.Accounts()
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ShortCampaigns: true})
	cfg := e.config(2)
	cfg.ReadPlanning.Budget = -1 // report runs, five a client
	rep, err := e.runWith(t, cfg, faultOpts())
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Ledger.Clients[e.Clients[1]].Transform
	nf := tr.NotFinal
	if len(nf) == 0 || len(rep.Ledger.Clients[e.Clients[0]].Transform.NotFinal) != 0 {
		t.Fatalf("not final: %v and %v; want weeks for the short client only", nf, rep.Ledger.Clients[e.Clients[0]].Transform.NotFinal)
	}
	checkReadAgainOnce(t, e, rep, 1, nf, false)
	e2etest.CheckClient(t, e.Pool, e.Sim, accts[0], e.Clients[0], lastSunday, faultWeeks)
	checkAccountFigures(t, e, 1)
	final := func(id string) *time.Time {
		var f *time.Time
		if err := e.Pool.QueryRow(context.Background(), `SELECT final_through FROM client_sync_state WHERE client_id = $1`, id).Scan(&f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	first, _ := time.Parse(time.DateOnly, nf[0])
	if f := final(e.Clients[1]); f != nil && !f.Before(first) {
		t.Errorf("final through %s, at or after the first disagreeing week %s", f.Format(time.DateOnly), nf[0])
	}
	if f := final(e.Clients[0]); f == nil || f.Before(lastSunday.AddDate(0, 0, -35)) {
		t.Errorf("the agreeing client is final through %v, want the last Sunday more than 28 days back", f)
	}
	plan, err := e.runner(t, 2).PlanClients(context.Background(), []records.Client{{ID: e.Clients[1], Name: accts[1].Name, AdAccountID: "act_" + accts[1].ID}}, faultOpts())
	if err != nil {
		t.Fatal(err)
	}
	if since := plan.Clients[0].Since.Time(); since.After(first) {
		t.Errorf("the next run fetches from %s, after the first disagreeing week %s", plan.Clients[0].Since, nf[0])
	}
}

// Weeks whose campaign sums disagree only in the first report that covers them are read again
// once, in the same run, agree then, and are loaded from the second read and made final: the
// table equals the truth and final_through is as for a client that never disagreed.
func TestFaultDisagreeingWeeksReadAgain(t *testing.T) {
	e := newWrappedEnv(t, graphsim.Config{Accounts: 2}, nil)
	accts := e.Sim.Accounts()
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ShortCampaignsFirstRead: true})
	cfg := e.config(2)
	cfg.ReadPlanning.Budget = -1
	rep, err := e.runWith(t, cfg, faultOpts())
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Ledger.Clients[e.Clients[1]].Transform
	if len(tr.NotFinal) != 0 {
		t.Errorf("not final after the second read: %v", tr.NotFinal)
	}
	var weeks []string
	for _, r := range tr.Refetched {
		weeks = append(weeks, r.Week)
	}
	if len(weeks) < 2 {
		t.Fatalf("read again: %+v; want the weeks the first campaign delivered in", tr.Refetched)
	}
	checkReadAgainOnce(t, e, rep, 1, weeks, true)
	e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, faultWeeks)
	var f0, f1 *time.Time
	if err := e.Pool.QueryRow(context.Background(), `SELECT (SELECT final_through FROM client_sync_state WHERE client_id = $1),
		(SELECT final_through FROM client_sync_state WHERE client_id = $2)`, e.Clients[0], e.Clients[1]).Scan(&f0, &f1); err != nil {
		t.Fatal(err)
	}
	if f0 == nil || f1 == nil || !f1.Equal(*f0) {
		t.Errorf("final through %v, the client that always agreed %v; want the same", f1, f0)
	}
}

// checkReadAgainOnce checks that client i's campaigns were read again exactly once for each of
// weeks and for nothing else (the ledger's Transform.Refetched, and the simulator's count of
// report runs: five for the first read, one for each week read again), each agreeing or not.
func checkReadAgainOnce(t *testing.T, e *env, rep *pipeline.Report, i int, weeks []string, agrees bool) {
	t.Helper()
	rs := rep.Ledger.Clients[e.Clients[i]].Transform.Refetched
	if len(rs) != len(weeks) {
		t.Errorf("read again %+v; want each of %v once", rs, weeks)
	}
	for j, r := range rs {
		if j < len(weeks) && r.Week != weeks[j] || r.Kind != records.KindCampaigns || r.Agrees != agrees || r.Error != "" || r.Rows == 0 {
			t.Errorf("read again %+v; want the campaigns of %v, agreeing %v, rows and no error", r, weeks, agrees)
		}
	}
	for k, a := range e.Sim.Accounts() {
		want := int64(5)
		if k == i {
			want += int64(len(weeks))
		}
		if got := e.Sim.Counters().ByAccount[a.ID].ReportRuns; got != want {
			t.Errorf("%s: %d report runs, want %d", a.Name, got, want)
		}
	}
}

// checkAccountFigures compares client i's weekly spend, impressions and clicks with what Meta
// gave throughout: the truth of every campaign but the first (the campaigns' sums, which the
// transform builds a week's totals from).
func checkAccountFigures(t *testing.T, e *env, i int) {
	t.Helper()
	a := e.Sim.Accounts()[i]
	horizon := e2etest.Monday(lastSunday).AddDate(0, 0, -7*(faultWeeks-1))
	type fig struct{ spend, imp, clicks int64 }
	want := map[string]fig{}
	for mon := horizon; !mon.After(lastSunday); mon = mon.AddDate(0, 0, 7) {
		var w fig
		for _, c := range e.Sim.Campaigns(a.ID)[1:] {
			for _, ad := range c.Ads {
				for d := mon; d.Before(mon.AddDate(0, 0, 7)) && !d.After(lastSunday); d = d.AddDate(0, 0, 1) {
					f := e.Sim.AdDay(a.ID, ad.ID, d)
					w.spend, w.imp, w.clicks = w.spend+f.SpendCents, w.imp+f.Impressions, w.clicks+f.Clicks
				}
			}
		}
		if w.imp > 0 {
			want[mon.Format(time.DateOnly)] = w
		}
	}
	rows, err := e.Pool.Query(context.Background(), `SELECT summary_date::text, total_spend::text, total_impressions, total_clicks
		FROM campaign_summaries WHERE client_id = $1 AND summary_date >= $2`, e.Clients[i], horizon)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var wk, spend string
		var imp, clicks int64
		if err := rows.Scan(&wk, &spend, &imp, &clicks); err != nil {
			t.Fatal(err)
		}
		n++
		if w := want[wk]; spend != e2etest.Cents(w.spend) || imp != w.imp || clicks != w.clicks {
			t.Errorf("%s week %s: spend %s imp %d clicks %d, want %s %d %d", a.Name, wk, spend, imp, clicks, e2etest.Cents(w.spend), w.imp, w.clicks)
		}
	}
	if n != len(want) {
		t.Errorf("%s: %d weeks, want %d", a.Name, n, len(want))
	}
}
