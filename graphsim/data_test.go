package graphsim

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestGeneratedWorld(t *testing.T) {
	s := New(Config{Now: func() time.Time { return testNow }})
	if got := len(s.Accounts()); got != 3 {
		t.Fatalf("accounts = %d, want 3", got)
	}
	nonASCII := false
	for _, a := range s.Accounts() {
		if a.Token == "" || a.Currency == "" || len(a.ID) != 16 {
			t.Errorf("account %+v", a)
		}
		cs := s.Campaigns(a.ID)
		if len(cs) < 2 || len(cs) > 8 {
			t.Errorf("account %s: %d campaigns", a.ID, len(cs))
		}
		for _, c := range cs {
			if len(c.Ads) < 1 || len(c.Ads) > 5 {
				t.Errorf("campaign %s: %d ads", c.ID, len(c.Ads))
			}
			for _, r := range c.Name {
				nonASCII = nonASCII || r > 127
			}
			for _, ad := range c.Ads {
				for _, r := range []string{ad.QualityRanking, ad.EngagementRateRanking, ad.ConversionRateRanking} {
					switch r {
					case RankAboveAverage, RankAverage, RankBelowAverage35, RankBelowAverage20, RankBelowAverage10, RankUnknown:
					default:
						t.Errorf("ad %s ranking %q", ad.ID, r)
					}
				}
			}
		}
	}
	if !nonASCII {
		t.Error("no campaign has a non-ASCII name")
	}
}

// Every breakdown of every ad-day sums exactly to the ad-day's totals, and no bucket has more
// clicks or reach than impressions.
func TestBreakdownSplitsSumToTotals(t *testing.T) {
	s := New(Config{Now: func() time.Time { return testNow }})
	delivering, zero := 0, 0
	for _, a := range s.Accounts() {
		for _, c := range s.Campaigns(a.ID) {
			for _, ad := range c.Ads {
				for d := day("2026-09-01"); !d.After(testNow); d = d.AddDate(0, 0, 1) {
					f := s.AdDay(a.ID, ad.ID, d)
					if f.Impressions == 0 {
						zero++
						if f.SpendCents != 0 || f.Clicks != 0 || f.Reach != 0 {
							t.Fatalf("no impressions but figures: %+v", f)
						}
						continue
					}
					delivering++
					if f.Clicks > f.Impressions || f.Reach > f.Impressions || f.Reach < 1 {
						t.Fatalf("%s %s: clicks %d reach %d impressions %d", ad.ID, d, f.Clicks, f.Reach, f.Impressions)
					}
					for name, parts := range map[string][]Split{"placements": f.Placements, "demographics": f.Demographics} {
						var sp, im, cl, re int64
						acts := map[string]int64{}
						for _, p := range parts {
							sp, im, cl, re = sp+p.SpendCents, im+p.Impressions, cl+p.Clicks, re+p.Reach
							if p.Clicks > p.Impressions || p.Reach > p.Impressions {
								t.Fatalf("%s %s %s bucket %+v", ad.ID, d, name, p)
							}
							for k, v := range p.Actions {
								acts[k] += v
							}
						}
						if sp != f.SpendCents || im != f.Impressions || cl != f.Clicks || re != f.Reach {
							t.Fatalf("%s %s %s: sums %d/%d/%d/%d, totals %d/%d/%d/%d", ad.ID, d, name, sp, im, cl, re,
								f.SpendCents, f.Impressions, f.Clicks, f.Reach)
						}
						for k, v := range f.Actions {
							if acts[k] != v {
								t.Fatalf("%s %s %s: action %s sums to %d, total %d", ad.ID, d, name, k, acts[k], v)
							}
						}
					}
				}
			}
		}
	}
	if delivering == 0 || zero == 0 {
		t.Fatalf("delivering ad-days %d, zero ad-days %d: want both", delivering, zero)
	}
}

