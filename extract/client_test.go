package extract

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

const secret = "EAAB-very-secret-token-123"

func TestClassify(t *testing.T) {
	cases := []struct {
		body string
		want Class
	}{
		{`{"error":{"code":2601,"error_subcode":1815107,"is_transient":true}}`, ClassNotReady},
		{`{"error":{"code":100,"error_subcode":1487534,"message":"Please reduce the amount of data"}}`, ClassTooLarge},
		{`{"error":{"code":1,"message":"Please reduce the amount of data you're asking for, then retry your request"}}`, ClassTooLarge},
		{`{"error":{"code":2,"error_subcode":1504038}}`, ClassTooLarge},
		{`{"error":{"code":2,"error_subcode":1504041}}`, ClassFatal},
		{`{"error":{"code":80004,"error_subcode":2446079}}`, ClassThrottled},
		{`{"error":{"code":17,"error_subcode":2446079}}`, ClassThrottled},
		{`{"error":{"code":613}}`, ClassThrottled},
		{`{"error":{"code":190,"error_subcode":463}}`, ClassAuth},
		{`{"error":{"code":200}}`, ClassAuth},
		{`{"error":{"code":10}}`, ClassAuth},
		{`{"error":{"code":100,"message":"Invalid parameter"}}`, ClassFatal},
		{`{"error":{"code":3018}}`, ClassFatal},
		{`{"error":{"code":1,"message":"An unknown error occurred"}}`, ClassTransient},
		{`{"error":{"code":2,"is_transient":true}}`, ClassTransient},
		{`{"error":{"code":"2","error_subcode":"1504038"}}`, ClassTooLarge}, // codes as strings: tolerated
	}
	for _, tc := range cases {
		ge := parseGraphError(400, []byte(tc.body))
		if ge == nil {
			t.Errorf("%s: not parsed", tc.body)
			continue
		}
		if got := ge.Class(); got != tc.want {
			t.Errorf("%s: class %s, want %s", tc.body, got, tc.want)
		}
	}
	if ge := parseGraphError(500, []byte(`{"error":{"code":1}}`)); ge.Class() != ClassTransient {
		t.Error("HTTP 500 code 1 is transient")
	}
	if parseGraphError(200, []byte(`{"data":[]}`)) != nil {
		t.Error("a data body parsed as an error")
	}
}

func TestScrub(t *testing.T) {
	tok := NewToken(secret)
	s := Scrub("GET https://graph.facebook.com/v25.0/1/insights?access_token="+secret+"&appsecret_proof=abc&limit=5 said "+secret, tok)
	if strings.Contains(s, secret) || strings.Contains(s, "abc") {
		t.Errorf("scrubbed: %s", s)
	}
	if fmt.Sprint(tok) != "[redacted]" || fmt.Sprintf("%#v", tok) == secret || fmt.Sprintf("%+v", struct{ T Token }{tok}) != "{T:[redacted]}" {
		t.Errorf("token prints as %v / %#v", tok, tok)
	}
}

// A server that answers with the given bodies in turn.
func scripted(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) (*Session, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(answers) {
			i = len(answers) - 1
		}
		answers[i](w, r)
	}))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, "v25.0", "")
	c.Retry = RetryConfig{Base: time.Millisecond, Cap: 5 * time.Millisecond, MaxAttempts: 3, Timeout: 2 * time.Second}
	return c.Session("act_1", NewToken(secret), NewThrottle(ThrottleConfig{Cooldown: 5 * time.Millisecond, RegainUnit: time.Millisecond})), &n
}

func body(status int, ct, s string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		fmt.Fprint(w, s)
	}
}

