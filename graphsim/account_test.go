package graphsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// GET act_<id>?fields=… answers the AdAccount's fields: each account has its own time zone and
// currency, and unknown fields are refused as Meta refuses them.
func TestAdAccountFields(t *testing.T) {
	e := newEnv(t, Config{Accounts: 3})
	want := map[string][2]string{}
	for _, a := range e.sim.Accounts() {
		want[a.ID] = [2]string{a.TimeZone, a.Currency}
	}
	zones := map[string]bool{}
	for _, a := range e.sim.Accounts() {
		ans := e.do(http.MethodGet, "/v25.0/act_"+a.ID, url.Values{"fields": {"name,timezone_name,currency,timezone_offset_hours_utc"}}, http.Header{})
		if ans.status != 200 {
			t.Fatalf("status %d: %s", ans.status, ans.body)
		}
		var got struct {
			ID, Name, Currency  string
			TimezoneName        string  `json:"timezone_name"`
			TimezoneOffsetHours float64 `json:"timezone_offset_hours_utc"`
		}
		if err := json.Unmarshal(ans.body, &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != "act_"+a.ID || got.Name != a.Name || got.TimezoneName != want[a.ID][0] || got.Currency != want[a.ID][1] {
			t.Errorf("account %s: %+v", a.ID, got)
		}
		loc, _ := time.LoadLocation(got.TimezoneName)
		if _, off := testNow.In(loc).Zone(); float64(off)/3600 != got.TimezoneOffsetHours {
			t.Errorf("%s: offset %v h, want %v", got.TimezoneName, got.TimezoneOffsetHours, float64(off)/3600)
		}
		zones[got.TimezoneName] = true
	}
	if len(zones) != 3 {
		t.Errorf("3 accounts span %d time zones", len(zones))
	}
	ans := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID, url.Values{"fields": {"timezone"}}, http.Header{})
	if ans.status != 400 || ans.err(t).Error.Code != 100 {
		t.Errorf("unknown field: %d %s", ans.status, ans.body)
	}
}

// Each account has data up to its own calendar's today: at 20:00 UTC on Sunday 29 November
// Sydney is already on Monday the 30th, Los Angeles still on Sunday; Warsaw is on Sunday too.
func TestNoDataAfterTheAccountsToday(t *testing.T) {
	now := time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)
	s := New(Config{Accounts: 3, Now: func() time.Time { return now }})
	mon30 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, a := range s.Accounts() {
		var imp30 int64
		for _, c := range s.Campaigns(a.ID) {
			for _, ad := range c.Ads {
				imp30 += s.AdDay(a.ID, ad.ID, mon30).Impressions
			}
		}
		sydney := a.TimeZone == "Australia/Sydney"
		if sydney && imp30 == 0 {
			t.Errorf("%s: no data on its today, Monday 30 November", a.TimeZone)
		}
		if !sydney && imp30 != 0 {
			t.Errorf("%s: %d impressions on Monday 30 November, a day that has not begun there", a.TimeZone, imp30)
		}
		if n := len(s.KPIDays(a.ID, mon30, mon30)); (n == 1) != sydney {
			t.Errorf("%s: %d KPI days on 30 November", a.TimeZone, n)
		}
	}
}
