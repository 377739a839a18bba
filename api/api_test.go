package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/metapipe/metapipe/api"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// POST /v1/runs answers 202 with the run's id and where to poll it, queues one River job per
// client carrying ids only, and the run reads back as queued with every client; many identical
// requests at once queue one run, the others answer 409 naming it.
func TestPostRunQueuesAndAnswers(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 3})
	base := e.serve(t, e.open(t, "api", 0)) // works no job: the run stays queued

	body := fmt.Sprintf(`{"clients": [%q, %q], "as_of": %q, "weeks": 13}`, e.names[0], e.Clients[1], lastSunday.Format(time.DateOnly))
	a := post(t, base, body)
	if a.status != http.StatusAccepted {
		t.Fatalf("POST /v1/runs: %d %s, want 202", a.status, a.body)
	}
	m := a.json(t)
	id, _ := m["run_id"].(string)
	if id == "" || m["status_url"] != "/v1/runs/"+id || a.header.Get("Location") != "/v1/runs/"+id || len(m) != 2 {
		t.Fatalf("answer %s (Location %q), want run_id and status_url /v1/runs/<id>", a.body, a.header.Get("Location"))
	}
	r := runView(t, base, m["status_url"].(string)[len("/v1/runs/"):])
	if r.RunID != id || r.State != "queued" || r.AsOf != lastSunday.Format(time.DateOnly) || !r.AsOfGiven || r.Weeks != 13 ||
		r.Source != "api" || r.FinishedAt != nil || len(r.Clients) != 2 {
		t.Fatalf("the queued run: %+v", r)
	}
	for _, c := range r.Clients {
		if c.State != "queued" || c.Attempt != 0 || c.ReportsDone != 0 || c.Rows != (pipeline.RowCounts{}) || c.Error != "" ||
			!slices.Contains(e.Clients[:2], c.ClientID) || !slices.Contains(e.names[:2], c.Name) {
			t.Errorf("queued client: %+v", c)
		}
	}
	// One job per client, holding its ids and the client's name (for River's UI), nothing else.
	rows, err := e.Pool.Query(context.Background(), `SELECT args::text FROM river_job WHERE kind = 'metapipe_client_run' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	args, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(args) != 2 {
		t.Fatalf("jobs: %v %v, want 2", args, err)
	}
	for _, s := range args {
		var a map[string]string
		err := json.Unmarshal([]byte(s), &a)
		i := slices.Index(e.Clients[:2], a["client_id"])
		if err != nil || len(a) != 3 || a["run_id"] != id || i < 0 || a["client"] != e.names[i] {
			t.Errorf("job args %s: want exactly run_id, client_id and client (its name)", s)
		}
	}

	// No body at all: every active client, each ad account's today, 54 weeks.
	a = post(t, base, "")
	if a.status != http.StatusAccepted {
		t.Fatalf("POST without a body: %d %s", a.status, a.body)
	}
	r = runView(t, base, a.json(t)["run_id"].(string))
	if len(r.Clients) != 3 || r.AsOfGiven || r.Weeks != 54 || r.Full {
		t.Errorf("the run of the defaults: %+v", r)
	}

	// Twenty identical requests at once: one run.
	body = fmt.Sprintf(`{"clients": [%q], "as_of": %q}`, e.names[2], lastSunday.AddDate(0, 0, -7).Format(time.DateOnly))
	answers := make([]answer, 20)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = post(t, base, body) })
	}
	wg.Wait()
	var accepted []string
	for _, a := range answers {
		if a.status == http.StatusAccepted {
			accepted = append(accepted, a.json(t)["run_id"].(string))
		}
	}
	if len(accepted) != 1 {
		t.Fatalf("%d of 20 identical requests queued a run, want 1", len(accepted))
	}
	for _, a := range answers {
		if a.status == http.StatusConflict && a.json(t)["run_id"] != accepted[0] {
			t.Errorf("409 %s, want it to name %s", a.body, accepted[0])
		} else if a.status != http.StatusConflict && a.status != http.StatusAccepted {
			t.Errorf("answer %d %s", a.status, a.body)
		}
	}
}

// Every route but /healthz needs the token: without it, with a wrong one, or in another
// scheme the API answers 401 (and says how to authenticate) and the pages send the browser
// to the login form; nothing is queued.
func TestTokenRequired(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	base := e.serve(t, e.open(t, "api", 0))
	id := post(t, base, `{"weeks": 2}`).json(t)["run_id"].(string)

	for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + apiToken + "x", "Bearer " + apiToken[:len(apiToken)-1],
		"Basic " + apiToken, apiToken, "Bearer"} {
		for _, rt := range []struct{ method, path, body string }{
			{"POST", "/v1/runs", `{"weeks": 3}`}, {"GET", "/v1/runs", ""}, {"GET", "/v1/runs/" + id, ""},
			{"GET", "/riverui/api/jobs?state=available", ""}, {"POST", "/riverui/api/jobs/cancel", `{"ids": ["1"]}`},
		} {
			a := call(t, noRedirect, rt.method, base+rt.path, auth, rt.body)
			if a.status != http.StatusUnauthorized || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") ||
				!strings.Contains(a.json(t)["error"].(string), "METAPIPE_API_TOKEN") {
				t.Errorf("%s %s with %q: %d %s (WWW-Authenticate %q), want 401", rt.method, rt.path, auth, a.status, a.body, a.header.Get("WWW-Authenticate"))
			}
		}
		for _, page := range []string{"/runs", "/runs/" + id, "/riverui/", "/riverui/jobs"} {
			a := call(t, noRedirect, "GET", base+page, auth, "")
			if a.status != http.StatusSeeOther || a.header.Get("Location") != "/login?next="+page {
				t.Errorf("page %s with %q: %d to %q, want 303 to the login form", page, auth, a.status, a.header.Get("Location"))
			}
		}
	}
	if a := call(t, noRedirect, "GET", base+"/healthz", "", ""); a.status != http.StatusOK || a.json(t)["status"] != "ok" {
		t.Errorf("/healthz without a token: %d %s, want 200", a.status, a.body)
	}
	var runs int
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM service_runs`).Scan(&runs)
	if runs != 1 {
		t.Errorf("%d runs queued, want only the one queued with the token", runs)
	}
	// The header is case-insensitive in its scheme, as RFC 9110 says.
	if a := call(t, noRedirect, "GET", base+"/v1/runs", "bearer "+apiToken, ""); a.status != http.StatusOK {
		t.Errorf("lower-case bearer: %d", a.status)
	}
}

