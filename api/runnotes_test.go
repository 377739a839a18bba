package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/service"
)

// While Meta's throttling holds a client, GET /v1/runs/{id} says since when (throttled_since)
// and the run's page says "throttled by Meta since …"; once the throttling lifts and the client
// is done, throttled_since is null, and the weeks whose campaign sums disagreed even read again
// are in not_final, what was read again in read_again (the campaigns of each such week, once,
// not agreeing), on the page too; the other client has none of it.
func TestRunShowsThrottlingAndDisagreeingWeeks(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	accts := e.sim.Accounts()
	base := e.serve(t, e.open(t, "worker", 2))
	// A first run caches the ad accounts: the second reads them from the cache, and is
	// throttled in its extraction (throttled at the ad account read, a client is planning).
	a := post(t, base, fmt.Sprintf(`{"as_of": %q, "weeks": 6}`, lastSunday.Format(time.DateOnly)))
	if a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	if r := waitRun(t, base, a.json(t)["run_id"].(string), 2*time.Minute); r.State != "done" {
		t.Fatalf("first run %+v", r)
	}
	e.sim.SetFaults(accts[1].ID, graphsim.Faults{ThrottleFor: time.Hour})
	a = post(t, base, fmt.Sprintf(`{"as_of": %q, "weeks": 6, "full": true}`, lastSunday.Format(time.DateOnly)))
	if a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	id := a.json(t)["run_id"].(string)

	// Throttled: the API and the page say since when.
	var since time.Time
	for deadline := time.Now().Add(time.Minute); since.IsZero(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no throttled_since within a minute: %s", get(t, base, "/v1/runs/"+id).body)
		}
		for _, c := range runView(t, base, id).Clients {
			if c.ClientID == e.clients[1] && c.ThrottledSince != nil {
				since = *c.ThrottledSince
			} else if c.ThrottledSince != nil {
				t.Errorf("client %s, not throttled, has throttled_since %v", c.Name, c.ThrottledSince)
			}
		}
	}
	raw := clientJSON(t, base, id, e.clients[1])
	if s, _ := raw["throttled_since"].(string); s == "" || raw["state"] == "done" {
		t.Errorf("throttled client: %v, want a throttled_since and not done", raw)
	}
	if time.Since(since) < 0 || time.Since(since) > time.Hour {
		t.Errorf("throttled since %v, not during the run", since)
	}
	page := runPage(t, base, id)
	if cell := clientRow(page, e.clients[1]); !strings.Contains(cell, `data-k="throttled">throttled by Meta since `+since.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Errorf("the page's row of the throttled client does not say since when:\n%s", cell)
	}

	// The throttling lifts; the campaign report lacks a campaign in every week.
	e.sim.SetFaults(accts[1].ID, graphsim.Faults{ShortCampaigns: true})
	r := waitRun(t, base, id, 2*time.Minute)
	if r.State != "done" {
		t.Fatalf("run %+v", r)
	}
	for _, c := range r.Clients {
		raw := clientJSON(t, base, id, c.ClientID)
		if raw["throttled_since"] != nil {
			t.Errorf("%s done, throttled_since %v; want null", c.Name, raw["throttled_since"])
		}
		nf, _ := raw["not_final"].([]any)
		again, _ := raw["read_again"].([]any)
		if c.ClientID == e.clients[0] {
			if nf == nil || again == nil || len(nf) != 0 || len(again) != 0 {
				t.Errorf("%s agreed: not_final %v, read_again %v; want [] and []", c.Name, raw["not_final"], raw["read_again"])
			}
			continue
		}
		if len(nf) == 0 || len(again) != len(nf) {
			t.Fatalf("%s: not_final %v, read_again %v; want the disagreeing weeks, each read again once", c.Name, nf, again)
		}
		for i, x := range again {
			rr := x.(map[string]any)
			if rr["kind"] != "campaigns" || rr["week"] != nf[i] || rr["agrees"] != false || rr["requests"].(float64) < 1 {
				t.Errorf("read again %v; want the campaigns of %v, not agreeing", rr, nf[i])
			}
		}
		row := clientRow(runPage(t, base, id), c.ClientID)
		if !strings.Contains(row, `data-k="not-final">`) || strings.Contains(row, `data-k="throttled"`) {
			t.Errorf("the page's row of %s does not list the weeks not final, or still says throttled:\n%s", c.Name, row)
		}
		for _, w := range nf {
			if !strings.Contains(row, `<span class="mono">`+w.(string)+`</span>`) {
				t.Errorf("the page's row of %s does not name week %s:\n%s", c.Name, w, row)
			}
		}
	}
	if row := clientRow(runPage(t, base, id), e.clients[0]); strings.Contains(row, `data-k="not-final"`) || strings.Contains(row, `data-k="throttled"`) {
		t.Errorf("the agreeing client's row: %s", row)
	}
}

