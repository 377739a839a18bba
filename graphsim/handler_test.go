package graphsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const allFields = "account_id,account_name,campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name," +
	"spend,impressions,clicks,reach,frequency,ctr,cpc,cpm,actions,quality_ranking,engagement_rate_ranking,conversion_rate_ranking"

// Every value in a data row is a JSON string, or a list of {"action_type","value"} strings.
func TestEveryNumberIsAString(t *testing.T) {
	e := newEnv(t, Config{})
	for _, level := range []string{"account", "campaign", "adset", "ad"} {
		for _, bd := range []string{"", "age,gender", "publisher_platform,platform_position"} {
			rows := e.report(e.acct.ID, spec(level, allFields, bd, "2026-11-02", "2026-11-29", "7"))
			if len(rows) == 0 {
				t.Fatalf("%s %q: no rows", level, bd)
			}
			for _, r := range rows {
				for k, v := range r {
					switch v := v.(type) {
					case string:
					case []any:
						if k != "actions" {
							t.Fatalf("%s is a list", k)
						}
						for _, a := range v {
							m := a.(map[string]any)
							if _, ok := m["value"].(string); !ok {
								t.Fatalf("action value %v", m)
							}
						}
					default:
						t.Fatalf("%s %q: %s is %T", level, bd, k, v)
					}
				}
				if num(t, r, "impressions") == 0 {
					t.Fatalf("row without delivery: %v", r)
				}
				_, hasRank := r["quality_ranking"]
				_, hasAd := r["ad_id"]
				_, hasCampaign := r["campaign_id"]
				if hasRank != (level == "ad") || hasAd != (level == "ad") || hasCampaign != (level != "account") {
					t.Fatalf("level %s row keys %v", level, r)
				}
				if bd == "age,gender" && (str(r, "age") == "" || str(r, "gender") == "") {
					t.Fatalf("breakdown keys missing: %v", r)
				}
			}
		}
	}
}

func TestRawJSONShape(t *testing.T) {
	e := newEnv(t, Config{})
	p := spec("campaign", "campaign_name,spend,frequency", "", "2025-11-24", "2026-11-29", "7")
	a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", p, nil)
	body := string(a.body)
	for _, want := range []string{`"spend":"`, `"frequency":"`, `http:\/\/`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s: %.300s", want, body)
		}
	}
	if strings.ContainsAny(body, "ÉéñÜü夏🚀") {
		t.Error("non-ASCII must be escaped as \\uXXXX")
	}
}

func TestPaging(t *testing.T) {
	e := newEnv(t, Config{MaxPageSize: 40})
	id := e.submit(e.acct.ID, spec("ad", "ad_id,spend,impressions", "age,gender", "2026-10-05", "2026-11-29", "7"))
	e.clock.Advance(time.Minute)
	all := e.rows(e.srv.URL + "/v25.0/" + id + "/insights?limit=40&access_token=" + DemoToken)
	if len(all) < 100 {
		t.Fatalf("only %d rows", len(all))
	}
	key := func(r map[string]any) string {
		return str(r, "date_start") + str(r, "ad_id") + str(r, "age") + str(r, "gender")
	}
	tests := []struct {
		name      string
		limit     string
		header    bool // token in the Authorization header instead of the query
		wantPage  int
		wantToken bool
	}{
		{"limit 1", "1", false, 1, true},
		{"limit 7", "7", false, 7, true},
		{"default 25", "", false, 25, true},
		{"capped", "5000", false, 40, true},
		{"header token", "13", true, 13, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			if tt.limit != "" {
				q.Set("limit", tt.limit)
			}
			h := http.Header{}
			if tt.header {
				h.Set("Authorization", "Bearer "+DemoToken)
			} else {
				q.Set("access_token", DemoToken)
			}
			seen := map[string]bool{}
			var order []string
			u := e.srv.URL + "/v25.0/" + id + "/insights?" + q.Encode()
			for pages := 0; u != ""; pages++ {
				req, _ := http.NewRequest(http.MethodGet, u, nil)
				req.Header = h
				a := e.send(req)
				if a.status != 200 {
					t.Fatalf("%d %s", a.status, a.body)
				}
				p := decodePage(t, a.body)
				if len(p.Data) != tt.wantPage && (p.Paging == nil || p.Paging.Next != "") {
					t.Fatalf("page %d has %d rows, want %d", pages, len(p.Data), tt.wantPage)
				}
				for _, r := range p.Data {
					k := key(r)
					if seen[k] {
						t.Fatalf("row %s twice", k)
					}
					seen[k] = true
					order = append(order, k)
				}
				u = p.Paging.Next
				if u != "" {
					if strings.Contains(u, "access_token=") != tt.wantToken {
						t.Fatalf("next %s: access_token present should be %v", u, tt.wantToken)
					}
					if !strings.HasPrefix(u, e.srv.URL+"/v25.0/"+id+"/insights?") || !strings.Contains(u, "after="+p.Paging.Cursors.After) {
						t.Fatalf("next %s", u)
					}
				}
			}
			if len(order) != len(all) {
				t.Fatalf("%d rows, want %d", len(order), len(all))
			}
			for i := range order {
				if order[i] != key(all[i]) {
					t.Fatalf("row %d is %s, want %s", i, order[i], key(all[i]))
				}
			}
		})
	}

	// Rows are sorted by date_start, then ad id, then breakdown order.
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if str(a, "date_start") > str(b, "date_start") ||
			str(a, "date_start") == str(b, "date_start") && str(a, "ad_id") > str(b, "ad_id") {
			t.Fatalf("rows %d and %d out of order: %v %v", i-1, i, a, b)
		}
	}

	// An empty result, and a bad cursor.
	empty := e.submit(e.acct.ID, spec("account", "spend", "", "2026-12-01", "2026-12-31", "7"))
	e.clock.Advance(time.Minute)
	a := e.do(http.MethodGet, "/v25.0/"+empty+"/insights", nil, nil)
	if a.status != 200 || string(a.body) != `{"data":[]}` {
		t.Fatalf("empty result: %d %s", a.status, a.body)
	}
	a = e.do(http.MethodGet, "/v25.0/"+id+"/insights", url.Values{"after": {"bm9wZQ"}}, nil)
	if a.status != 400 || a.err(t).Error.Code != 100 {
		t.Fatalf("bad cursor: %d %s", a.status, a.body)
	}
}