// Each bad input is a 400 whose JSON names the field at fault, and queues nothing.
func TestBadRequestsNameTheField(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	base := e.serve(t, e.open(t, "api", 0))
	future := time.Now().UTC().AddDate(0, 0, 3).Format(time.DateOnly)
	for _, tc := range []struct {
		name, body, field, say string
	}{
		{"unknown field", `{"client": ["Demo"]}`, "client", "unknown field"},
		{"unknown field among good ones", `{"weeks": 4, "as_of": "2026-01-04", "shard": "0/2"}`, "shard", "unknown field"},
		{"weeks as text", `{"weeks": "ten"}`, "weeks", "int"},
		{"weeks not whole", `{"weeks": 5.5}`, "weeks", "int"},
		{"clients as a string", `{"clients": "Demo Hotel"}`, "clients", "[]string"},
		{"a client as a number", `{"clients": [12]}`, "clients", "string"},
		{"full as text", `{"full": "yes"}`, "full", "bool"},
		{"as_of as a number", `{"as_of": 20260104}`, "as_of", "string"},
		{"as_of not a date", `{"as_of": "yesterday"}`, "as_of", "YYYY-MM-DD"},
		{"as_of day 32", `{"as_of": "2026-01-32"}`, "as_of", "YYYY-MM-DD"},
		{"as_of in another format", `{"as_of": "04.01.2026"}`, "as_of", "YYYY-MM-DD"},
		{"as_of in the future", `{"as_of": "` + future + `"}`, "as_of", "in the future"},
		{"as_of empty", `{"as_of": ""}`, "as_of", "YYYY-MM-DD"},
		{"clients empty", `{"clients": []}`, "clients", "leave it out"},
		{"as_of of year 1", `{"as_of": "0001-01-01"}`, "as_of", "more than 37 months ago"},
		{"as_of four years back", `{"as_of": "` + time.Now().AddDate(-4, 0, 0).Format(time.DateOnly) + `"}`, "as_of", "Meta keeps Insights from"},
		{"weeks 0", `{"weeks": 0}`, "weeks", "1..160"},
		{"weeks negative", `{"weeks": -3}`, "weeks", "1..160"},
		{"weeks 161", `{"weeks": 161}`, "weeks", "1..160"},
		{"unknown client", `{"clients": ["Nobody"]}`, "clients", `unknown client "Nobody"`},
		{"unknown client among known ones", fmt.Sprintf(`{"clients": [%q, "Nobody"]}`, e.names[0]), "clients", "Nobody"},
		{"not JSON", `clients=Demo`, "", "not JSON"},
		{"two objects", `{"weeks": 3} {"weeks": 4}`, "", "one JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, base, tc.body)
			if a.status != http.StatusBadRequest || a.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s, want 400 in JSON", a.status, a.body)
			}
			m := a.json(t)
			field, _ := m["field"].(string)
			msg, _ := m["error"].(string)
			if field != tc.field || !strings.Contains(msg, tc.say) {
				t.Errorf("field %q, error %q; want field %q and an error saying %q", field, msg, tc.field, tc.say)
			}
		})
	}
	var runs, jobs int
	_ = e.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM service_runs), (SELECT count(*) FROM river_job)`).Scan(&runs, &jobs)
	if runs != 0 || jobs != 0 {
		t.Errorf("bad requests queued %d runs and %d jobs", runs, jobs)
	}
}

// The API's answers to each typed error, word for word: the texts are the API's own, built
// from the errors' fields (service.FieldErrorOf, decodeObject), so a reworded CLI message or a
// new encoding/json text cannot change them unseen.
func TestTypedErrorTexts(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	base := e.serve(t, e.open(t, "api", 0))
	now := time.Now()
	y, m, d := now.In(time.FixedZone("UTC+14", 14*3600)).Date()
	latest := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	oldest := latest.AddDate(0, -37, 0).Format(time.DateOnly)
	future := now.UTC().AddDate(0, 0, 3).Format(time.DateOnly)
	for _, tc := range []struct {
		name, body, field, error string
	}{
		{"as-of after today", `{"as_of": "` + future + `"}`, "as_of",
			"as_of: " + future + " is in the future: today is " + latest.Format(time.DateOnly) + " at the latest (in UTC+14)"},
		{"as-of too old", `{"as_of": "0001-01-01"}`, "as_of",
			"as_of: 0001-01-01 is more than 37 months ago: Meta keeps Insights from " + oldest + " on (error 3018)"},
		{"unknown client", `{"clients": ["Nobody"]}`, "clients", `clients: unknown client "Nobody"`},
		{"unknown body field", `{"weeks": 4, "shard": "0/2"}`, "shard", "unknown field shard (clients, as_of, weeks, full)"},
		{"a field in other case", `{"AS_OF": "2026-01-04"}`, "AS_OF", "unknown field AS_OF (clients, as_of, weeks, full)"},
		{"not an object", `[1]`, "", "want a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, base, tc.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("%d %s, want 400", a.status, a.body)
			}
			want := map[string]any{"error": tc.error}
			if tc.field != "" {
				want["field"] = tc.field
			}
			if got := a.json(t); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
		})
	}
}

// The same clients and as-of date are refused with 409 naming the run while it is queued and
// while it runs, whatever order or names the clients are given in; other as-of dates or
// clients are queued; once the run is over the same request is queued anew.
func TestConflictWhileQueuedOrRunning(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 3, JobDuration: 3 * time.Second})
	s := e.open(t, "worker", 2)
	base := e.serve(t, s)
	asOf := lastSunday.Format(time.DateOnly)
	a := post(t, base, fmt.Sprintf(`{"clients": [%q, %q], "as_of": %q, "weeks": 6}`, e.names[0], e.names[1], asOf))
	if a.status != http.StatusAccepted {
		t.Fatalf("first POST: %d %s", a.status, a.body)
	}
	id := a.json(t)["run_id"].(string)
	same := []string{
		fmt.Sprintf(`{"clients": [%q, %q], "as_of": %q, "weeks": 6}`, e.names[1], e.names[0], asOf),
		fmt.Sprintf(`{"clients": [%q, %q], "as_of": %q}`, strings.ToUpper(e.Clients[0]), e.names[1], asOf),
		fmt.Sprintf(`{"clients": [%q, %q], "as_of": %q, "full": true}`, e.Clients[1], e.Clients[0], asOf),
	}
	conflict := func(when string) {
		t.Helper()
		for _, body := range same {
			a := post(t, base, body)
			if a.status != http.StatusConflict || a.json(t)["run_id"] != id || !strings.Contains(a.json(t)["error"].(string), id) {
				t.Errorf("%s, %s: %d %s, want 409 naming %s", when, body, a.status, a.body, id)
			}
		}
	}
	conflict("queued")
	if a := post(t, base, fmt.Sprintf(`{"clients": [%q], "as_of": %q, "weeks": 6}`, e.names[2], asOf)); a.status != http.StatusAccepted {
		t.Errorf("another client, same as-of: %d %s", a.status, a.body)
	}
	older := lastSunday.AddDate(0, 0, -7).Format(time.DateOnly)
	if a := post(t, base, fmt.Sprintf(`{"clients": [%q], "as_of": %q, "weeks": 6}`, e.names[2], older)); a.status != http.StatusAccepted {
		t.Errorf("another as-of: %d %s", a.status, a.body)
	}

	deadline := time.Now().Add(time.Minute)
	for runView(t, base, id).State != "running" {
		if time.Now().After(deadline) {
			t.Fatal("the run never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	conflict("running")
	if r := waitRun(t, base, id, 2*time.Minute); r.State != "done" {
		t.Fatalf("run %s: %+v", id, r)
	}
	a = post(t, base, same[0])
	if a.status != http.StatusAccepted || a.json(t)["run_id"] == id {
		t.Errorf("the same request once the run is over: %d %s, want 202 with a new run", a.status, a.body)
	}
}

// GET /v1/runs/{id} of a finished run has every field the API promises, with the values of
// the run; GET /v1/runs?limit=N gives the N newest first; an unknown run is 404; a bad limit
// is 400 naming it.
func TestRunShapes(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	base := e.serve(t, e.open(t, "worker", 2))
	var ids []string
	for i, c := range []string{e.names[0], e.names[1], e.names[0]} {
		asOf := lastSunday.AddDate(0, 0, -7*i).Format(time.DateOnly)
		a := post(t, base, fmt.Sprintf(`{"clients": [%q], "as_of": %q, "weeks": 4}`, c, asOf))
		if a.status != http.StatusAccepted {
			t.Fatalf("POST: %d %s", a.status, a.body)
		}
		ids = append(ids, a.json(t)["run_id"].(string))
		waitRun(t, base, ids[i], 2*time.Minute)
	}

	a := get(t, base, "/v1/runs/"+ids[0])
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %s", a.status, a.body)
	}
	m := a.json(t)
	for _, k := range []string{"run_id", "state", "as_of", "created_at", "finished_at", "clients"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, a.body)
		}
	}
	if m["run_id"] != ids[0] || m["state"] != "done" || m["as_of"] != lastSunday.Format(time.DateOnly) {
		t.Errorf("run: %s", a.body)
	}
	for _, k := range []string{"created_at", "finished_at"} {
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m[k])); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	clients, _ := m["clients"].([]any)
	if len(clients) != 1 {
		t.Fatalf("clients: %s", a.body)
	}
	c := clients[0].(map[string]any)
	for _, k := range []string{"client_id", "name", "state", "attempt", "reports_done", "reports_total", "percent", "rows", "error"} {
		if _, ok := c[k]; !ok {
			t.Errorf("no %q in the client %v", k, c)
		}
	}
	rows := 0
	horizon := e2etest.Monday(lastSunday).AddDate(0, 0, -7*3) // the run's 4 weeks
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM campaign_summaries WHERE client_id = $1 AND summary_date >= $2`,
		e.Clients[0], horizon).Scan(&rows)
	if c["client_id"] != e.Clients[0] || c["name"] != e.names[0] || c["state"] != "done" || c["attempt"] != 1.0 ||
		c["reports_done"] != 5.0 || c["reports_total"] != 5.0 || c["percent"] != 100.0 || c["error"] != "" {
		t.Errorf("client %v, want done in one attempt, 5 of 5 report runs, 100 %%", c)
	}
	// The first load of the client: every row of its weeks inserted, as metapipe run counts.
	want := map[string]any{"inserted": float64(rows), "updated": 0.0, "unchanged": 0.0, "confirmed": 0.0, "kept": 0.0, "deleted": 0.0}
	if got, _ := c["rows"].(map[string]any); rows == 0 || !maps.Equal(got, want) {
		t.Errorf("rows %v, want %v", c["rows"], want)
	}

	var list struct {
		Runs []struct {
			RunID     string    `json:"run_id"`
			CreatedAt time.Time `json:"created_at"`
			Clients   []any     `json:"clients"`
		} `json:"runs"`
	}
	a = get(t, base, "/v1/runs?limit=2")
	if err := json.Unmarshal(a.body, &list); err != nil || a.status != http.StatusOK {
		t.Fatalf("GET /v1/runs?limit=2: %d %s", a.status, a.body)
	}
	if len(list.Runs) != 2 || list.Runs[0].RunID != ids[2] || list.Runs[1].RunID != ids[1] || len(list.Runs[0].Clients) != 1 {
		t.Errorf("limit=2: %s, want runs %s and %s, newest first", a.body, ids[2], ids[1])
	}
	if a := get(t, base, "/v1/runs"); json.Unmarshal(a.body, &list) != nil || len(list.Runs) != 3 {
		t.Errorf("GET /v1/runs: %s, want the 3 runs", a.body)
	}
	for _, bad := range []string{"0", "-1", "501", "ten", "2.5"} {
		if a := get(t, base, "/v1/runs?limit="+url.QueryEscape(bad)); a.status != http.StatusBadRequest || a.json(t)["field"] != "limit" {
			t.Errorf("limit=%s: %d %s, want 400 naming limit", bad, a.status, a.body)
		}
	}
	if a := get(t, base, "/v1/runs/nope"); a.status != http.StatusNotFound {
		t.Errorf("unknown run: %d %s", a.status, a.body)
	}
}