// Every account has at least one week in a year in which no campaign delivers, and campaigns
// pause for whole weeks.
func TestFlights(t *testing.T) {
	s := New(Config{Now: func() time.Time { return testNow }})
	for _, a := range s.Accounts() {
		dark, paused := 0, 0
		for mon := day("2025-12-01"); mon.Before(day("2026-11-23")); mon = mon.AddDate(0, 0, 7) {
			active := 0
			for _, c := range s.Campaigns(a.ID) {
				imps := int64(0)
				for i := range 7 {
					for _, ad := range c.Ads {
						imps += s.AdDay(a.ID, ad.ID, mon.AddDate(0, 0, i)).Impressions
					}
				}
				if imps > 0 {
					active++
				} else {
					paused++
				}
			}
			if active == 0 {
				dark++
			}
		}
		if dark == 0 || paused <= dark*len(s.Campaigns(a.ID)) {
			t.Errorf("account %s: %d dark weeks, %d paused campaign-weeks", a.ID, dark, paused)
		}
	}
}

func TestKPIDays(t *testing.T) {
	s := New(Config{Now: func() time.Time { return testNow }})
	for _, a := range s.Accounts() {
		from, to := day("2025-11-24"), day("2026-11-29")
		days := s.KPIDays(a.ID, from, to)
		present := map[string]bool{}
		for _, k := range days {
			present[k.Date.Format(time.DateOnly)] = true
			if k.BookingStep2 > k.BookingStep1 || k.Reservations > k.BookingStep3 || k.TotalClicks > k.TotalImpressions {
				t.Errorf("funnel out of order: %+v", k)
			}
		}
		missingWeek, missingDays := false, 0
		for mon := from; !mon.After(to); mon = mon.AddDate(0, 0, 7) {
			n := 0
			for i := range 7 {
				if !present[mon.AddDate(0, 0, i).Format(time.DateOnly)] {
					n++
				}
			}
			missingDays += n
			missingWeek = missingWeek || n == 7
		}
		if !missingWeek || missingDays <= 7 {
			t.Errorf("account %s: missing week %v, missing days %d", a.ID, missingWeek, missingDays)
		}
		// Deterministic and independent of the range asked for.
		again := s.KPIDays(a.ID, day("2026-06-01"), day("2026-06-30"))
		for _, k := range again {
			for _, k2 := range days {
				if k2.Date.Equal(k.Date) && k2 != k {
					t.Fatalf("KPI day differs by range: %+v vs %+v", k, k2)
				}
			}
		}
	}
}

// Two simulators with the same seed answer the same bytes; another seed gives other data.
func TestDeterminism(t *testing.T) {
	read := func(seed int64) []byte {
		e := newEnv(t, Config{Seed: seed})
		p := spec("ad", "account_id,campaign_id,campaign_name,ad_id,ad_name,spend,impressions,clicks,reach,frequency,actions,quality_ranking",
			"publisher_platform,platform_position", "2026-08-03", "2026-11-29", "7")
		p.Set("limit", "500")
		a := e.do(http.MethodGet, "/v25.0/act_"+e.acct.ID+"/insights", p, nil)
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		var all []byte
		for _, acct := range e.sim.Accounts() {
			all = append(all, acct.ID...)
			for _, c := range e.sim.Campaigns(acct.ID) {
				all = append(all, c.ID+c.Name...)
			}
		}
		return append(all, bytes.ReplaceAll(a.body, []byte(e.srv.Listener.Addr().String()), nil)...)
	}
	a, b, c := read(7), read(7), read(8)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different answers")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds, same answers")
	}
}