func TestJobProgression(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		steps  []time.Duration // clock advances before each poll
		want   []string
		pct    []int
	}{
		{"normal", Faults{}, []time.Duration{0, 1500 * time.Millisecond, time.Second, 5 * time.Second, 3 * time.Second},
			[]string{StatusNotStarted, StatusStarted, StatusRunning, StatusRunning, StatusCompleted}, []int{0, 15, 25, 75, 100}},
		{"running at 100", Faults{RunningAt100: true}, []time.Duration{5 * time.Second, 5 * time.Second, 4 * time.Second, time.Second},
			[]string{StatusRunning, StatusRunning, StatusRunning, StatusCompleted}, []int{50, 100, 100, 100}},
		{"failed", Faults{FailJobs: 1}, []time.Duration{3 * time.Second, 2 * time.Second, time.Hour},
			[]string{StatusRunning, StatusFailed, StatusFailed}, []int{30, 50, 50}},
		{"stuck at 100", Faults{StuckJobs: 1}, []time.Duration{5 * time.Second, 5 * time.Second, time.Hour},
			[]string{StatusRunning, StatusRunning, StatusRunning}, []int{50, 100, 100}},
		{"slow account: 45 s, steadily", Faults{JobDuration: 45 * time.Second}, []time.Duration{2 * time.Second, 4 * time.Second, 9 * time.Second, 15 * time.Second, 10 * time.Second, 5 * time.Second},
			[]string{StatusNotStarted, StatusStarted, StatusRunning, StatusRunning, StatusRunning, StatusCompleted}, []int{0, 13, 33, 66, 88, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{JobDuration: 10 * time.Second})
			e.sim.SetFaults(e.acct.ID, tt.faults)
			id := e.submit(e.acct.ID, spec("account", "spend", "", "2026-11-02", "2026-11-29", "7"))
			for i, d := range tt.steps {
				e.clock.Advance(d)
				st := e.poll(id)
				if st.Status != tt.want[i] || st.Percent != tt.pct[i] || st.ID != id || st.AccountID != e.acct.ID {
					t.Fatalf("step %d: %+v, want %s %d%%", i, st, tt.want[i], tt.pct[i])
				}
				a := e.do(http.MethodGet, "/v25.0/"+id+"/insights", nil, nil)
				if st.Status == StatusCompleted {
					if a.status != 200 {
						t.Fatalf("results after completion: %d %s", a.status, a.body)
					}
					continue
				}
				er := a.err(t).Error
				if a.status != 400 || er.Code != 2601 || er.Subcode != 1815107 || !er.Transient || er.Type != "OAuthException" || er.Trace == "" {
					t.Fatalf("results before completion: %d %s", a.status, a.body)
				}
				if st.Status == StatusFailed && (st.ErrorCode != 1 || st.ErrorSubcode != 99 || st.ErrorMessage == "") {
					t.Fatalf("failed run without error fields: %+v", st)
				}
			}
		})
	}
}

func TestStuckBelow100(t *testing.T) {
	e := newEnv(t, Config{JobDuration: 10 * time.Second})
	e.sim.SetFaults(e.acct.ID, Faults{StuckJobs: 2})
	p := spec("account", "spend", "", "2026-11-02", "2026-11-29", "7")
	first, second, third := e.submit(e.acct.ID, p), e.submit(e.acct.ID, p), e.submit(e.acct.ID, p)
	e.clock.Advance(24 * time.Hour)
	if st := e.poll(first); st.Status != StatusRunning || st.Percent != 100 {
		t.Errorf("first: %+v", st)
	}
	if st := e.poll(second); st.Status != StatusRunning || st.Percent >= 100 || st.Percent < 20 {
		t.Errorf("second: %+v", st)
	}
	if st := e.poll(third); st.Status != StatusCompleted {
		t.Errorf("third: %+v", st)
	}
}

