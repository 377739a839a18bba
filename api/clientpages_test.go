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
	healthy, failing, missing := e.clients[0], e.clients[1], e.clients[2]
	if _, err := e.pool.Exec(ctx, `UPDATE clients SET name = regexp_replace(name, '\s*[^ -\u024F]+$', '')`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, failing); err != nil {
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
	if _, err := e.pool.Exec(ctx, `UPDATE client_sync_state SET covered_from = covered_from + 28 WHERE client_id = $1`, missing); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `DELETE FROM campaign_summaries c USING client_sync_state s
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
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM campaign_summaries WHERE client_id = $1 AND summary_date >= $2`, tc.id, c.Weeks[0].Monday).Scan(&rows); err != nil {
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
