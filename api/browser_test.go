package api_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/service"
)

// -update (or METAPIPE_SCREENSHOTS=1) writes the browser test's screenshots to docs/images/,
// as golden files are updated; otherwise they go to the test's temporary folder.
var update = flag.Bool("update", false, "write the screenshots of the browser test to docs/images/")

// chromium finds a Chromium or Chrome: under CI its absence fails the test, elsewhere it skips.
func chromium(t *testing.T) string {
	return pgtest.Binary(t, "apt-get install chromium; .ci/run installs it", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
}

// screenshots is where the test writes its screenshots.
func screenshots(t *testing.T) string {
	if *update || os.Getenv("METAPIPE_SCREENSHOTS") == "1" {
		return filepath.Join("..", "docs", "images")
	}
	return t.TempDir()
}

// newBrowser starts a headless Chromium with a profile of its own and returns a tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1280, 800))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// do runs browser actions with a bound.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates an expression in the page, with a bound.
func eval[T any](t *testing.T, ctx context.Context, expr string) (T, error) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(sctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// shot saves a screenshot of the whole page as name.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", filepath.Join(dir, name))
}

// pageClient is one client's line on the run's page, as the browser shows it.
type pageClient struct {
	ID, Name, State, Attempt, Reports, Percent, Inserted, Updated, Unchanged, Kept, Error string
}

// pageRun is what the run's page shows, read from the DOM.
type pageRun struct {
	State   string
	Clients []pageClient
	Origin  float64 // performance.timeOrigin: another value means another document (a reload)
	Refresh bool    // the page still refreshes itself
}

const readPage = `(() => {
  const cell = (tr, k) => (tr.querySelector('[data-k="' + k + '"]') || {}).innerText || '';
  const rows = [...document.querySelectorAll('#clients tbody tr[data-client]')];
  return {
    State: (document.querySelector('#run-state') || {}).innerText || '',
    Clients: rows.map(tr => ({ID: tr.dataset.client, Name: cell(tr, 'name'), State: cell(tr, 'state'), Attempt: cell(tr, 'attempt'),
      Reports: cell(tr, 'reports'), Percent: cell(tr, 'percent'),
      Inserted: cell(tr, 'inserted'), Updated: cell(tr, 'updated'), Unchanged: cell(tr, 'unchanged'), Kept: cell(tr, 'kept'),
      Error: cell(tr, 'error')})),
    Origin: performance.timeOrigin,
    Refresh: !!document.querySelector('[data-refresh]'),
  };
})()`

// The run's page in a real headless Chromium: a run queued over HTTP, the browser signs in
// through the form and lands on the run's page, which shows every client with its progress
// (state, report runs done, Meta's percent, rows, errors) and updates itself, in place, until
// the run is over: the test never reloads it, the DOM changes, the document stays the same,
// and at the end it shows what the API says. River's UI loads behind the same sign-in.
// Screenshots of both go to docs/images/ with -update.
func TestRunPageInABrowser(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 6, JobDuration: 5 * time.Second})
	ctx := newBrowser(t)
	for i, a := range e.Sim.Accounts() { // report runs of 3 to 8 s: the clients move at their own pace
		e.Sim.SetFaults(a.ID, graphsim.Faults{JobDuration: time.Duration(3+i) * time.Second})
	}
	refused := e.Clients[5]
	if _, err := e.Pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, refused); err != nil {
		t.Fatal(err)
	}
	// The screenshots are taken where no CJK font may be installed: keep the names to Latin.
	if _, err := e.Pool.Exec(context.Background(), `UPDATE clients SET name = regexp_replace(name, '\s*[^ -\u024F]+$', '')`); err != nil {
		t.Fatal(err)
	}
	base := e.serve(t, e.open(t, "worker-1", 2))
	e.open(t, "worker-2", 2) // another worker process, on another machine as far as the jobs know
	a := post(t, base, fmt.Sprintf(`{"as_of": %q, "weeks": 26}`, lastSunday.Format(time.DateOnly)))
	if a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	id := a.json(t)["run_id"].(string)
	dir := screenshots(t)

	// Signed out, the run's page sends the browser to the form, which brings it back.
	do(t, ctx, chromedp.Navigate(base+"/runs/"+id), chromedp.WaitVisible(chromedp.ID("token")))
	shot(t, ctx, dir, "login.png")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), apiToken), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("clients")))
	if loc, _ := eval[string](t, ctx, `location.pathname`); loc != "/runs/"+id {
		t.Fatalf("after signing in the browser is at %s, want /runs/%s", loc, id)
	}

	// Watch it update itself; the test only reads the DOM.
	var first, last pageRun
	seen := map[string]bool{} // every distinct line seen
	states := map[string]bool{}
	shotRunning := false
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := eval[pageRun](t, ctx, readPage)
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		if first.Origin == 0 {
			first = p
		}
		last = p
		for _, c := range p.Clients {
			seen[fmt.Sprint(c)] = true
			states[c.State] = true
		}
		over := service.RunState(p.State).Over()
		if !shotRunning && p.State == "running" && strings.Contains(fmt.Sprint(p.Clients), "done") &&
			slices.ContainsFunc(p.Clients, func(c pageClient) bool { return c.Percent != "0 %" && c.Percent != "100 %" }) {
			shot(t, ctx, dir, "run-page-running.png") // some clients loaded, others still at Meta
			shotRunning = true
		}
		if over {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page still says %s after 2 minutes: %+v", p.State, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last.Origin != first.Origin {
		t.Errorf("the page was reloaded (document origin %f, then %f): it should update in place", first.Origin, last.Origin)
	}
	if len(seen) <= len(last.Clients) || !states["waiting"] && !states["extracting"] {
		t.Errorf("the page never changed while the run went on: %d distinct lines, states %v", len(seen), states)
	}
	if last.Refresh {
		t.Error("the page of a run that is over still refreshes itself")
	}
	shot(t, ctx, dir, "run-page.png")

	// At the end the page says what the API says.
	api := runView(t, base, id)
	if last.State != string(api.State) || api.State != "partial" || len(last.Clients) != 6 {
		t.Fatalf("page %+v, API %+v; want the run partial (one refused token) with 6 clients", last, api)
	}
	for i, c := range api.Clients {
		want := pageClient{ID: c.ClientID, Name: c.Name, State: string(c.State), Attempt: fmt.Sprint(c.Attempt),
			Reports: fmt.Sprintf("%d / %d", c.ReportsDone, c.ReportsTotal), Percent: fmt.Sprintf("%d %%", c.Percent),
			Inserted: fmt.Sprint(c.Rows.Inserted), Updated: fmt.Sprint(c.Rows.Updated), Unchanged: fmt.Sprint(c.Rows.Unchanged),
			Kept: fmt.Sprint(c.Rows.Kept), Error: c.Error}
		if got := last.Clients[i]; got != want {
			t.Errorf("line %d on the page:\n %+v\nwant (the API's)\n %+v", i, got, want)
		}
		if refused := c.ClientID == refused; refused != (c.State == "failed" && strings.Contains(c.Error, "190")) {
			t.Errorf("client %s: %s %q", c.Name, c.State, c.Error)
		}
	}

	// The list of runs links to the run.
	do(t, ctx, chromedp.Navigate(base+"/runs"), chromedp.WaitVisible(chromedp.ID("runs")))
	if n, _ := eval[int](t, ctx, `document.querySelectorAll('#runs a[href="/runs/`+id+`"]').length`); n != 1 {
		t.Errorf("the list of runs has %d links to the run", n)
	}
	shot(t, ctx, dir, "runs.png")

	// River's UI, signed in by the same cookie: its job list shows the run's jobs.
	do(t, ctx, chromedp.Navigate(base+"/riverui/jobs?state=completed"))
	deadline = time.Now().Add(time.Minute)
	for {
		text, _ := eval[string](t, ctx, `document.body ? document.body.innerText : ''`)
		if strings.Contains(text, "metapipe_client_run") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("River's UI shows no metapipe job:\n%s", text)
		}
		time.Sleep(200 * time.Millisecond)
	}
	shot(t, ctx, dir, "riverui.png")

	// Without the cookie (a new browser profile), River's UI is the login form.
	other := newBrowser(t)
	do(t, other, chromedp.Navigate(base+"/riverui/"), chromedp.WaitVisible(chromedp.ID("token")))
	if b, err := eval[string](t, other, `fetch('/riverui/api/jobs?state=completed').then(r => r.status + '')`); err != nil || b != "401" {
		t.Errorf("River's API without the cookie: %q %v, want 401", b, err)
	}
}