func TestFaults(t *testing.T) {
	p := func() url.Values { return spec("account", "spend", "", "2026-11-02", "2026-11-29", "7") }
	t.Run("fail every job", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{FailJobs: -1, FailCode: 2, FailSubcode: 1504038, FailMessage: "too much"})
		ids := []string{e.submit(e.acct.ID, p()), e.submit(e.acct.ID, p()), e.submit(e.acct.ID, p())}
		other := e.submit(e.sim.Accounts()[1].ID, p())
		e.clock.Advance(time.Hour)
		for _, id := range ids {
			if st := e.poll(id); st.Status != StatusFailed || st.ErrorCode != 2 || st.ErrorSubcode != 1504038 || st.ErrorMessage != "too much" {
				t.Errorf("%+v", st)
			}
		}
		if st := e.poll(other); st.Status != StatusCompleted {
			t.Errorf("other account: %+v", st)
		}
	})
	t.Run("fail the first two", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{FailJobs: 2})
		ids := []string{e.submit(e.acct.ID, p()), e.submit(e.acct.ID, p()), e.submit(e.acct.ID, p())}
		e.clock.Advance(time.Hour)
		for i, want := range []string{StatusFailed, StatusFailed, StatusCompleted} {
			if st := e.poll(ids[i]); st.Status != want {
				t.Errorf("run %d: %+v, want %s", i, st, want)
			}
		}
	})
	for _, code := range []int{0, 17, 613} {
		t.Run("throttle "+map[int]string{0: "80000", 17: "17", 613: "613"}[code], func(t *testing.T) {
			e := newEnv(t, Config{})
			e.sim.SetFaults(e.acct.ID, Faults{ThrottleEvery: 3, ThrottleCode: code, RegainMinutes: 7})
			wantCode := code
			if code == 0 {
				wantCode = 80000
			}
			for i := 1; i <= 9; i++ {
				a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", p(), nil)
				if i%3 != 0 {
					if a.status != 200 {
						t.Fatalf("request %d: %d %s", i, a.status, a.body)
					}
					continue
				}
				er := a.err(t).Error
				if a.status != 400 || er.Code != wantCode || er.Subcode != 2446079 || er.Transient {
					t.Fatalf("request %d: %d %s", i, a.status, a.body)
				}
				buc := parseBUC(t, a.header, e.acct.ID)
				if buc.Regain != 7 || buc.CallCount != 100 {
					t.Fatalf("usage header %+v", buc)
				}
			}
			if c := e.sim.Counters(); c.Throttled != 3 || c.ByAccount[e.acct.ID].Throttled != 3 {
				t.Fatalf("counters %+v", c)
			}
		})
	}
	t.Run("server errors", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{ServerErrorEvery: 2})
		for i := 1; i <= 4; i++ {
			a := e.do(http.MethodPost, "/v25.0/act_"+e.acct.ID+"/insights", p(), nil)
			if i%2 == 1 {
				if a.status != 200 {
					t.Fatalf("request %d: %d", i, a.status)
				}
				continue
			}
			er := a.err(t).Error
			if a.status != 500 || er.Code != 2 || !er.Transient {
				t.Fatalf("request %d: %d %s", i, a.status, a.body)
			}
		}
		if c := e.sim.Counters(); c.ServerErrors != 2 || c.ByAccount[e.acct.ID].ReportRuns != 2 {
			t.Fatalf("counters %+v", c)
		}
	})
	t.Run("too large", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{TooLargeOverWeeks: 4})
		a := e.do(http.MethodPost, "/v25.0/act_"+e.acct.ID+"/insights", spec("account", "spend", "", "2026-10-26", "2026-11-29", "7"), nil)
		er := a.err(t).Error
		if a.status != 400 || er.Code != 100 || er.Subcode != 1487534 || !strings.Contains(er.Message, "reduce the amount of data") {
			t.Fatalf("%d %s", a.status, a.body)
		}
		e.submit(e.acct.ID, spec("account", "spend", "", "2026-11-02", "2026-11-29", "7"))
	})
	t.Run("reset mid-body", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{ResetEvery: 2})
		id := e.submit(e.acct.ID, spec("campaign", "campaign_id,spend", "", "2026-06-01", "2026-11-29", "7"))
		e.clock.Advance(time.Minute)
		u := e.srv.URL + "/v25.0/" + id + "/insights?limit=5&access_token=" + DemoToken
		getResetEveryOther(t, u)
		if c := e.sim.Counters(); c.Resets != 2 || c.ByAccount[e.acct.ID].Pages != 2 || c.ByAccount[e.acct.ID].Rows != 10 {
			t.Fatalf("counters %+v", c)
		}
	})
	t.Run("revision", func(t *testing.T) {
		e := newEnv(t, Config{})
		q := spec("account", "spend,impressions,actions", "", "2026-09-28", "2026-11-29", "7")
		before := e.report(e.acct.ID, q)
		e.sim.SetFaults(e.acct.ID, Faults{Revision: 1})
		after := e.report(e.acct.ID, q)
		if len(before) != len(after) {
			t.Fatalf("%d rows before, %d after", len(before), len(after))
		}
		cut := testNow.AddDate(0, 0, -28).Format(time.DateOnly)
		changed := 0
		for i := range before {
			same := num(t, before[i], "impressions") == num(t, after[i], "impressions")
			if str(before[i], "date_stop") <= cut && !same {
				t.Errorf("old week %s changed", str(before[i], "date_start"))
			}
			if !same {
				changed++
				if num(t, after[i], "spend") <= num(t, before[i], "spend") {
					t.Errorf("revised week %s: spend did not rise", str(before[i], "date_start"))
				}
			}
		}
		if changed < 4 {
			t.Errorf("%d weeks changed, want the last 4 or 5", changed)
		}
	})
}

type bucUsage struct {
	Type      string `json:"type"`
	CallCount int    `json:"call_count"`
	CPU       int    `json:"total_cputime"`
	Time      int    `json:"total_time"`
	Regain    int    `json:"estimated_time_to_regain_access"`
	Tier      string `json:"ads_api_access_tier"`
}

func parseBUC(t *testing.T, h http.Header, acct string) bucUsage {
	t.Helper()
	var m map[string][]bucUsage
	if err := json.Unmarshal([]byte(h.Get("x-business-use-case-usage")), &m); err != nil || len(m[acct]) != 1 {
		t.Fatalf("x-business-use-case-usage %q: %v", h.Get("x-business-use-case-usage"), err)
	}
	if m[acct][0].Type != "ads_insights" {
		t.Fatalf("usage type %q", m[acct][0].Type)
	}
	return m[acct][0]
}

func TestUsageHeaders(t *testing.T) {
	e := newEnv(t, Config{CallBudget: 20})
	var app struct{ CallCount, TotalCPUTime, TotalTime *int }
	var acc struct {
		Pct   *float64 `json:"acc_id_util_pct"`
		Reset *int     `json:"reset_time_duration"`
		Tier  string   `json:"ads_api_access_tier"`
	}
	var thr struct {
		App *int `json:"app_id_util_pct"`
		Acc *int `json:"acc_id_util_pct"`
	}
	last := -1
	for i := 1; i <= 25; i++ {
		a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", spec("account", "spend", "", "2026-11-23", "2026-11-29", ""), nil)
		for name, v := range map[string]any{"x-app-usage": &app, "x-ad-account-usage": &acc, "x-fb-ads-insights-throttle": &thr} {
			if err := json.Unmarshal([]byte(a.header.Get(name)), v); err != nil {
				t.Fatalf("%s %q: %v", name, a.header.Get(name), err)
			}
		}
		buc := parseBUC(t, a.header, e.acct.ID)
		if acc.Pct == nil || acc.Reset == nil || thr.Acc == nil || thr.App == nil || acc.Tier != "standard_access" {
			t.Fatalf("headers %v", a.header)
		}
		if buc.CallCount < last || buc.CallCount != *thr.Acc {
			t.Fatalf("request %d: call_count %d after %d, throttle header %d", i, buc.CallCount, last, *thr.Acc)
		}
		last = buc.CallCount
		if i == 2 && last > 20 {
			t.Fatalf("two calls already at %d %%", last)
		}
	}
	if last != 100 {
		t.Fatalf("25 calls against a budget of 20: %d %%", last)
	}
	// The window slides: a minute later the account is idle again.
	e.clock.Advance(2 * time.Minute)
	a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", spec("account", "spend", "", "2026-11-23", "2026-11-29", ""), nil)
	if buc := parseBUC(t, a.header, e.acct.ID); buc.CallCount > 5 {
		t.Fatalf("after the window: %+v", buc)
	}
}