func TestBadResponses(t *testing.T) {
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request)
	}{
		{"HTML error page from a proxy", body(502, "text/html", "<html><body>Bad Gateway</body></html>")},
		{"malformed JSON", body(200, "application/json", `{"data":[{"spend":"1"`)},
		{"truncated body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			fmt.Fprint(w, `{"data":[`)
		}},
		{"echoes the token", body(503, "text/plain", "upstream said access_token="+secret)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, n := scripted(t, tc.answer)
			var out insightsPage
			err := s.call(context.Background(), CallResults, http.MethodGet, "1/insights", nil, &out)
			if err == nil {
				t.Fatal("no error")
			}
			if ClassOf(err) != ClassTransient {
				t.Errorf("class %s, want transient (retried)", ClassOf(err))
			}
			if n.Load() != 3 {
				t.Errorf("%d attempts, want 3", n.Load())
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
	t.Run("recovers after transient failures", func(t *testing.T) {
		s, n := scripted(t, body(500, "application/json", `{"error":{"code":2,"is_transient":true}}`), body(200, "application/json", `{"data":[]}`))
		var out insightsPage
		if err := s.call(context.Background(), CallResults, http.MethodGet, "1/insights", nil, &out); err != nil {
			t.Fatal(err)
		}
		if n.Load() != 2 || s.Stats.Retries.Load() != 1 {
			t.Errorf("%d attempts, %d retries", n.Load(), s.Stats.Retries.Load())
		}
	})
	t.Run("fatal is not retried", func(t *testing.T) {
		s, n := scripted(t, body(400, "application/json", `{"error":{"code":100,"message":"(#100) Invalid parameter"}}`))
		var out insightsPage
		err := s.call(context.Background(), CallResults, http.MethodGet, "1/insights", nil, &out)
		var ge *GraphError
		if !errors.As(err, &ge) || ge.Code != 100 || n.Load() != 1 {
			t.Errorf("err %v after %d attempts", err, n.Load())
		}
	})
}

// The token travels in the form body of a POST and in a header on a GET, never in a URL; a
// paging link carrying it loses it; appsecret_proof is added when a secret is set.
func TestTokenTransport(t *testing.T) {
	var urls []string
	var auth, form []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		urls = append(urls, r.URL.String())
		auth = append(auth, r.Header.Get("Authorization"))
		_ = r.ParseForm()
		form = append(form, r.PostForm.Get("access_token")+"|"+r.Form.Get("appsecret_proof"))
		if r.Method == http.MethodPost {
			fmt.Fprint(w, `{"report_run_id":"42"}`)
			return
		}
		fmt.Fprintf(w, `{"data":[],"paging":{"next":"http://%s/v25.0/42/insights?access_token=%s&after=X"}}`, r.Host, secret)
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "v25.0", "app-secret")
	s := c.Session("1", NewToken(secret), nil)
	var sub struct {
		ReportRunID string `json:"report_run_id"`
	}
	if err := s.call(context.Background(), CallSubmit, http.MethodPost, "act_1/insights", nil, &sub); err != nil {
		t.Fatal(err)
	}
	var pg insightsPage
	if err := s.call(context.Background(), CallResults, http.MethodGet, "42/insights", nil, &pg); err != nil {
		t.Fatal(err)
	}
	if err := s.call(context.Background(), CallResults, http.MethodGet, pg.Paging.Next, nil, &pg); err != nil {
		t.Fatal(err)
	}
	for _, u := range urls {
		if strings.Contains(u, secret) {
			t.Errorf("token in URL %s", u)
		}
	}
	proof := appSecretProof("app-secret", NewToken(secret))
	if form[0] != secret+"|"+proof || auth[0] != "" {
		t.Errorf("POST: form %q, auth %q", form[0], auth[0])
	}
	if auth[1] != "OAuth "+secret || auth[2] != "OAuth "+secret || !strings.HasSuffix(form[1], proof) {
		t.Errorf("GET: auth %q %q, form %q", auth[1], auth[2], form[1])
	}
	if !strings.Contains(urls[2], "after=X") {
		t.Errorf("paging link not followed: %s", urls[2])
	}
}

func TestPagingLinkToAnotherHost(t *testing.T) {
	s, _ := scripted(t, body(200, "application/json", `{"data":[]}`))
	var pg insightsPage
	err := s.call(context.Background(), CallResults, http.MethodGet, "https://evil.example/v25.0/1/insights?access_token=x", nil, &pg)
	if err == nil || !errors.Is(err, ErrBadResponse) {
		t.Errorf("err = %v, want a refused link", err)
	}
}

func TestUsageHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("x-app-usage", `{"call_count":28,"total_time":25,"total_cputime":25}`)
	h.Set("x-ad-account-usage", `{"acc_id_util_pct":9.67,"reset_time_duration":100,"ads_api_access_tier":"standard_access"}`)
	h.Set("x-business-use-case-usage", `{"1015384826":[{"type":"ads_insights","call_count":97,"total_cputime":23,"total_time":23,"estimated_time_to_regain_access":3,"ads_api_access_tier":"standard_access"}]}`)
	h.Set("x-fb-ads-insights-throttle", `{"app_id_util_pct":40,"acc_id_util_pct":10}`)
	u, ok := ParseUsage(h, time.Minute)
	if !ok || u.Percent != 97 || u.Regain != 3*time.Minute || u.Reset != 100*time.Second || u.App != 40 || !u.HasApp {
		t.Errorf("usage %+v, want 97 %% at the fullest, 40 %% app-wide", u)
	}
	h1 := http.Header{}
	h1.Set("x-fb-ads-insights-throttle", `{"acc_id_util_pct":12}`)
	if u, ok := ParseUsage(h1, time.Minute); !ok || u.Percent != 12 || u.HasApp {
		t.Errorf("an account's usage alone: %+v, want no app-wide figure", u)
	}
	// Only what gates Insights calls: not x-app-usage (the Marketing API is excluded from the
	// Graph API's app limits), not x-ad-account-usage (ads API calls of v3.3 and older), not
	// x-business-use-case-usage entries of other types (Meta's example: ads_management at 95).
	h3 := http.Header{}
	h3.Set("x-app-usage", `{"call_count":100,"total_time":100,"total_cputime":100}`)
	h3.Set("x-ad-account-usage", `{"acc_id_util_pct":100}`)
	h3.Set("x-business-use-case-usage", `{"1":[{"type":"ads_management","call_count":95,"total_cputime":20,"total_time":20,"estimated_time_to_regain_access":9},`+
		`{"type":"custom_audience","call_count":99},{"type":"ads_insights","call_count":30,"total_cputime":12,"total_time":12,"estimated_time_to_regain_access":0}]}`)
	if u, ok := ParseUsage(h3, time.Minute); !ok || u.Percent != 30 || u.Regain != 0 || u.HasApp || u.Other != 100 {
		t.Errorf("usage %+v, want 30 %% (ads_insights only), no regain, no app-wide figure, 100 %% elsewhere", u)
	}
	h2 := http.Header{}
	h2.Set("x-app-usage", "not json")
	if _, ok := ParseUsage(h2, time.Minute); ok {
		t.Error("malformed header read as usage")
	}
}

// Above the submit threshold, new report runs wait; polls do not.
func TestThrottleHoldsSubmits(t *testing.T) {
	th := NewThrottle(ThrottleConfig{Cooldown: 40 * time.Millisecond, RegainUnit: time.Millisecond})
	h := http.Header{}
	h.Set("x-fb-ads-insights-throttle", `{"acc_id_util_pct":80}`)
	th.Observe(h)
	if w, _ := th.Wait(context.Background(), false); w != 0 {
		t.Errorf("a poll at 80 %% waited %s", w)
	}
	if w, _ := th.Wait(context.Background(), true); w < 40*time.Millisecond {
		t.Errorf("a submit at 80 %% waited %s, want the cooldown", w)
	}
	h.Set("x-fb-ads-insights-throttle", `{"acc_id_util_pct":99}`)
	th.Observe(h)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := th.Wait(ctx, false); !errors.Is(err, context.Canceled) {
		t.Errorf("wait is not cancellable: %v", err)
	}
}

