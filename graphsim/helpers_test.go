package graphsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is a Sunday; the week 2026-11-23 .. 2026-11-29 is complete.
var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	sim   *Simulator
	srv   *httptest.Server
	clock *clock
	acct  Account
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	c := &clock{t: testNow}
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	if cfg.JobDuration == 0 {
		cfg.JobDuration = 10 * time.Second
	}
	s := New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{t: t, sim: s, srv: srv, clock: c, acct: s.Accounts()[0]}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorBody is Meta's error envelope.
type errorBody struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		Transient bool   `json:"is_transient"`
		Trace     string `json:"fbtrace_id"`
	} `json:"error"`
}

func (a answer) err(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("error body %q: %v", a.body, err)
	}
	return e
}

// do sends a request; params go in the form body for POST and the query for GET. The demo
// token is added unless params or headers carry a token already or noToken is set.
func (e *env) do(method, path string, params url.Values, header http.Header) answer {
	e.t.Helper()
	params = cloneValues(params) // callers may share params between goroutines
	if params.Get("access_token") == "" && header.Get("Authorization") == "" && params.Get("_notoken") == "" {
		params.Set("access_token", DemoToken)
	}
	params.Del("_notoken")
	u := e.srv.URL + path
	var body io.Reader
	if method == http.MethodGet {
		if len(params) > 0 {
			u += "?" + params.Encode()
		}
	} else {
		body = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) answer {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

func (e *env) get(rawURL string) answer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.send(req)
}

// spec builds report parameters.
func spec(level, fields, breakdowns, since, until, incr string) url.Values {
	v := url.Values{"level": {level}, "fields": {fields},
		"time_range": {`{"since":"` + since + `","until":"` + until + `"}`}}
	if breakdowns != "" {
		v.Set("breakdowns", breakdowns)
	}
	if incr != "" {
		v.Set("time_increment", incr)
	}
	return v
}

// submit posts a report run and returns its id.
func (e *env) submit(acct string, params url.Values) string {
	e.t.Helper()
	a := e.do(http.MethodPost, "/v25.0/act_"+acct+"/insights", params, nil)
	if a.status != 200 {
		e.t.Fatalf("submit: %d %s", a.status, a.body)
	}
	var r struct {
		ID json.RawMessage `json:"report_run_id"` // a string, or a number as in one of Meta's examples
	}
	if err := json.Unmarshal(a.body, &r); err != nil || len(r.ID) == 0 {
		e.t.Fatalf("submit answer %s: %v", a.body, err)
	}
	return strings.Trim(string(r.ID), `"`)
}

type runStatus struct {
	ID           string `json:"id"`
	AccountID    string `json:"account_id"`
	Status       string `json:"async_status"`
	Percent      int    `json:"async_percent_completion"`
	ErrorCode    int    `json:"error_code"`
	ErrorSubcode int    `json:"error_subcode"`
	ErrorMessage string `json:"error_message"`
}

func (e *env) poll(id string) runStatus {
	e.t.Helper()
	a := e.do(http.MethodGet, "/v25.0/"+id, nil, nil)
	if a.status != 200 {
		e.t.Fatalf("poll: %d %s", a.status, a.body)
	}
	var s runStatus
	if err := json.Unmarshal(a.body, &s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

type page struct {
	Data   []map[string]any `json:"data"`
	Paging *struct {
		Cursors struct{ Before, After string } `json:"cursors"`
		Next    string                         `json:"next"`
	} `json:"paging"`
}

func decodePage(t *testing.T, b []byte) page {
	t.Helper()
	var p page
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&p); err != nil {
		t.Fatalf("page %q: %v", b, err)
	}
	return p
}

// rows follows every page of a completed run (or a synchronous first page URL).
func (e *env) rows(firstURL string) []map[string]any {
	e.t.Helper()
	var all []map[string]any
	for u := firstURL; u != ""; {
		a := e.get(u)
		if a.status != 200 {
			e.t.Fatalf("page %s: %d %s", u, a.status, a.body)
		}
		p := decodePage(e.t, a.body)
		all = append(all, p.Data...)
		u = ""
		if p.Paging != nil {
			u = p.Paging.Next
		}
	}
	return all
}

// report submits, completes (by advancing the clock) and reads a whole report.
func (e *env) report(acct string, params url.Values) []map[string]any {
	e.t.Helper()
	id := e.submit(acct, params)
	e.clock.Advance(e.sim.cfg.JobDuration * 2)
	if st := e.poll(id); st.Status != StatusCompleted {
		e.t.Fatalf("run %s: %+v", id, st)
	}
	return e.rows(e.srv.URL + "/v25.0/" + id + "/insights?limit=500&access_token=" + DemoToken)
}

func num(t *testing.T, row map[string]any, key string) int64 {
	t.Helper()
	s, ok := row[key].(string)
	if !ok {
		t.Fatalf("%s is %T in %v", key, row[key], row)
	}
	var n, frac int64
	seenDot := false
	for _, r := range s {
		switch {
		case r == '.':
			seenDot = true
		case r >= '0' && r <= '9':
			n = n*10 + int64(r-'0')
			if seenDot {
				frac++
			}
		default:
			t.Fatalf("%s = %q is not a number", key, s)
		}
	}
	if key == "spend" {
		// Money as Meta sends it: at most two decimals, no trailing zero ("5339.5", "0").
		if frac > 2 || frac > 0 && strings.HasSuffix(s, "0") || strings.HasSuffix(s, ".") {
			t.Fatalf("spend %q is not money as Meta sends it", s)
		}
		for ; frac < 2; frac++ {
			n *= 10
		}
	}
	return n
}

func str(row map[string]any, key string) string { s, _ := row[key].(string); return s }

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