func TestEnforceBudget(t *testing.T) {
	e := newEnv(t, Config{CallBudget: 5, EnforceBudget: true})
	for i := 1; i <= 6; i++ {
		a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", spec("account", "spend", "", "2026-11-23", "2026-11-29", ""), nil)
		if (i <= 5) != (a.status == 200) {
			t.Fatalf("request %d: %d %s", i, a.status, a.body)
		}
		if i == 6 && (a.err(t).Error.Code != 80000 || parseBUC(t, a.header, e.acct.ID).Regain != 1) {
			t.Fatalf("over budget: %s %v", a.body, a.header)
		}
	}
}

func TestAuth(t *testing.T) {
	secret := "s3cret"
	e := newEnv(t, Config{AppSecret: secret})
	own, other := e.sim.Accounts()[0], e.sim.Accounts()[1]
	proof := func(tok string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(tok))
		return hex.EncodeToString(m.Sum(nil))
	}
	id := e.submit(own.ID, spec("account", "spend", "", "2026-11-23", "2026-11-29", ""))
	tests := []struct {
		name        string
		path        string
		token       string // as access_token
		header      string // Authorization header
		proof       string
		wantStatus  int
		wantCode    int
		wantSubcode int
	}{
		{"no token", "/v25.0/act_" + own.ID + "/insights", "", "", "", 400, 190, 0},
		{"unknown token", "/v25.0/act_" + own.ID + "/insights", "nope", "", "", 400, 190, 0},
		{"expired token", "/v25.0/act_" + own.ID + "/insights", ExpiredToken, "", "", 400, 190, 463},
		{"account token, own account", "/v25.0/act_" + own.ID + "/insights", own.Token, "", "", 200, 0, 0},
		{"account token, other account", "/v25.0/act_" + other.ID + "/insights", own.Token, "", "", 400, 200, 0},
		{"account token, other account's run", "/v25.0/" + id, other.Token, "", "", 400, 200, 0},
		{"OAuth header", "/v25.0/" + id, "", "OAuth " + own.Token, "", 200, 0, 0},
		{"Bearer header", "/v25.0/" + id, "", "Bearer " + DemoToken, "", 200, 0, 0},
		{"good proof", "/v25.0/" + id, DemoToken, "", proof(DemoToken), 200, 0, 0},
		{"wrong proof", "/v25.0/" + id, DemoToken, "", proof("x"), 400, 100, 0},
		{"unknown account", "/v25.0/act_123/insights", DemoToken, "", "", 400, 100, 33},
		{"unknown run", "/v25.0/999", DemoToken, "", "", 400, 100, 33},
		{"bad version", "/latest/" + id, DemoToken, "", "", 400, 100, 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"_notoken": {"1"}}
			if tt.token != "" {
				q.Set("access_token", tt.token)
			}
			if tt.proof != "" {
				q.Set("appsecret_proof", tt.proof)
			}
			if strings.HasSuffix(tt.path, "/insights") {
				for k, v := range spec("account", "spend", "", "2026-11-23", "2026-11-29", "") {
					q[k] = v
				}
			}
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			a := e.do(http.MethodGet, tt.path, q, h)
			if a.status != tt.wantStatus {
				t.Fatalf("%d %s", a.status, a.body)
			}
			if tt.wantCode != 0 {
				er := a.err(t).Error
				wantType := "OAuthException"
				if tt.wantCode == 100 && tt.wantSubcode == 33 {
					wantType = "GraphMethodException" // as Meta types an unknown object
				}
				if er.Code != tt.wantCode || er.Subcode != tt.wantSubcode || er.Type != wantType {
					t.Fatalf("%s", a.body)
				}
				if strings.Contains(string(a.body), "sim-token") {
					t.Fatalf("token in error body: %s", a.body)
				}
			}
		})
	}
}