// Results read before the job is done answer 2601: the reader waits and tries again.
func TestReadTooEarly(t *testing.T) {
	s, n := scripted(t,
		body(400, "application/json", `{"error":{"code":2601,"error_subcode":1815107,"is_transient":true}}`),
		body(400, "application/json", `{"error":{"code":2601,"error_subcode":1815107,"is_transient":true}}`),
		body(200, "application/json", `{"data":[{"spend":"1.00","impressions":"5","date_start":"2026-01-05","date_stop":"2026-01-11"}]}`))
	r := &reportRunner{s: s, spec: Specs[records.KindAccount], client: "Acme", poll: PollConfig{First: time.Millisecond}, pageSize: 500}
	rows, err := r.read(context.Background(), "42", testRange())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || n.Load() != 3 {
		t.Errorf("%d rows after %d requests", len(rows), n.Load())
	}
}

// A certificate that does not verify is not retried: no retry can fix it.
func TestCertificateErrorNotRetried(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	c := NewClient(srv.URL, "v25.0", "")
	c.Retry = RetryConfig{Base: time.Millisecond, MaxAttempts: 5}
	s := c.Session("1", NewToken(secret), nil)
	var out insightsPage
	err := s.call(context.Background(), CallPoll, http.MethodGet, "42", nil, &out)
	if err == nil || ClassOf(err) != ClassFatal || s.Stats.Requests.Load() != 1 || s.Stats.Retries.Load() != 0 {
		t.Errorf("err %v (class %s) after %d requests, %d retries; want fatal at once", err, ClassOf(err), s.Stats.Requests.Load(), s.Stats.Retries.Load())
	}
	if n.Load() != 0 {
		t.Errorf("the unverified server was reached %d times", n.Load())
	}
}

// A row error wrapped for the client says the client and report once.
func TestClientErrorNamesOnce(t *testing.T) {
	re := &RowError{Client: "Acme", Kind: records.KindCampaigns, Row: 3, Field: "spend", Value: "x", Reason: "not a decimal"}
	err := &ClientError{Client: "Acme", Kind: records.KindCampaigns, Err: fmt.Errorf("range 2026-01-05..2026-01-11: %w", re)}
	if got := err.Error(); strings.Count(got, "Acme") != 1 || strings.Count(got, "campaigns") != 1 || !strings.Contains(got, "row 3: field spend") {
		t.Errorf("error %q", got)
	}
}

// An attempt that outlives its own timeout (RetryConfig.Timeout) is transient: the same call is
// tried again and succeeds. The caller's own deadline is not retried.
func TestAttemptTimeout(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	t.Run("its own timeout: retried", func(t *testing.T) {
		s, n := scripted(t, hang, body(200, "application/json", `{"id":"42","async_status":"Job Running","async_percent_completion":10}`))
		s.c.Retry.Timeout = 50 * time.Millisecond
		var run adReportRun
		if err := s.call(context.Background(), CallPoll, http.MethodGet, "42", nil, &run); err != nil {
			t.Fatalf("err %v (class %s), want the second attempt's answer", err, ClassOf(err))
		}
		if n.Load() != 2 || s.Stats.Retries.Load() != 1 || run.Status != "Job Running" {
			t.Errorf("%d requests, %d retries, status %q; want 2, 1, Job Running", n.Load(), s.Stats.Retries.Load(), run.Status)
		}
	})
	t.Run("every attempt times out: gives up as transient", func(t *testing.T) {
		s, n := scripted(t, hang)
		s.c.Retry.Timeout = 20 * time.Millisecond
		var run adReportRun
		err := s.call(context.Background(), CallPoll, http.MethodGet, "42", nil, &run)
		if !errors.Is(err, ErrAttemptTimeout) || ClassOf(err) != ClassTransient || n.Load() != 3 {
			t.Errorf("err %v (class %s) after %d requests; want ErrAttemptTimeout, transient, 3 attempts", err, ClassOf(err), n.Load())
		}
	})
	t.Run("the caller's deadline: not retried", func(t *testing.T) {
		s, n := scripted(t, hang)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var run adReportRun
		err := s.call(ctx, CallPoll, http.MethodGet, "42", nil, &run)
		if !errors.Is(err, context.DeadlineExceeded) || ClassOf(err) != ClassFatal || n.Load() != 1 {
			t.Errorf("err %v (class %s) after %d requests; want the deadline, fatal, 1 attempt", err, ClassOf(err), n.Load())
		}
	})
	// A transport error that wraps the attempt's own deadline is a network error, not the caller's.
	if c := ClassOf(&netError{err: fmt.Errorf("read: %w", context.DeadlineExceeded)}); c != ClassTransient {
		t.Errorf("a network error wrapping a deadline: %s, want transient", c)
	}
}