// clientJSON is one client of GET /v1/runs/{id} as raw JSON.
func clientJSON(t *testing.T, base, id, clientID string) map[string]any {
	t.Helper()
	var raw struct {
		Clients []map[string]any `json:"clients"`
	}
	if err := json.Unmarshal(get(t, base, "/v1/runs/"+id).body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range raw.Clients {
		if c["client_id"] == clientID {
			return c
		}
	}
	t.Fatalf("run %s has no client %s", id, clientID)
	return nil
}

// runPage is the run's page, signed in with the token.
func runPage(t *testing.T, base, id string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err := browser.PostForm(base+"/login", url.Values{"token": {apiToken}, "next": {"/runs/" + id}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the run's page: %d %s", res.StatusCode, body)
	}
	return string(body)
}

// clientRow is a client's row of the run's page.
func clientRow(page, clientID string) string {
	return regexp.MustCompile(`(?s)<tr data-client="` + clientID + `">.*?</tr>`).FindString(page)
}

// The same in a real headless Chromium: the run's page, left open, says "throttled by Meta
// since …" on the throttled client's line while Meta holds it, and, updating itself in place
// once the throttling lifts, the weeks not final on the same line, and no longer the throttling.
func TestThrottlingAndDisagreeingWeeksInABrowser(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	ctx := newBrowser(t)
	accts := e.sim.Accounts()
	base := e.serve(t, e.open(t, "worker", 2))
	a := post(t, base, fmt.Sprintf(`{"as_of": %q, "weeks": 6}`, lastSunday.Format(time.DateOnly)))
	if a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	waitRun(t, base, a.json(t)["run_id"].(string), 2*time.Minute) // caches the ad accounts
	e.sim.SetFaults(accts[1].ID, graphsim.Faults{ThrottleFor: time.Hour})
	a = post(t, base, fmt.Sprintf(`{"as_of": %q, "weeks": 6, "full": true}`, lastSunday.Format(time.DateOnly)))
	if a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	id := a.json(t)["run_id"].(string)
	do(t, ctx, chromedp.Navigate(base+"/runs/"+id), chromedp.WaitVisible(chromedp.ID("token")))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), apiToken), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("clients")))
	line := func(k string) string {
		s, err := eval[string](t, ctx, `(document.querySelector('tr[data-client="`+e.clients[1]+`"] [data-k="`+k+`"]') || {}).innerText || ''`)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %s", what)
			}
		}
	}
	origin, _ := eval[float64](t, ctx, `performance.timeOrigin`)
	waitFor("the throttling", func() bool { return strings.HasPrefix(line("throttled"), "throttled by Meta since ") })
	var c service.ClientView
	for _, x := range runView(t, base, id).Clients {
		if x.ClientID == e.clients[1] {
			c = x
		}
	}
	if c.ThrottledSince == nil || line("throttled") != "throttled by Meta since "+c.ThrottledSince.UTC().Format("2006-01-02 15:04:05 UTC") {
		t.Errorf("the page says %q, the API %v", line("throttled"), c.ThrottledSince)
	}
	e.sim.SetFaults(accts[1].ID, graphsim.Faults{ShortCampaigns: true})
	waitFor("the weeks not final", func() bool { return line("not-final") != "" })
	r := waitRun(t, base, id, time.Minute)
	for _, x := range r.Clients {
		if x.ClientID == e.clients[1] {
			c = x
		}
	}
	waitFor("the line of the done client", func() bool { return line("state") == "done" })
	if got, want := line("not-final"), "not final, sums disagree with the account's even read again: "+strings.Join(c.NotFinal, " "); got != want || line("throttled") != "" {
		t.Errorf("the page says %q (throttled %q), want %q and no throttling", got, line("throttled"), want)
	}
	if o, _ := eval[float64](t, ctx, `performance.timeOrigin`); o != origin {
		t.Errorf("the page was reloaded: it should update in place")
	}
}