func TestInvalidParams(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name          string
		params        url.Values
		code, subcode int
	}{
		{"breakdown", spec("account", "spend", "country", "2026-11-02", "2026-11-29", "7"), 2, 1504041},
		{"breakdown triple", spec("account", "spend", "age,gender,country", "2026-11-02", "2026-11-29", "7"), 2, 1504041},
		{"level", spec("creative", "spend", "", "2026-11-02", "2026-11-29", "7"), 100, 0},
		{"field", spec("account", "spend,bogus", "", "2026-11-02", "2026-11-29", "7"), 100, 0},
		{"increment", spec("account", "spend", "", "2026-11-02", "2026-11-29", "91"), 100, 0},
		{"reversed range", spec("account", "spend", "", "2026-11-29", "2026-11-02", "7"), 100, 0},
		{"bad date", spec("account", "spend", "", "2026-13-01", "2026-11-02", "7"), 100, 0},
		{"too old", spec("account", "spend", "", "2023-10-01", "2023-10-31", "7"), 3018, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{http.MethodPost, http.MethodGet} {
				p := url.Values{}
				for k, v := range tt.params {
					p[k] = v
				}
				a := e.do(method, "/v25.0/act_"+e.acct.ID+"/insights", p, nil)
				er := a.err(t).Error
				if a.status != 400 || er.Code != tt.code || er.Subcode != tt.subcode || er.Message == "" {
					t.Fatalf("%s: %d %s", method, a.status, a.body)
				}
			}
		})
	}
	// Parameters in the query string of a POST work as well as a form body.
	q := withToken(spec("account", "spend", "age,gender", "2026-11-02", "2026-11-29", "7"))
	resp, err := http.Post(e.srv.URL+"/v25.0/act_"+e.acct.ID+"/insights?"+q.Encode(), "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("submit in query: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestCounters(t *testing.T) {
	e := newEnv(t, Config{Latency: 100 * time.Millisecond, Jitter: 10 * time.Millisecond})
	p := spec("account", "spend", "", "2026-11-02", "2026-11-29", "7")
	var wg sync.WaitGroup
	for _, a := range e.sim.Accounts() {
		for range 4 {
			wg.Go(func() { e.submit(a.ID, p) })
		}
	}
	wg.Wait()
	c := e.sim.Counters()
	if c.PeakInFlight < 6 || c.PeakInFlight > 12 {
		t.Errorf("peak in flight %d", c.PeakInFlight)
	}
	if c.Requests[KindSubmit] != 12 || c.PeakRunning != 12 {
		t.Errorf("counters %+v", c)
	}
	for _, a := range e.sim.Accounts() {
		ac := c.ByAccount[a.ID]
		if ac.ReportRuns != 4 || ac.PeakRunning != 4 || ac.Requests[KindSubmit] != 4 {
			t.Errorf("account %s: %+v", a.ID, ac)
		}
	}

	e.sim.ResetCounters()
	e.clock.Advance(time.Minute) // every run completes
	id := e.submit(e.acct.ID, p)
	e.poll(id)
	e.do(http.MethodGet, "/v25.0/"+id+"/insights", nil, nil) // not ready: an error
	e.clock.Advance(time.Minute)
	rows := e.rows(e.srv.URL + "/v25.0/" + id + "/insights?limit=2&access_token=" + DemoToken)
	e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", p, nil)
	e.do(http.MethodGet, "/v25.0/nothing/here/at/all", nil, nil)
	c = e.sim.Counters()
	ac := c.ByAccount[e.acct.ID]
	want := map[string]int64{KindSubmit: 1, KindPoll: 1, KindResults: 3, KindSync: 1, KindOther: 1}
	for k, n := range want {
		if c.Requests[k] != n {
			t.Errorf("requests %s = %d, want %d", k, c.Requests[k], n)
		}
		if k != KindOther && ac.Requests[k] != n {
			t.Errorf("account requests %s = %d, want %d", k, ac.Requests[k], n)
		}
	}
	if len(rows) != 4 || ac.Pages != 3 || ac.Rows != 8 || ac.ReportRuns != 1 || ac.PeakRunning != 1 || c.PeakRunning != 1 || c.Errors != 2 || ac.Errors != 1 {
		t.Errorf("rows %d, counters %+v, account %+v", len(rows), c, ac)
	}
}

func TestSyncPagingAndNumericRunID(t *testing.T) {
	e := newEnv(t, Config{NumericReportRunID: true})
	p := spec("campaign", "campaign_id,spend", "", "2026-06-01", "2026-11-29", "7")
	want := e.report(e.acct.ID, p)
	q := withToken(spec("campaign", "campaign_id,spend", "", "2026-06-01", "2026-11-29", "7"))
	q.Set("limit", "4")
	got := e.rows(e.srv.URL + "/v25.0/act_" + e.acct.ID + "/insights?" + q.Encode())
	if len(got) != len(want) || len(got) < 20 {
		t.Fatalf("sync %d rows, async %d", len(got), len(want))
	}
	for i := range got {
		if str(got[i], "campaign_id") != str(want[i], "campaign_id") || str(got[i], "spend") != str(want[i], "spend") {
			t.Fatalf("row %d: sync %v, async %v", i, got[i], want[i])
		}
	}
	a := e.do(http.MethodPost, "/v25.0/act_"+e.acct.ID+"/insights", p, nil)
	var r map[string]any
	d := json.NewDecoder(strings.NewReader(string(a.body)))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if _, ok := r["report_run_id"].(json.Number); !ok {
		t.Fatalf("report_run_id is %T: %s", r["report_run_id"], a.body)
	}
}

// Meta's lag on a report run's own endpoints: the poll and the pages after the first answer,
// for the scripted number of requests per run, the errors Meta gives while it does not find a
// run it has just created; then the same request succeeds. A lost run is never found.
func TestLagFaults(t *testing.T) {
	p := spec("campaign", "campaign_id,spend", "", "2026-06-01", "2026-11-29", "7")
	unknown := func(t *testing.T, a answer, id string) {
		t.Helper()
		er := a.err(t).Error
		if a.status != 400 || er.Code != 100 || er.Subcode != 33 || er.Transient || er.Type != "GraphMethodException" ||
			!strings.Contains(er.Message, "Unsupported get request. Object with ID '"+id+"' does not exist") {
			t.Fatalf("want 100/33 naming %s: %d %s", id, a.status, a.body)
		}
	}
	t.Run("first polls", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{LagPolls: 2})
		first, second := e.submit(e.acct.ID, p), e.submit(e.acct.ID, p)
		for range 2 {
			unknown(t, e.do(http.MethodGet, "/v25.0/"+first, nil, nil), first)
		}
		if st := e.poll(first); st.ID != first || st.Status != StatusNotStarted {
			t.Errorf("third poll: %+v", st)
		}
		unknown(t, e.do(http.MethodGet, "/v25.0/"+second, nil, nil), second) // counted per run
		if c := e.sim.Counters(); c.Lagged != 3 || c.ByAccount[e.acct.ID].Lagged != 3 {
			t.Errorf("lagged %d (account %d), want 3", c.Lagged, c.ByAccount[e.acct.ID].Lagged)
		}
	})
	t.Run("pages after the first", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{LagPages: 1, MissingFieldPages: 1})
		id := e.submit(e.acct.ID, p)
		e.clock.Advance(time.Minute)
		first := e.get(e.srv.URL + "/v25.0/" + id + "/insights?limit=5&access_token=" + DemoToken)
		if first.status != 200 {
			t.Fatalf("first page: %d %s", first.status, first.body)
		}
		next := decodePage(t, first.body).Paging.Next
		unknown(t, e.get(next), id)
		a := e.get(next)
		er := a.err(t).Error
		if a.status != 400 || er.Code != 100 || er.Subcode != 0 || er.Type != "OAuthException" ||
			!strings.Contains(er.Message, "Cannot include campaign_id, spend in summary param because they weren't there while creating the report run") {
			t.Fatalf("want the missing-field error: %d %s", a.status, a.body)
		}
		if rest := e.rows(next); len(rest) == 0 {
			t.Error("the page after the lag has no rows")
		}
	})
	t.Run("lost runs", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{LostRuns: 1})
		lost, found := e.submit(e.acct.ID, p), e.submit(e.acct.ID, p)
		e.clock.Advance(time.Hour)
		for range 3 {
			unknown(t, e.do(http.MethodGet, "/v25.0/"+lost, nil, nil), lost)
			unknown(t, e.do(http.MethodGet, "/v25.0/"+lost+"/insights", nil, nil), lost)
		}
		if st := e.poll(found); st.Status != StatusCompleted {
			t.Errorf("the next run: %+v", st)
		}
	})
}