// The classification table of docs/META_API.md, "Errors", for a report run's own endpoints
// (rules R1 and R2): what denies the run is "run lag" there and keeps its class elsewhere.
func TestClassifyOnRun(t *testing.T) {
	const unknown42 = `{"error":{"message":"Unsupported get request. Object with ID '42' does not exist, cannot be loaded due to missing permissions, or does not support this operation.","type":"GraphMethodException","code":100,"error_subcode":33,"is_transient":false}}`
	const missingField = `{"error":{"message":"(#100) Cannot include spend, impressions in summary param because they weren't there while creating the report run. All available values are: ","type":"OAuthException","code":100}}`
	cases := []struct {
		name      string
		body      string
		onRun     Class // on GET /42 or /42/insights
		elsewhere Class // on the submit (ClassOf)
	}{
		{"R1: 100/33 naming the run", unknown42, ClassRunLag, ClassFatal},
		{"R1: 100/33 naming another object", strings.ReplaceAll(unknown42, "'42'", "'act_7'"), ClassFatal, ClassFatal},
		{"R1: 100/33 naming no object", `{"error":{"message":"Unsupported get request.","code":100,"error_subcode":33}}`, ClassFatal, ClassFatal},
		{"R2: a field that wasn't there while creating the report run", missingField, ClassRunLag, ClassFatal},
		{"R2: the same in other words and case", `{"error":{"message":"(#100) Cannot include reach in summary param because it Wasn't There While Creating The Report Run.","code":100}}`, ClassRunLag, ClassFatal},
		{"100 with another message stays fatal", `{"error":{"message":"(#100) Invalid parameter","code":100}}`, ClassFatal, ClassFatal},
		{"2601 stays not ready", `{"error":{"code":2601,"error_subcode":1815107,"is_transient":true}}`, ClassNotReady, ClassNotReady},
		{"a throttle stays throttled", `{"error":{"code":80004,"error_subcode":2446079}}`, ClassThrottled, ClassThrottled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ge := parseGraphError(400, []byte(tc.body))
			if got := classOnRun(ge, "42"); got != tc.onRun {
				t.Errorf("on the run's endpoints: %s, want %s", got, tc.onRun)
			}
			if got := classOnRun(fmt.Errorf("poll report run 42: %w", ge), "42"); got != tc.onRun {
				t.Errorf("wrapped: %s, want %s", got, tc.onRun)
			}
			if got := ClassOf(ge); got != tc.elsewhere {
				t.Errorf("elsewhere: %s, want %s", got, tc.elsewhere)
			}
		})
	}
}