// What a run's loads did is counted apart, in the API's JSON and on the run's page, as
// metapipe run counts it: the first run inserts every row; the same run again re-reads rows
// equal to the stored ones and writes nothing (0 inserted, 0 updated, the rows unchanged); a
// run as of an earlier date keeps the stored rows of later as-of (kept) and inserts the week
// they lack.
func TestRunRowCounts(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	base := e.serve(t, e.open(t, "worker", 2))
	ctx := context.Background()
	count := func() (n int64) {
		_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM campaign_summaries WHERE client_id = $1`, e.Clients[0]).Scan(&n)
		return n
	}
	run := func(asOf time.Time) service.RunView {
		t.Helper()
		a := post(t, base, fmt.Sprintf(`{"clients": [%q], "as_of": %q, "weeks": 4}`, e.names[0], asOf.Format(time.DateOnly)))
		if a.status != http.StatusAccepted {
			t.Fatalf("POST: %d %s", a.status, a.body)
		}
		r := waitRun(t, base, a.json(t)["run_id"].(string), 2*time.Minute)
		if r.State != "done" || len(r.Clients) != 1 {
			t.Fatalf("run: %+v", r)
		}
		return r
	}

	first := run(lastSunday)
	n := count()
	if got := first.Clients[0].Rows; n == 0 || got != (pipeline.RowCounts{Inserted: n}) {
		t.Errorf("first run: rows %+v, want %d inserted and nothing else", got, n)
	}
	checkPageRows(t, base, first)

	again := run(lastSunday)
	got := again.Clients[0].Rows
	if got.Inserted != 0 || got.Updated != 0 || got.Deleted != 0 || got.Kept != 0 || got.Unchanged == 0 || got.Unchanged > n || count() != n {
		t.Errorf("the same run again: rows %+v (table %d, then %d), want 0 inserted, 0 updated, and unchanged rows", got, n, count())
	}
	// The API's JSON says the same, field by field.
	a := get(t, base, "/v1/runs/"+again.RunID)
	var raw struct {
		Clients []struct {
			Rows map[string]int64 `json:"rows"`
		} `json:"clients"`
	}
	if err := json.Unmarshal(a.body, &raw); err != nil || len(raw.Clients) != 1 ||
		!maps.Equal(raw.Clients[0].Rows, map[string]int64{"inserted": 0, "updated": 0, "unchanged": got.Unchanged, "confirmed": 0, "kept": 0, "deleted": 0}) {
		t.Errorf("GET /v1/runs/%s: %s (%v)", again.RunID, a.body, err)
	}
	checkPageRows(t, base, again)

	older := run(lastSunday.AddDate(0, 0, -7))
	got = older.Clients[0].Rows
	if got.Kept == 0 || got.Inserted == 0 || got.Updated != 0 || count() != n+got.Inserted {
		t.Errorf("a run as of a week earlier: rows %+v (table %d, then %d), want rows kept and the earlier week inserted", got, n, count())
	}
	checkPageRows(t, base, older)
}

// While Meta's throttling holds a client, GET /v1/runs/{id} says since when (throttled_since)
// and the run's page says "throttled by Meta since …"; once the throttling lifts and the client
// is done, throttled_since is null, and the weeks whose campaign sums disagreed even read again
// are in not_final, what was read again in read_again (the campaigns of each such week, once,
// not agreeing), on the page too; the other client has none of it.
func TestRunShowsThrottlingAndDisagreeingWeeks(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	accts := e.Sim.Accounts()
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
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ThrottleFor: time.Hour})
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
			if c.ClientID == e.Clients[1] && c.ThrottledSince != nil {
				since = *c.ThrottledSince
			} else if c.ThrottledSince != nil {
				t.Errorf("client %s, not throttled, has throttled_since %v", c.Name, c.ThrottledSince)
			}
		}
	}
	raw := clientJSON(t, base, id, e.Clients[1])
	if s, _ := raw["throttled_since"].(string); s == "" || raw["state"] == "done" {
		t.Errorf("throttled client: %v, want a throttled_since and not done", raw)
	}
	if time.Since(since) < 0 || time.Since(since) > time.Hour {
		t.Errorf("throttled since %v, not during the run", since)
	}
	page := runPage(t, base, id)
	if cell := clientRow(page, e.Clients[1]); !strings.Contains(cell, `data-k="throttled">throttled by Meta since `+since.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Errorf("the page's row of the throttled client does not say since when:\n%s", cell)
	}

	// The throttling lifts; the campaign report lacks a campaign in every week.
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ShortCampaigns: true})
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
		if c.ClientID == e.Clients[0] {
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
	if row := clientRow(runPage(t, base, id), e.Clients[0]); strings.Contains(row, `data-k="not-final"`) || strings.Contains(row, `data-k="throttled"`) {
		t.Errorf("the agreeing client's row: %s", row)
	}
}

// checkPageRows reads the run's page (signed in) and checks its counts of rows, the run's and
// each client's, against the API's.
func checkPageRows(t *testing.T, base string, r service.RunView) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err := browser.PostForm(base+"/login", url.Values{"token": {apiToken}, "next": {"/runs/" + r.RunID}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the run's page: %d %s", res.StatusCode, body)
	}
	cells := func(html string) map[string]string {
		m := map[string]string{}
		for _, c := range regexp.MustCompile(`data-k="(inserted|updated|unchanged|kept)">(\d+)<`).FindAllStringSubmatch(html, -1) {
			m[c[1]] = c[2]
		}
		return m
	}
	var sum pipeline.RowCounts
	for _, c := range r.Clients {
		sum.Inserted, sum.Updated, sum.Unchanged, sum.Kept = sum.Inserted+c.Rows.Inserted, sum.Updated+c.Rows.Updated, sum.Unchanged+c.Rows.Unchanged, sum.Kept+c.Rows.Kept
		line := regexp.MustCompile(`(?s)<tr data-client="` + c.ClientID + `">.*?</tr>`).FindString(string(body))
		want := map[string]string{"inserted": fmt.Sprint(c.Rows.Inserted), "updated": fmt.Sprint(c.Rows.Updated),
			"unchanged": fmt.Sprint(c.Rows.Unchanged), "kept": fmt.Sprint(c.Rows.Kept)}
		if got := cells(line); !maps.Equal(got, want) {
			t.Errorf("run %s, client %s on the page: %v, want the API's %v", r.RunID, c.Name, got, want)
		}
	}
	card := regexp.MustCompile(`(?s)id="sum-rows">.*?</div>`).FindString(string(body))
	want := map[string]string{"inserted": fmt.Sprint(sum.Inserted), "updated": fmt.Sprint(sum.Updated),
		"unchanged": fmt.Sprint(sum.Unchanged), "kept": fmt.Sprint(sum.Kept)}
	if got := cells(card); !maps.Equal(got, want) {
		t.Errorf("run %s: the page's rows %v, want %v", r.RunID, got, want)
	}
}

// A browser signs in with the token through the form: a wrong token is refused and sets no
// cookie; the right one sets an HttpOnly, SameSite=Strict cookie and goes back where the
// browser was sent from; with the cookie, the pages, River's UI and its API answer.
func TestLoginCookie(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	base := e.serve(t, e.open(t, "api", 0))
	id := post(t, base, `{"weeks": 3}`).json(t)["run_id"].(string)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := func(token, next string) answer {
		res, err := browser.PostForm(base+"/login", url.Values{"token": {token}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return answer{status: res.StatusCode, header: res.Header}
	}
	if a := call(t, browser, "GET", base+"/runs/"+id, "", ""); a.status != http.StatusSeeOther || a.header.Get("Location") != "/login?next=/runs/"+id {
		t.Fatalf("the page without a cookie: %d to %q", a.status, a.header.Get("Location"))
	}
	if a := call(t, browser, "GET", base+"/login?next=/runs/"+id, "", ""); a.status != http.StatusOK ||
		!strings.Contains(string(a.body), `name="token"`) || !strings.Contains(string(a.body), `value="/runs/`+id+`"`) {
		t.Fatalf("the login form: %d %s", a.status, a.body)
	}
	if a := form("wrong", "/runs/"+id); a.status != http.StatusUnauthorized || len(a.header.Values("Set-Cookie")) != 0 {
		t.Errorf("a wrong token: %d, cookies %v; want 401 and no cookie", a.status, a.header.Values("Set-Cookie"))
	}
	a := form(apiToken, "/runs/"+id)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/runs/"+id {
		t.Fatalf("sign in: %d to %q", a.status, a.header.Get("Location"))
	}
	cookie := a.header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("cookie %q lacks %s", cookie, attr)
		}
	}
	// The cookie is not the token, and it is no bearer token either.
	value := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "metapipe_token=")
	if strings.Contains(cookie, apiToken) || strings.Contains(cookie, "Secure") || len(value) != 64 {
		t.Errorf("cookie %q: want a 64-hex value that is not the token, not Secure over plain HTTP", cookie)
	}
	if a := call(t, http.DefaultClient, "GET", base+"/v1/runs", "Bearer "+value, ""); a.status != http.StatusUnauthorized {
		t.Errorf("the cookie's value as a bearer token: %d, want 401", a.status)
	}
	// Behind a proxy that ends HTTPS the cookie is Secure.
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"token": {apiToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	if res, err := browser.Do(req); err != nil {
		t.Fatal(err)
	} else if res.Body.Close(); !strings.Contains(res.Header.Get("Set-Cookie"), "Secure") {
		t.Errorf("behind an HTTPS proxy: cookie %q, want Secure", res.Header.Get("Set-Cookie"))
	}
	for path, want := range map[string]string{
		"/runs/" + id:                       e.names[1],
		"/runs":                             id,
		"/riverui/":                         "<title>River</title>",
		"/riverui/jobs":                     "<title>River</title>",
		"/riverui/api/jobs?state=available": "metapipe_client_run",
		"/riverui/api/states":               "available",
		"/v1/runs/" + id:                    `"state": "queued"`,
	} {
		if a := call(t, browser, "GET", base+path, "", ""); a.status != http.StatusOK || !strings.Contains(string(a.body), want) {
			t.Errorf("%s with the cookie: %d, want 200 with %q:\n%.300s", path, a.status, want, a.body)
		}
	}
	// The next page is this server's: no open redirect.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "", "runs", `/\evil.example`, "/\t/evil.example", `/\/evil.example`, "/\n/evil.example"} {
		if a := form(apiToken, next); a.header.Get("Location") != "/runs" {
			t.Errorf("next %q: redirected to %q, want /runs", next, a.header.Get("Location"))
		}
	}
}

// Sign-out: the pages show the button once signed in; POST /logout expires the cookie and
// sends the browser to the sign-in form, after which the pages ask for the token again. A
// cross-site POST (another site's form) is refused and keeps the cookie. Without an API token
// there is nothing to sign out of: no button.
func TestSignOut(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	svc := e.open(t, "api", 0)
	base := e.serve(t, svc)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.PostForm(base+"/login", url.Values{"token": {apiToken}, "next": {"/runs"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if a := call(t, browser, "GET", base+"/runs", "", ""); a.status != http.StatusOK || !strings.Contains(string(a.body), `action="/logout"`) {
		t.Fatalf("/runs signed in: %d, want 200 with the sign-out form:\n%.400s", a.status, a.body)
	}
	logout := func(site string) answer {
		req, _ := http.NewRequest("POST", base+"/logout", nil)
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		res, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return answer{status: res.StatusCode, header: res.Header}
	}
	if a := logout("cross-site"); a.status != http.StatusForbidden || len(a.header.Values("Set-Cookie")) != 0 {
		t.Errorf("a cross-site sign-out: %d, cookies %v; want 403 and the cookie kept", a.status, a.header.Values("Set-Cookie"))
	}
	if a := call(t, browser, "GET", base+"/runs", "", ""); a.status != http.StatusOK {
		t.Fatalf("after a refused cross-site sign-out /runs: %d, want 200 (still signed in)", a.status)
	}
	a := logout("same-origin")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("sign out: %d to %q", a.status, a.header.Get("Location"))
	}
	if c := a.header.Get("Set-Cookie"); !strings.HasPrefix(c, "metapipe_token=;") || !strings.Contains(c, "Max-Age=0") {
		t.Errorf("sign out sets %q, want the cookie emptied with Max-Age=0", c)
	}
	if a := call(t, browser, "GET", base+"/runs", "", ""); a.status != http.StatusSeeOther || a.header.Get("Location") != "/login?next=/runs" {
		t.Errorf("/runs after signing out: %d to %q, want the sign-in form", a.status, a.header.Get("Location"))
	}
	if a := call(t, browser, "GET", base+"/login?signed_out=1", "", ""); !strings.Contains(string(a.body), "Signed out") {
		t.Errorf("the sign-in form after signing out does not say so:\n%.400s", a.body)
	}

	// No token, nothing to sign out of.
	open, err := api.New(svc, api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(open)
	t.Cleanup(hs.Close)
	if a := call(t, http.DefaultClient, "GET", hs.URL+"/runs", "", ""); a.status != http.StatusOK || strings.Contains(string(a.body), "/logout") {
		t.Errorf("/runs without a token: %d; it should show no sign-out form", a.status)
	}
}

// Jobs cancelled in River's UI (its API, behind the token), one while a worker holds it and
// one while it waits on Meta, end their clients interrupted with nothing loaded; the other
// client is loaded; the run ends interrupted, and it no longer stands in the way of the same
// request.
func TestJobsCancelledInRiverUIEndTheRunInterrupted(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 3, JobDuration: 4 * time.Second})
	base := e.serve(t, e.open(t, "worker", 3))
	body := fmt.Sprintf(`{"as_of": %q, "weeks": 4}`, lastSunday.Format(time.DateOnly))
	a := post(t, base, body)
	if a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	id := a.json(t)["run_id"].(string)
	ctx := context.Background()
	// cancel waits until the client's job is in one of the states, then cancels it as River's
	// UI does, and returns the state it was cancelled in.
	cancel := func(client string, states ...string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var job int64
			var state string
			err := e.Pool.QueryRow(ctx, `SELECT j.id, j.state FROM river_job j JOIN service_run_clients c ON c.job_id = j.id
				WHERE c.run_id = $1 AND c.client_id = $2`, id, client).Scan(&job, &state)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(states, state) {
				a := call(t, noRedirect, "POST", base+"/riverui/api/jobs/cancel", bearer, fmt.Sprintf(`{"ids": ["%d"]}`, job))
				if a.status != http.StatusOK {
					t.Fatalf("cancel job %d: %d %s", job, a.status, a.body)
				}
				return state
			}
			if time.Now().After(deadline) {
				t.Fatalf("client %s's job never was %v (it is %s)", client, states, state)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("cancelled while %s and while %s", cancel(e.Clients[0], "running"), cancel(e.Clients[1], "scheduled", "available"))
	r := waitRun(t, base, id, time.Minute)
	if r.State != "interrupted" || r.FinishedAt == nil {
		t.Fatalf("run: %+v, want interrupted", r)
	}
	for _, c := range r.Clients {
		want := service.StateInterrupted
		if c.ClientID == e.Clients[2] {
			want = service.StateDone
		} else if !strings.Contains(c.Error, "cancelled") {
			t.Errorf("client %s: error %q, want it to say its job was cancelled", c.Name, c.Error)
		}
		if c.State != want {
			t.Errorf("client %s: %s, want %s", c.Name, c.State, want)
		}
	}
	rows, err := e.Pool.Query(ctx, `SELECT DISTINCT client_id::text FROM campaign_summaries`)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0] != e.Clients[2] {
		t.Errorf("clients loaded: %v, want only %s", loaded, e.Clients[2])
	}
	var finished bool
	_ = e.Pool.QueryRow(ctx, `SELECT finished_at IS NOT NULL FROM service_runs WHERE id = $1`, id).Scan(&finished)
	if !finished {
		t.Error("service_runs.finished_at is not set")
	}
	if a := post(t, base, body); a.status != http.StatusAccepted {
		t.Errorf("the same request after the interrupted run: %d %s", a.status, a.body)
	}
}

// While the database does not answer, the API says so with 503 and Retry-After, and names no
// host, user or database (the log has the details); once it answers again, so does the API.
func TestDatabaseDownIs503WithoutDetails(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	base := e.serve(t, e.open(t, "api", 0))
	cfg, err := pgx.ParseConfig(e.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	restore := pgtest.RefuseConnections(t, e.DBURL)
	for _, a := range []answer{
		post(t, base, `{"weeks": 3}`),
		call(t, noRedirect, http.MethodGet, base+"/v1/runs", bearer, ""),
		call(t, noRedirect, http.MethodGet, base+"/v1/runs/20261129T120000Z-abcdef", bearer, ""),
		call(t, noRedirect, http.MethodGet, base+"/runs", bearer, ""),
	} {
		body := string(a.body)
		if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" || !strings.Contains(body, "does not answer") {
			t.Errorf("database down: %d %q, want 503 with Retry-After (log: %s)", a.status, body, e.logs.String())
		}
		for _, secret := range []string{cfg.Database, "127.0.0.1", "postgres", "migrate"} {
			if strings.Contains(body, secret) {
				t.Errorf("answer %q names %q", body, secret)
			}
		}
	}
	restore()
	if a := post(t, base, `{"weeks": 3}`); a.status != http.StatusAccepted {
		t.Errorf("database back: %d %s, want 202", a.status, a.body)
	}
}