// The synchronous read gets the faults of the asynchronous endpoints (throttling and 500s come
// with every request; see TestFaults), plus its own: "reduce the amount of data" for a range a
// report run would take, a slow answer, and pages cut mid-body.
func TestSyncFaults(t *testing.T) {
	sync := func(e *env, since string, params url.Values) answer {
		q := spec("campaign", "campaign_id,spend", "", since, "2026-11-29", "7")
		for k, v := range params {
			q[k] = v
		}
		return e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", q, nil)
	}
	t.Run("too large for a synchronous read, not for a report run", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{SyncTooLargeOverWeeks: 4})
		a := sync(e, "2026-10-26", nil) // 5 weeks
		er := a.err(t).Error
		if a.status != 500 || er.Code != 1 || er.Transient || !strings.Contains(er.Message, "reduce the amount of data") {
			t.Fatalf("%d %s", a.status, a.body)
		}
		if a := sync(e, "2026-11-02", nil); a.status != 200 { // 4 weeks
			t.Fatalf("4 weeks: %d %s", a.status, a.body)
		}
		e.submit(e.acct.ID, spec("campaign", "campaign_id,spend", "", "2026-10-26", "2026-11-29", "7"))
	})
	t.Run("slow", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{SlowSync: 150 * time.Millisecond})
		start := time.Now()
		if a := sync(e, "2026-11-23", nil); a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("a slow synchronous read answered in %s", d)
		}
		start = time.Now()
		e.submit(e.acct.ID, spec("campaign", "campaign_id,spend", "", "2026-11-23", "2026-11-29", "7"))
		if d := time.Since(start); d >= 150*time.Millisecond {
			t.Errorf("a submit took %s: only synchronous reads are slow", d)
		}
	})
	t.Run("reset mid-body", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{ResetEvery: 2})
		q := withToken(spec("campaign", "campaign_id,spend", "", "2026-06-01", "2026-11-29", "7"))
		q.Set("limit", "5")
		u := e.srv.URL + "/v25.0/act_" + e.acct.ID + "/insights?" + q.Encode()
		getResetEveryOther(t, u)
		if c := e.sim.Counters(); c.Resets != 2 || c.Requests[KindSync] != 4 {
			t.Fatalf("counters %+v", c)
		}
	})
}

// The Meta-like latency model: each request kind its own latency, and report runs whose
// durations spread around JobDuration, reproducibly.
func TestKindLatencyAndJobJitter(t *testing.T) {
	cfg := Config{Latency: time.Millisecond, JobDuration: 20 * time.Second, JobJitter: 0.25,
		KindLatency: map[string]Latency{KindSync: {Base: 120 * time.Millisecond, Jitter: 20 * time.Millisecond}}}
	e := newEnv(t, cfg)
	p := spec("account", "spend", "", "2026-11-23", "2026-11-29", "7")
	start := time.Now()
	e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", p, nil)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("synchronous read in %s, want 120 ms ± 20 ms", d)
	}
	start = time.Now()
	id := e.submit(e.acct.ID, p)
	if d := time.Since(start); d >= 100*time.Millisecond {
		t.Errorf("submit in %s, want about 1 ms", d)
	}
	_ = id
	for i := 0; i < 39; i++ {
		e.submit(e.acct.ID, p)
	}
	durations := func(s *Simulator) []time.Duration {
		var out []time.Duration
		for _, r := range s.ReportRuns() {
			out = append(out, r.Duration)
		}
		return out
	}
	got := durations(e.sim)
	lo, hi := got[0], got[0]
	for _, d := range got {
		lo, hi = min(lo, d), max(hi, d)
		if d < 15*time.Second || d > 25*time.Second {
			t.Errorf("a run of %s, want 20 s ± 25 %%", d)
		}
	}
	if hi-lo < 5*time.Second {
		t.Errorf("40 runs between %s and %s: no spread", lo, hi)
	}
	// The same seed gives the same durations.
	e2 := newEnv(t, cfg)
	for i := 0; i < 40; i++ {
		e2.submit(e2.acct.ID, p)
	}
	if again := durations(e2.sim); !slices.Equal(got, again) {
		t.Errorf("durations differ between two simulators of one seed:\n%v\n%v", got, again)
	}
}

// ReportRuns says how many polls each run had and when a poll first saw it end.
func TestReportRunInfo(t *testing.T) {
	e := newEnv(t, Config{JobDuration: 10 * time.Second})
	p := spec("account", "spend", "", "2026-11-23", "2026-11-29", "7")
	id := e.submit(e.acct.ID, p)
	e.clock.Advance(4 * time.Second)
	e.poll(id)
	e.clock.Advance(7 * time.Second)
	e.poll(id) // done at 10 s, seen at 11 s
	e.clock.Advance(5 * time.Second)
	e.poll(id)
	runs := e.sim.ReportRuns()
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	r := runs[0]
	if r.ID != id || r.Account != e.acct.ID || r.Level != "account" || r.Breakdowns != "" || r.Polls != 3 || r.Duration != 10*time.Second || r.SeenDone != 11*time.Second {
		t.Errorf("%+v, want 3 polls, 10 s long, seen done at 11 s", r)
	}
}