// An answer that denies the run is retried on the same request, not counted as an attempt, until
// the run is found; past RetryConfig.RunLag it is ErrRunUnknown.
func TestRunLag(t *testing.T) {
	const unknown = `{"error":{"message":"Unsupported get request. Object with ID '42' does not exist, cannot be loaded due to missing permissions, or does not support this operation.","type":"GraphMethodException","code":100,"error_subcode":33,"is_transient":false}}`
	running := body(200, "application/json", `{"id":"42","async_status":"Job Running","async_percent_completion":40}`)
	t.Run("cleared: retried on the same request", func(t *testing.T) {
		var n atomic.Int64
		lagging := func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			if r.URL.Path != "/v25.0/42" {
				t.Errorf("request for %s, want the same poll", r.URL.Path)
			}
			body(400, "application/json", unknown)(w, r)
		}
		// Four denials: more than the three attempts a transient error gets.
		s, total := scripted(t, lagging, lagging, lagging, lagging, running)
		var run adReportRun
		if err := s.callRun(context.Background(), CallPoll, "42", "42", nil, &run); err != nil {
			t.Fatalf("err %v, want the run once Meta finds it", err)
		}
		if total.Load() != 5 || n.Load() != 4 || s.Stats.Lagged.Load() != 4 || s.Stats.Retries.Load() != 0 || run.Status != "Job Running" {
			t.Errorf("%d requests, %d lagged, %d retries, status %q; want 5, 4, 0, Job Running", total.Load(), s.Stats.Lagged.Load(), s.Stats.Retries.Load(), run.Status)
		}
	})
	t.Run("past the bound: unknown", func(t *testing.T) {
		s, n := scripted(t, body(400, "application/json", unknown))
		s.c.Retry.RunLag = 40 * time.Millisecond
		var run adReportRun
		err := s.callRun(context.Background(), CallPoll, "42", "42", nil, &run)
		var ge *GraphError
		if !errors.Is(err, ErrRunUnknown) || !errors.As(err, &ge) || ge.Subcode != 33 || n.Load() < 3 {
			t.Errorf("err %v after %d requests; want ErrRunUnknown wrapping 100/33 after several", err, n.Load())
		}
	})
	t.Run("another object: fatal at once", func(t *testing.T) {
		s, n := scripted(t, body(400, "application/json", strings.ReplaceAll(unknown, "'42'", "'43'")))
		var run adReportRun
		err := s.callRun(context.Background(), CallPoll, "42", "42", nil, &run)
		if err == nil || errors.Is(err, ErrRunUnknown) || ClassOf(err) != ClassFatal || n.Load() != 1 {
			t.Errorf("err %v after %d requests; want fatal at once", err, n.Load())
		}
	})
	t.Run("the submit: fatal at once", func(t *testing.T) {
		s, n := scripted(t, body(400, "application/json", unknown))
		var out struct{}
		err := s.call(context.Background(), CallSubmit, http.MethodPost, "act_1/insights", nil, &out)
		if err == nil || ClassOf(err) != ClassFatal || n.Load() != 1 || s.Stats.Lagged.Load() != 0 {
			t.Errorf("err %v after %d requests; want fatal at once", err, n.Load())
		}
	})
}

// A figure that stays high while Meta answers normally (Airbyte: acc_id_util_pct at 100 with
// capacity back): one cooldown, then one call per Pace, not a cooldown before every call; a
// throttled answer, or a reading below the thresholds, ends the pacing.
func TestThrottlePacesAStuckFigure(t *testing.T) {
	th := NewThrottle(ThrottleConfig{Cooldown: time.Hour, Pace: 2 * time.Millisecond, RegainUnit: time.Millisecond, MaxInline: time.Minute})
	high := http.Header{}
	high.Set("x-fb-ads-insights-throttle", `{"acc_id_util_pct":100}`)
	th.Observe(high)
	if _, err := th.Wait(context.Background(), false); err == nil {
		t.Fatal("the first call at 100 % did not wait the cooldown")
	}
	th.mu.Lock()
	th.until = time.Time{} // the cooldown served
	th.mu.Unlock()
	th.Observe(high) // Meta answers, still at 100 %: headers read, the body not yet
	// A call waiting while that answer's body is read (headers come first; under load this
	// took long enough for most kinds to cool down again) is paced, not cooled down again.
	if _, err := th.Wait(context.Background(), false); err != nil {
		t.Fatalf("a call between an answer's headers and its end cooled down again: %v", err)
	}
	th.answered()
	var waited time.Duration
	for range 5 {
		w, err := th.Wait(context.Background(), true)
		if err != nil {
			t.Fatalf("a paced call: %v", err)
		}
		waited += w
		th.Observe(high)
		th.answered()
	}
	if waited > time.Second {
		t.Errorf("five paced calls waited %s", waited)
	}
	th.hold(time.Millisecond, "throttled") // a throttled answer: back to cooling down
	time.Sleep(2 * time.Millisecond)
	th.Observe(high)
	if _, err := th.Wait(context.Background(), false); err == nil {
		t.Error("after a throttled answer, a call at 100 % did not cool down")
	}
}
