package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/service"
)

// pageWeeks is the strip of a client's page and its charts, read from the DOM.
type pageWeeks struct {
	Health, LastAsOf, LastError string
	Weeks                       []string // "YYYY-MM-DD state", oldest first
	Dots                        []int    // circles per chart: spend, impressions, reach
}

const readClientPage = `(() => ({
  Health: (document.querySelector('#health') || {}).innerText || '',
  LastAsOf: (document.querySelector('#last-as-of') || {}).innerText || '',
  LastError: (document.querySelector('#last-error') || {}).innerText || '',
  Weeks: [...document.querySelectorAll('#weeks span')].map(s => s.dataset.week + ' ' + s.dataset.state),
  Dots: [...document.querySelectorAll('svg.chart')].map(s => s.querySelectorAll('circle').length),
}))()`

// The clients' pages in a real headless Chromium: a healthy client, one whose token Meta
// refuses (failing, which token, Meta's code 190), and one whose first weeks were never loaded
// (missing in the strip). The clients page lists the unhealthy first; each client's page shows
// what GET /v1/clients/{id} says and what the table holds. Screenshots go to docs/images/
// with -update.
func TestClientPagesInABrowser(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 3, JobDuration: 300 * time.Millisecond})
	ctx := context.Background()
	healthy, failing, missing := e.Clients[0], e.Clients[1], e.Clients[2]
	if _, err := e.Pool.Exec(ctx, `UPDATE clients SET name = regexp_replace(name, '\s*[^ -\u024F]+$', '')`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, failing); err != nil {
		t.Fatal(err)
	}
	base := e.serve(t, e.open(t, "worker-1", 3))
	for range 2 { // two failed runs in a row for the refused client
		a := post(t, base, fmt.Sprintf(`{"as_of": %q, "weeks": 13, "full": true}`, lastSunday.Format(time.DateOnly)))
		if a.status != http.StatusAccepted {
			t.Fatalf("POST: %d %s", a.status, a.body)
		}
		if r := waitRun(t, base, a.json(t)["run_id"].(string), 2*time.Minute); r.State != "partial" {
			t.Fatalf("run %s, want partial", r.State)
		}
	}
	// The third client's first four weeks were never loaded (as a client added with a short
	// backfill): not covered by its sync state, no rows.
	if _, err := e.Pool.Exec(ctx, `UPDATE client_sync_state SET covered_from = covered_from + 28 WHERE client_id = $1`, missing); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `DELETE FROM campaign_summaries c USING client_sync_state s
		WHERE s.client_id = c.client_id AND c.client_id = $1 AND c.summary_date < s.covered_from`, missing); err != nil {
		t.Fatal(err)
	}

	// The API: the unhealthy first, the states and the failure's details.
	a := get(t, base, "/v1/clients")
	var list struct {
		Clients []struct {
			ID     string               `json:"id"`
			Name   string               `json:"name"`
			Health service.ClientHealth `json:"health"`
		} `json:"clients"`
	}
	if err := json.Unmarshal(a.body, &list); err != nil || a.status != http.StatusOK || len(list.Clients) != 3 {
		t.Fatalf("GET /v1/clients: %d %v %s", a.status, err, a.body)
	}
	h := list.Clients[0].Health
	if list.Clients[0].ID != failing || h.State != service.HealthTokenRefused || h.Token != "own" || h.LastErrorCode != 190 ||
		h.FailedRuns != 2 || h.FailingSince == nil || h.LastSuccess != nil {
		t.Errorf("first of GET /v1/clients: %+v, want the refused client (own token, code 190, 2 failed runs, never loaded)", list.Clients[0])
	}
	for _, c := range list.Clients[1:] {
		if c.Health.State != service.HealthHealthy || c.Health.LastAsOf != lastSunday.Format(time.DateOnly) || c.Health.LastSuccess == nil {
			t.Errorf("%s: %+v, want healthy as of %s", c.Name, c.Health, lastSunday.Format(time.DateOnly))
		}
	}
	if a := get(t, base, "/v1/clients/00000000-0000-0000-0000-000000000000"); a.status != http.StatusNotFound {
		t.Errorf("an unknown client: %d", a.status)
	}

	browser := newBrowser(t)
	dir := screenshots(t)
	do(t, browser, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), apiToken), chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.ID("runs")))
	do(t, browser, chromedp.Navigate(base+"/clients"), chromedp.WaitVisible(chromedp.ID("clients")))
	order, _ := eval[[]string](t, browser, `[...document.querySelectorAll('#clients tr[data-client]')].map(tr => tr.dataset.state)`)
	if strings.Join(order, ",") != "token_refused,healthy,healthy" {
		t.Errorf("clients page order %v, want the refused client first", order)
	}
	text, _ := eval[string](t, browser, `document.querySelector('#clients').innerText`)
	if !strings.Contains(text, "token refused: the client's own token") || !strings.Contains(text, "Meta code 190") {
		t.Errorf("clients page:\n%s", text)
	}
	shot(t, browser, dir, "clients.png")

	for _, tc := range []struct {
		id, shot string
	}{{healthy, "client-healthy.png"}, {failing, "client-failing.png"}, {missing, "client-missing-weeks.png"}} {
		a := get(t, base, "/v1/clients/"+tc.id)
		var c service.ClientHealth
		if err := json.Unmarshal(a.body, &c); err != nil || a.status != http.StatusOK {
			t.Fatalf("GET /v1/clients/%s: %d %v", tc.id, a.status, err)
		}
		do(t, browser, chromedp.Navigate(base+"/clients/"+tc.id), chromedp.WaitVisible(chromedp.ID("weeks")))
		p, err := eval[pageWeeks](t, browser, readClientPage)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Weeks) != 13 || len(c.Weeks) != 13 || len(c.Runs) != 2 {
			t.Fatalf("%s: %d weeks on the page, %d in the API, %d runs; want 13 weeks (the runs' horizon) and 2 runs", c.Name, len(p.Weeks), len(c.Weeks), len(c.Runs))
		}
		states := map[string]int{}
		for i, w := range c.Weeks {
			if p.Weeks[i] != w.Monday+" "+w.State {
				t.Errorf("%s: week %d on the page %q, in the API %s %s", c.Name, i, p.Weeks[i], w.Monday, w.State)
			}
			states[w.State]++
		}
		var rows int
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM campaign_summaries WHERE client_id = $1 AND summary_date >= $2`, tc.id, c.Weeks[0].Monday).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		loaded := states[service.WeekFinal] + states[service.WeekNotFinal]
		if loaded != rows || fmt.Sprint(p.Dots) != fmt.Sprint([]int{rows, rows, rows}) {
			t.Errorf("%s: %d weeks loaded in the strip, %v dots in the charts; the table has %d rows", c.Name, loaded, p.Dots, rows)
		}
		switch tc.id {
		case healthy:
			if p.Health != "healthy" || states[service.WeekMissing] != 0 || states[service.WeekFinal] == 0 || p.LastAsOf != lastSunday.Format(time.DateOnly) {
				t.Errorf("healthy client: %+v %v", p, states)
			}
		case failing:
			if !strings.HasPrefix(p.Health, "token refused: the client's own token") || !strings.Contains(p.LastError, "190") ||
				states[service.WeekMissing] != 13 || rows != 0 {
				t.Errorf("refused client: %+v %v", p, states)
			}
		case missing:
			if p.Health != "healthy" || states[service.WeekMissing] != 4 || !strings.HasSuffix(p.Weeks[3], " missing") || strings.HasSuffix(p.Weeks[4], " missing") {
				t.Errorf("client with missing weeks: %+v %v, want the first 4 weeks missing", p, states)
			}
		}
		shot(t, browser, dir, tc.shot)
	}
}

// The clients' actions from the page, in a headless Chromium, and from the API, with the table
// checked after each: a re-fetch of a week whose stored figures are as of a later date
// replaces them (before, the load kept them: "kept: 1"), the page saying first what it
// replaces; a backfill of a client never run loads its weeks; run now queues the client alone.
// Without confirmation nothing is queued; a cross-site request is refused.
func TestClientActions(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 3, JobDuration: 300 * time.Millisecond})
	ctx := context.Background()
	base := e.serve(t, e.open(t, "worker-1", 3))
	runs := func() int {
		var n int
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM service_runs`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	a := post(t, base, fmt.Sprintf(`{"clients": [%q, %q], "as_of": %q, "weeks": 8}`, e.Clients[0], e.Clients[1], lastSunday.Format(time.DateOnly)))
	if r := waitRun(t, base, a.json(t)["run_id"].(string), 2*time.Minute); r.State != "done" {
		t.Fatalf("first run %s", r.State)
	}

	// A week of client 0 stored with wrong figures as of a later date than the re-fetch's.
	target := e.Clients[0]
	week := lastSunday.AddDate(0, 0, -13) // the Monday two weeks before the last
	weekEnd := week.AddDate(0, 0, 6)
	var spend float64
	if err := e.Pool.QueryRow(ctx, `SELECT total_spend::float8 FROM campaign_summaries WHERE client_id = $1 AND summary_date = $2`, target, week).Scan(&spend); err != nil {
		t.Fatal(err)
	}
	later := lastSunday.AddDate(0, 0, 3)
	if _, err := e.Pool.Exec(ctx, `UPDATE campaign_summaries SET total_spend = 1.23, content_hash = 'stale', as_of = $3 WHERE client_id = $1 AND summary_date = $2`,
		target, week, later); err != nil {
		t.Fatal(err)
	}
	stored := func(id string, d time.Time) (float64, string) {
		var s float64
		var asOf string
		if err := e.Pool.QueryRow(ctx, `SELECT total_spend::float8, as_of::text FROM campaign_summaries WHERE client_id = $1 AND summary_date = $2`, id, d).Scan(&s, &asOf); err != nil {
			t.Fatal(err)
		}
		return s, asOf
	}

	// The API without confirmation says what it would replace and queues nothing.
	before := runs()
	body := fmt.Sprintf(`{"from": %q, "to": %q}`, week.Format(time.DateOnly), weekEnd.Format(time.DateOnly))
	ans := call(t, noRedirect, "POST", base+"/v1/clients/"+target+"/refetch", bearer, body)
	var would struct {
		Field string         `json:"field"`
		Would service.Action `json:"would"`
	}
	if err := json.Unmarshal(ans.body, &would); err != nil || ans.status != http.StatusBadRequest || would.Field != "confirm" ||
		len(would.Would.Replaces) != 1 || would.Would.Replaces[0].AsOf != later.Format(time.DateOnly) || would.Would.Weeks != 1 {
		t.Errorf("refetch without confirm: %d %s, want 400 naming the one week it replaces (as of %s)", ans.status, ans.body, later.Format(time.DateOnly))
	}
	if code := crossSitePost(t, base+"/v1/clients/"+target+"/run", `{"confirm": true}`); code != http.StatusForbidden {
		t.Errorf("a cross-site action: %d, want 403", code)
	}
	if runs() != before {
		t.Fatalf("an unconfirmed or cross-site action queued a run")
	}

	// From the page: the re-fetch, confirmed on the page that lists what it replaces.
	browser := newBrowser(t)
	dir := screenshots(t)
	do(t, browser, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), apiToken), chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.ID("runs")))
	do(t, browser, chromedp.Navigate(base+"/clients/"+target), chromedp.WaitVisible(chromedp.ID("refetch")))
	if _, err := eval[bool](t, browser, fmt.Sprintf(`(document.querySelector('#refetch-from').value = %q, document.querySelector('#refetch-to').value = %q, true)`,
		week.Format(time.DateOnly), weekEnd.Format(time.DateOnly))); err != nil {
		t.Fatal(err)
	}
	do(t, browser, chromedp.Click(chromedp.ID("refetch")), chromedp.WaitVisible(chromedp.ID("confirm")))
	what, _ := eval[string](t, browser, `document.querySelector('#confirm-what').innerText`)
	if !strings.Contains(what, "replace the stored figures") || !strings.Contains(what, week.Format(time.DateOnly)) || !strings.Contains(what, later.Format(time.DateOnly)) {
		t.Errorf("the confirmation does not say what it replaces:\n%s", what)
	}
	shot(t, browser, dir, "client-refetch-confirm.png")
	if runs() != before {
		t.Fatalf("the confirmation page queued a run")
	}
	do(t, browser, chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("run-state")))
	loc, _ := eval[string](t, browser, `location.pathname`)
	r := waitRun(t, base, strings.TrimPrefix(loc, "/runs/"), 2*time.Minute)
	if r.State != "done" || r.Source != "page" || len(r.Clients) != 1 || r.Clients[0].ClientID != target || r.Weeks != 1 || !r.Full {
		t.Errorf("the re-fetch's run: %+v", r)
	}
	if s, asOf := stored(target, week); s != spend || asOf != weekEnd.Format(time.DateOnly) {
		t.Errorf("after the re-fetch the week has spend %.2f as of %s, want Meta's %.2f as of %s (replaced)", s, asOf, spend, weekEnd.Format(time.DateOnly))
	}

	// From the page: backfill the client never run, 6 weeks.
	fresh := e.Clients[2]
	do(t, browser, chromedp.Navigate(base+"/clients/"+fresh), chromedp.WaitVisible(chromedp.ID("backfill")))
	if _, err := eval[bool](t, browser, `(document.querySelector('#backfill-weeks').value = '6', true)`); err != nil {
		t.Fatal(err)
	}
	do(t, browser, chromedp.Click(chromedp.ID("backfill")), chromedp.WaitVisible(chromedp.ID("confirm")))
	do(t, browser, chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("run-state")))
	loc, _ = eval[string](t, browser, `location.pathname`)
	r = waitRun(t, base, strings.TrimPrefix(loc, "/runs/"), 2*time.Minute)
	var weeks int
	var covered string
	if err := e.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM campaign_summaries WHERE client_id = $1), covered_from::text FROM client_sync_state WHERE client_id = $1`,
		fresh).Scan(&weeks, &covered); err != nil {
		t.Fatal(err)
	}
	if r.State != "done" || r.Weeks != 6 || weeks == 0 || weeks > 6 || len(r.Clients) != 1 {
		t.Errorf("backfill: run %+v, %d weeks stored (covered from %s), want 1..6", r, weeks, covered)
	}

	// From the page: run now, then the API's run now, the same endpoint, as JSON.
	do(t, browser, chromedp.Navigate(base+"/clients/"+e.Clients[1]), chromedp.WaitVisible(chromedp.ID("run-now")))
	do(t, browser, chromedp.Click(chromedp.ID("run-now")), chromedp.WaitVisible(chromedp.ID("confirm")))
	do(t, browser, chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("run-state")))
	loc, _ = eval[string](t, browser, `location.pathname`)
	if r := waitRun(t, base, strings.TrimPrefix(loc, "/runs/"), 2*time.Minute); r.State != "done" || len(r.Clients) != 1 || r.Clients[0].ClientID != e.Clients[1] {
		t.Errorf("run now from the page: %+v", r)
	}
	ans = call(t, noRedirect, "POST", base+"/v1/clients/"+e.Clients[1]+"/run", bearer, `{"confirm": true}`)
	if ans.status != http.StatusAccepted {
		t.Fatalf("run now from the API: %d %s", ans.status, ans.body)
	}
	if r := waitRun(t, base, ans.json(t)["run_id"].(string), 2*time.Minute); r.State != "done" || r.Source != "api" {
		t.Errorf("run now from the API: %+v", r)
	}
	if s, _ := stored(target, week); s != spend {
		t.Errorf("the re-fetched week changed since: %.2f", s)
	}
}