// The app-wide usage (x-app-usage, app_id_util_pct) fills with every account's calls against
// AppCallBudget, while each account's own figure counts only its calls.
func TestAppUsage(t *testing.T) {
	e := newEnv(t, Config{CallBudget: 100, AppCallBudget: 10})
	accts := e.sim.Accounts()
	var app struct {
		CallCount int `json:"call_count"`
	}
	var thr struct {
		App int `json:"app_id_util_pct"`
		Acc int `json:"acc_id_util_pct"`
	}
	for i := 0; i < 6; i++ {
		a := e.do(http.MethodGet, "/v25.0/act_"+accts[i%3].ID+"/insights", spec("account", "spend", "", "2026-11-23", "2026-11-29", ""), nil)
		if err := json.Unmarshal([]byte(a.header.Get("x-app-usage")), &app); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(a.header.Get("x-fb-ads-insights-throttle")), &thr); err != nil {
			t.Fatal(err)
		}
		if want := (i + 1) * 10; app.CallCount != want || thr.App != want {
			t.Errorf("call %d: app-wide %d %% and %d %%, want %d %%", i+1, app.CallCount, thr.App, want)
		}
		if want := i/3 + 1; thr.Acc != want {
			t.Errorf("call %d: account %d %%, want %d %%", i+1, thr.Acc, want)
		}
	}
}

// Warm computes a report ahead; a report run and a synchronous read of it then serve those
// very rows, equal to what an unwarmed simulator answers.
func TestWarm(t *testing.T) {
	e := newEnv(t, Config{})
	cold := newEnv(t, Config{})
	p := spec("campaign", "campaign_id,spend,impressions", "", "2026-06-01", "2026-11-29", "7")
	if err := e.sim.Warm("act_"+e.acct.ID, p); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Warm("act_999", p); err == nil {
		t.Error("warmed an unknown account")
	}
	if len(e.sim.warm) != 1 {
		t.Fatalf("%d reports kept, want 1", len(e.sim.warm))
	}
	var kept [][]byte
	for _, rows := range e.sim.warm {
		kept = rows
	}
	want := cold.report(cold.acct.ID, p)
	if got := e.report(e.acct.ID, p); !reflect.DeepEqual(got, want) || len(got) == 0 {
		t.Fatalf("a warmed report run answers %d rows, a cold one %d", len(got), len(want))
	}
	e.sim.mu.Lock()
	var served [][]byte
	for _, r := range e.sim.runs {
		served = r.rows
	}
	e.sim.mu.Unlock()
	if len(served) == 0 || &served[0] != &kept[0] {
		t.Error("the report run computed its rows again instead of serving the warmed ones")
	}
	a := e.sim.accounts[e.acct.ID]
	sp, _ := parseSpec(p, e.sim.today(a))
	if rows := e.sim.syncRows(a, sp); &rows[0] != &kept[0] {
		t.Error("the synchronous read computed its rows again")
	}
}