// HTTP reports agree with the truth: breakdown rows sum to the account rows, campaign rows sum
// to the account rows (but not their reach), and reach matches CampaignReach/AccountReach.
func TestReportsAgreeWithTruth(t *testing.T) {
	e := newEnv(t, Config{})
	since, until := "2026-06-01", "2026-11-29"
	const metrics = "spend,impressions,clicks,reach,actions"
	type sums struct{ spend, imp, clicks, reach, rows int64 }
	collect := func(rows []map[string]any) map[string]*sums {
		m := map[string]*sums{}
		for _, r := range rows {
			k := str(r, "date_start")
			if m[k] == nil {
				m[k] = &sums{}
			}
			m[k].spend += num(t, r, "spend")
			m[k].imp += num(t, r, "impressions")
			m[k].clicks += num(t, r, "clicks")
			m[k].reach += num(t, r, "reach")
			m[k].rows++
		}
		return m
	}
	for _, acct := range e.sim.Accounts() {
		account := collect(e.report(acct.ID, spec("account", "account_id,"+metrics+",frequency", "", since, until, "7")))
		campaignRows := e.report(acct.ID, spec("campaign", "campaign_id,campaign_name,"+metrics, "", since, until, "7"))
		campaigns := collect(campaignRows)
		tests := []struct {
			name string
			got  map[string]*sums
		}{
			{"campaigns", campaigns},
			{"placements", collect(e.report(acct.ID, spec("account", metrics, "publisher_platform,platform_position", since, until, "7")))},
			{"demographics", collect(e.report(acct.ID, spec("account", metrics, "age,gender", since, until, "7")))},
			{"ads", collect(e.report(acct.ID, spec("ad", "ad_id,"+metrics, "", since, until, "7")))},
		}
		if len(account) < 15 {
			t.Fatalf("account %s: only %d weeks with delivery", acct.ID, len(account))
		}
		for _, tt := range tests {
			if len(tt.got) != len(account) {
				t.Errorf("%s: %d weeks, account report %d", tt.name, len(tt.got), len(account))
			}
			for wk, want := range account {
				got := tt.got[wk]
				if got == nil || got.spend != want.spend || got.imp != want.imp || got.clicks != want.clicks {
					t.Errorf("%s week %s: %+v, account %+v", tt.name, wk, got, want)
				}
			}
		}
		multi := 0
		for wk, want := range account {
			mon := day(wk)
			if r := e.sim.AccountReach(acct.ID, mon, mon.AddDate(0, 0, 6)); r != want.reach {
				t.Errorf("week %s: AccountReach %d, report %d", wk, r, want.reach)
			}
			if c := campaigns[wk]; c.rows > 1 {
				multi++
				if want.reach >= c.reach {
					t.Errorf("week %s: account reach %d not below the sum of campaign reaches %d", wk, want.reach, c.reach)
				}
			}
		}
		if multi == 0 {
			t.Errorf("account %s: no week with more than one campaign", acct.ID)
		}
		for _, r := range campaignRows {
			mon := day(str(r, "date_start"))
			if got, want := num(t, r, "reach"), e.sim.CampaignReach(acct.ID, str(r, "campaign_id"), mon, day(str(r, "date_stop"))); got != want {
				t.Errorf("campaign %s %s: reach %d, CampaignReach %d", str(r, "campaign_id"), mon, got, want)
			}
		}
	}
}

func TestBuckets(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name, incr, since, until string
		want                     [][2]string // distinct (date_start, date_stop), in order
	}{
		{"weekly cut at until", "7", "2026-11-02", "2026-11-25", [][2]string{
			{"2026-11-02", "2026-11-08"}, {"2026-11-09", "2026-11-15"}, {"2026-11-16", "2026-11-22"}, {"2026-11-23", "2026-11-25"}}},
		{"all days", "all_days", "2026-11-02", "2026-11-25", [][2]string{{"2026-11-02", "2026-11-25"}}},
		{"default all days", "", "2026-11-02", "2026-11-25", [][2]string{{"2026-11-02", "2026-11-25"}}},
		{"monthly", "monthly", "2026-09-15", "2026-11-10", [][2]string{
			{"2026-09-15", "2026-09-30"}, {"2026-10-01", "2026-10-31"}, {"2026-11-01", "2026-11-10"}}},
		{"daily", "1", "2026-11-24", "2026-11-26", [][2]string{
			{"2026-11-24", "2026-11-24"}, {"2026-11-25", "2026-11-25"}, {"2026-11-26", "2026-11-26"}}},
		{"future days have no data", "1", "2026-11-28", "2026-12-03", [][2]string{
			{"2026-11-28", "2026-11-28"}, {"2026-11-29", "2026-11-29"}}},
	}
	// An account that delivers in November 2026 every day (the first one does).
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := spec("account", "spend", "", tt.since, tt.until, tt.incr)
			rows := e.rows(e.srv.URL + "/v25.0/act_" + e.acct.ID + "/insights?" + withToken(p).Encode())
			var got [][2]string
			for _, r := range rows {
				got = append(got, [2]string{str(r, "date_start"), str(r, "date_stop")})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("buckets %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("buckets %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func withToken(p url.Values) url.Values {
	p.Set("access_token", DemoToken)
	return p
}