// The same in a real headless Chromium: the run's page, left open, says "throttled by Meta
// since …" on the throttled client's line while Meta holds it, and, updating itself in place
// once the throttling lifts, the weeks not final on the same line, and no longer the throttling.
func TestThrottlingAndDisagreeingWeeksInABrowser(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	ctx := newBrowser(t)
	accts := e.Sim.Accounts()
	base := e.serve(t, e.open(t, "worker", 2))
	a := post(t, base, fmt.Sprintf(`{"as_of": %q, "weeks": 6}`, lastSunday.Format(time.DateOnly)))
	if a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	waitRun(t, base, a.json(t)["run_id"].(string), 2*time.Minute) // caches the ad accounts
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ThrottleFor: time.Hour})
	a = post(t, base, fmt.Sprintf(`{"as_of": %q, "weeks": 6, "full": true}`, lastSunday.Format(time.DateOnly)))
	if a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	id := a.json(t)["run_id"].(string)
	do(t, ctx, chromedp.Navigate(base+"/runs/"+id), chromedp.WaitVisible(chromedp.ID("token")))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), apiToken), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("clients")))
	line := func(k string) string {
		s, err := eval[string](t, ctx, `(document.querySelector('tr[data-client="`+e.Clients[1]+`"] [data-k="`+k+`"]') || {}).innerText || ''`)
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
		if x.ClientID == e.Clients[1] {
			c = x
		}
	}
	if c.ThrottledSince == nil || line("throttled") != "throttled by Meta since "+c.ThrottledSince.UTC().Format("2006-01-02 15:04:05 UTC") {
		t.Errorf("the page says %q, the API %v", line("throttled"), c.ThrottledSince)
	}
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ShortCampaigns: true})
	waitFor("the weeks not final", func() bool { return line("not-final") != "" })
	r := waitRun(t, base, id, time.Minute)
	for _, x := range r.Clients {
		if x.ClientID == e.Clients[1] {
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

// The sign-out button in a real headless Chromium: signed in, the browser clicks it, lands on
// the sign-in form that says it signed out, and the runs' page asks for the token again.
func TestSignOutInABrowser(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	ctx := newBrowser(t)
	base := e.serve(t, e.open(t, "api", 0))
	do(t, ctx, chromedp.Navigate(base+"/runs"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), apiToken), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("runs")))
	do(t, ctx, chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("signed-out")))
	if loc, _ := eval[string](t, ctx, `location.pathname + location.search`); loc != "/login?signed_out=1" {
		t.Errorf("after signing out the browser is at %s, want /login?signed_out=1", loc)
	}
	do(t, ctx, chromedp.Navigate(base+"/runs"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc, _ := eval[string](t, ctx, `location.pathname`); loc != "/login" {
		t.Errorf("/runs after signing out shows %s, want the sign-in form", loc)
	}
}