// The faults of Meta at its worst (issue 17), each as Meta answers it.
func TestLargeAccountFaults(t *testing.T) {
	q := func() url.Values { return spec("campaign", "campaign_id,spend", "", "2026-06-01", "2026-11-29", "7") }
	t.Run("a page above the limit: reduce, 1/99, 100/1487534", func(t *testing.T) {
		for _, tc := range []struct {
			kind                string
			status, code, subcd int
		}{{"", 500, 1, 0}, {"unknown", 500, 1, 99}, {"1487534", 400, 100, 1487534}} {
			e := newEnv(t, Config{})
			e.sim.SetFaults(e.acct.ID, Faults{BigPageLimit: 20, BigPageError: tc.kind})
			id := e.submit(e.acct.ID, q())
			e.clock.Advance(time.Minute)
			a := e.get(e.srv.URL + "/v25.0/" + id + "/insights?limit=21&access_token=" + DemoToken)
			if er := a.err(t).Error; a.status != tc.status || er.Code != tc.code || er.Subcode != tc.subcd {
				t.Fatalf("%q at 21: %d %s", tc.kind, a.status, a.body)
			}
			if a := e.get(e.srv.URL + "/v25.0/" + id + "/insights?limit=20&access_token=" + DemoToken); a.status != 200 {
				t.Fatalf("%q at 20: %d %s", tc.kind, a.status, a.body)
			}
			// A synchronous read's first page is not refused; its later pages are.
			s := withToken(q())
			s.Set("limit", "50")
			a = e.get(e.srv.URL + "/v25.0/act_" + e.acct.ID + "/insights?" + s.Encode())
			p := decodePage(t, a.body)
			if a.status != 200 || p.Paging == nil || p.Paging.Next == "" {
				t.Fatalf("sync first page: %d %s", a.status, a.body)
			}
			if a := e.get(p.Paging.Next); a.status != tc.status {
				t.Fatalf("sync second page at 50: %d %s", a.status, a.body)
			}
		}
	})
	t.Run("endless paging", func(t *testing.T) {
		for mode := 1; mode <= 2; mode++ {
			e := newEnv(t, Config{})
			e.sim.SetFaults(e.acct.ID, Faults{EndlessPaging: mode})
			id := e.submit(e.acct.ID, q())
			e.clock.Advance(time.Minute)
			u := e.srv.URL + "/v25.0/" + id + "/insights?limit=500&access_token=" + DemoToken
			var cursors []string
			pages := 0
			for ; u != "" && pages < 100; pages++ {
				a := e.get(u)
				p := decodePage(t, a.body)
				if pages > 0 && mode == 1 && len(p.Data) != 0 {
					t.Fatalf("mode 1, page %d: %d rows, want an empty page", pages, len(p.Data))
				}
				u = ""
				if p.Paging != nil {
					u = p.Paging.Next
					nu, _ := url.Parse(u)
					cursors = append(cursors, nu.Query().Get("after"))
				}
			}
			if pages != 51 {
				t.Errorf("mode %d: %d pages, want 1 and 50 extra", mode, pages)
			}
			if mode == 2 && cursors[0] != cursors[1] {
				t.Errorf("mode 2: cursors %q, %q: want the same again", cursors[0], cursors[1])
			}
			if mode == 1 && cursors[0] == cursors[1] {
				t.Errorf("mode 1: cursors repeat: %q", cursors[:2])
			}
		}
	})
	t.Run("synchronous reads fail, report runs do not", func(t *testing.T) {
		for mode, want := range map[int][3]int{1: {500, 1, 99}, 2: {400, 2, 1504044}} {
			e := newEnv(t, Config{})
			e.sim.SetFaults(e.acct.ID, Faults{SyncErrors: mode})
			a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", q(), nil)
			if er := a.err(t).Error; a.status != want[0] || er.Code != want[1] || er.Subcode != want[2] {
				t.Fatalf("mode %d: %d %s", mode, a.status, a.body)
			}
			e.submit(e.acct.ID, q())
		}
	})
	t.Run("not ready after completed, queued first", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{NotReadyReads: 2, QueuedFor: time.Hour})
		id := e.submit(e.acct.ID, q())
		e.clock.Advance(59 * time.Minute)
		if st := e.poll(id); st.Status != StatusNotStarted || st.Percent != 0 {
			t.Fatalf("after 59 minutes in the queue: %+v", st)
		}
		e.clock.Advance(time.Minute + 10*time.Second)
		if st := e.poll(id); st.Status != StatusCompleted {
			t.Fatalf("after the queue and the run: %+v", st)
		}
		u := e.srv.URL + "/v25.0/" + id + "/insights?access_token=" + DemoToken
		for i := 1; i <= 3; i++ {
			a := e.get(u)
			if (i <= 2) != (a.status == 400 && a.err(t).Error.Code == 2601) || i == 3 && a.status != 200 {
				t.Fatalf("read %d: %d %s", i, a.status, a.body)
			}
		}
	})
	t.Run("reduce on the ad account's read, then not", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{AccountTooLarge: 1})
		path := "/v25.0/act_" + e.acct.ID
		f := url.Values{"fields": {"account_id,name,timezone_name,currency"}}
		if a := e.do(http.MethodGet, path, f, nil); a.status != 500 || a.err(t).Error.Code != 1 {
			t.Fatalf("first: %d %s", a.status, a.body)
		}
		if a := e.do(http.MethodGet, path, f, nil); a.status != 200 {
			t.Fatalf("second: %d %s", a.status, a.body)
		}
	})
	t.Run("deprecated version", func(t *testing.T) {
		e := newEnv(t, Config{OldestVersion: "v24.0", NewestVersion: "v27.0"})
		a := e.do(http.MethodGet, "/v23.0/act_"+e.acct.ID+"/insights", q(), nil)
		if er := a.err(t).Error; a.status != 400 || er.Code != 2635 || !strings.Contains(er.Message, "v27.0") {
			t.Fatalf("v23.0: %d %s", a.status, a.body)
		}
		if a := e.do(http.MethodGet, "/v24.0/act_"+e.acct.ID+"/insights", q(), nil); a.status != 200 {
			t.Fatalf("v24.0: %d %s", a.status, a.body)
		}
		if !versionLess("v9.0", "v24.0") || versionLess("v24.1", "v24.0") {
			t.Error("versions compare as text")
		}
	})
	t.Run("throttled for a while, without a regain time", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFaults(e.acct.ID, Faults{ThrottleFor: 30 * time.Minute})
		for _, adv := range []time.Duration{0, 29 * time.Minute} {
			e.clock.Advance(adv)
			a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", q(), nil)
			if er := a.err(t).Error; er.Code != 80000 || parseBUC(t, a.header, e.acct.ID).Regain != 0 {
				t.Fatalf("after %s: %d %s", adv, a.status, a.body)
			}
		}
		e.clock.Advance(time.Minute)
		if a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", q(), nil); a.status != 200 {
			t.Fatalf("after 30 minutes: %d %s", a.status, a.body)
		}
	})
}

// Below the account level, deleted and archived campaigns count only when `filtering` asks for
// their effective_status; the account level counts them always.
func TestGoneCampaigns(t *testing.T) {
	e := newEnv(t, Config{})
	campaigns := func(filter string) map[string]bool {
		q := spec("campaign", "campaign_id,spend", "", "2026-06-01", "2026-11-29", "")
		if filter != "" {
			q.Set("filtering", filter)
		}
		ids := map[string]bool{}
		for _, r := range e.report(e.acct.ID, q) {
			ids[str(r, "campaign_id")] = true
		}
		return ids
	}
	all := campaigns("")
	e.sim.SetFaults(e.acct.ID, Faults{GoneCampaigns: 2})
	live := campaigns("")
	asked := campaigns(`[{"field":"campaign.effective_status","operator":"IN","value":["ACTIVE","PAUSED","DELETED","ARCHIVED"]}]`)
	onlyDeleted := campaigns(`[{"field":"campaign.effective_status","operator":"IN","value":["ACTIVE","PAUSED","DELETED"]}]`)
	if len(all) < 3 || len(live) != len(all)-2 || len(asked) != len(all) || len(onlyDeleted) != len(all)-1 {
		t.Errorf("campaigns: %d in all, %d live, %d with every status asked for, %d without ARCHIVED", len(all), len(live), len(asked), len(onlyDeleted))
	}
	acct := func() int64 {
		var n int64
		for _, r := range e.report(e.acct.ID, spec("account", "spend", "", "2026-06-01", "2026-11-29", "")) {
			n += num(t, r, "spend")
		}
		return n
	}
	before := acct()
	e.sim.SetFaults(e.acct.ID, Faults{})
	if after := acct(); after != before {
		t.Errorf("account spend %d with gone campaigns, %d without: the account level counts them", before, after)
	}
	if a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", url.Values{"filtering": {"not json"}}, nil); a.status != 400 {
		t.Errorf("malformed filtering: %d %s", a.status, a.body)
	}
}

// getResetEveryOther reads the page at u four times: with Faults{ResetEvery: 2} the second and
// the fourth answer are cut mid-body (their JSON does not decode), the others whole.
func getResetEveryOther(t *testing.T, u string) {
	t.Helper()
	for i := 1; i <= 4; i++ {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		var pg page
		err = json.NewDecoder(resp.Body).Decode(&pg)
		resp.Body.Close()
		if (i%2 == 0) != (err != nil) {
			t.Fatalf("page %d: decode error %v", i, err)
		}
	}
}
