package transform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/transform"
)

// The golden test from the simulator's data: extract a few weeks from the simulator, transform
// them, and compare every summary with figures computed here from the simulator's daily facts
// (not by calling the code under test): totals, reach and frequency, campaign_data entry by
// entry in order, the placement, demographic and ad tables, and the KPI columns.
func TestGoldenFromSimulator(t *testing.T) {
	sim := graphsim.New(graphsim.Config{Accounts: 2, Seed: 21, JobDuration: 80 * time.Millisecond})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	y, m, d := time.Now().UTC().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	until := today.AddDate(0, 0, -3) // a partial current week when today is early in the week
	since := until.AddDate(0, 0, -int(until.Weekday()+6)%7-7*7)
	rng := extract.Range{Since: since, Until: until}

	run := t.TempDir()
	c := extract.NewClient(srv.URL, "v25.0", "")
	x := &extract.Extractor{Client: c, Poll: extract.PollConfig{First: 60 * time.Millisecond, Max: 200 * time.Millisecond}}
	var in transform.Input
	var kpi []records.KPIRow
	for _, a := range sim.Accounts() {
		clientID := "client-" + a.ID
		dir := records.RunDir(run).Client(clientID)
		res := x.Extract(context.Background(), extract.Request{ClientID: clientID, ClientName: a.Name, Account: a.ID,
			Token: extract.NewToken(a.Token), Range: rng, Dir: dir}, nil)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		in.Clients = append(in.Clients, transform.ClientInput{ClientID: clientID, Dir: dir})
		for _, k := range sim.KPIDays(a.ID, since, until) {
			r := k.Reservations
			v := cents(k.ReservationValueCents)
			kpi = append(kpi, records.KPIRow{ClientID: clientID, Date: records.DayNumber(k.Date), Reservations: &r, ReservationValue: &v})
		}
	}
	in.KPIPath = records.RunDir(run).KPI()
	in.OutPath = records.RunDir(run).Summaries()
	if err := records.WriteParquet(in.KPIPath, kpi, records.RowGroupRows); err != nil {
		t.Fatal(err)
	}
	res, err := transform.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings on consistent data: %v", res.Warnings)
	}

	got := map[string]records.Summary{}
	if err := records.ScanParquet(in.OutPath, func(_ int, s *records.Summary) error {
		got[s.ClientID+"|"+records.DayTime(s.SummaryDate).Format(time.DateOnly)] = *s
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, a := range sim.Accounts() {
		for mon := since; !mon.After(until); mon = mon.AddDate(0, 0, 7) {
			end := min64(mon.AddDate(0, 0, 6), until)
			want := weekTruth(sim, a.ID, mon, end, kpi, "client-"+a.ID)
			s, ok := got["client-"+a.ID+"|"+mon.Format(time.DateOnly)]
			if want == nil {
				if ok {
					t.Errorf("%s %s: a row for a week without delivery", a.Name, mon.Format(time.DateOnly))
				}
				continue
			}
			if !ok {
				t.Errorf("%s %s: no row", a.Name, mon.Format(time.DateOnly))
				continue
			}
			checked++
			compare(t, fmt.Sprintf("%s %s", a.Name, mon.Format(time.DateOnly)), s, want)
		}
	}
	if checked < 10 {
		t.Fatalf("only %d weeks compared", checked)
	}
}

func min64(a, b time.Time) time.Time {
	if a.After(b) {
		return b
	}
	return a
}

func cents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

type figs struct{ spend, imp, clicks int64 }

type campTruth struct {
	figs
	name    string
	reach   int64
	actions map[string]int64
}

type truthWeek struct {
	figs
	reach        int64
	freq         string
	campaigns    map[string]*campTruth
	placements   map[string]figs
	demographics map[string]figs
	ads          map[string]figs
	rankings     map[string]string
	kpiDays      int
	reservations int64
	resValue     decimal.Decimal
}

func weekTruth(sim *graphsim.Simulator, acct string, mon, end time.Time, kpi []records.KPIRow, clientID string) *truthWeek {
	w := &truthWeek{campaigns: map[string]*campTruth{}, placements: map[string]figs{}, demographics: map[string]figs{},
		ads: map[string]figs{}, rankings: map[string]string{}}
	add := func(f *figs, s, i, c int64) { f.spend += s; f.imp += i; f.clicks += c }
	for _, c := range sim.Campaigns(acct) {
		ct := &campTruth{name: c.Name, actions: map[string]int64{}}
		for _, ad := range c.Ads {
			var af figs
			for d := mon; !d.After(end); d = d.AddDate(0, 0, 1) {
				f := sim.AdDay(acct, ad.ID, d)
				add(&ct.figs, f.SpendCents, f.Impressions, f.Clicks)
				add(&w.figs, f.SpendCents, f.Impressions, f.Clicks)
				add(&af, f.SpendCents, f.Impressions, f.Clicks)
				for k, v := range f.Actions {
					ct.actions[k] += v
				}
				for _, p := range f.Placements {
					x := w.placements[p.Platform+"/"+p.Position]
					add(&x, p.SpendCents, p.Impressions, p.Clicks)
					w.placements[p.Platform+"/"+p.Position] = x
				}
				for _, p := range f.Demographics {
					x := w.demographics[p.Age+"/"+p.Gender]
					add(&x, p.SpendCents, p.Impressions, p.Clicks)
					w.demographics[p.Age+"/"+p.Gender] = x
				}
			}
			if af.imp > 0 {
				w.ads[ad.ID] = af
				w.rankings[ad.ID] = ad.QualityRanking + "/" + ad.EngagementRateRanking + "/" + ad.ConversionRateRanking
			}
		}
		if ct.imp > 0 {
			ct.reach = sim.CampaignReach(acct, c.ID, mon, end)
			w.campaigns[c.ID] = ct
		}
	}
	if w.imp == 0 {
		return nil
	}
	for k, v := range w.placements {
		if v.imp == 0 {
			delete(w.placements, k)
		}
	}
	for k, v := range w.demographics {
		if v.imp == 0 {
			delete(w.demographics, k)
		}
	}
	w.reach = sim.AccountReach(acct, mon, end)
	f6 := decimal.NewFromInt(w.imp).DivRound(decimal.NewFromInt(w.reach), 6) // Meta's 6 decimals
	w.freq = f6.Round(4).StringFixed(4)
	for _, k := range kpi {
		day := records.DayTime(k.Date)
		if k.ClientID == clientID && !day.Before(mon) && !day.After(end) {
			w.kpiDays++
			w.reservations += *k.Reservations
			w.resValue = w.resValue.Add(decimal.RequireFromString(*k.ReservationValue))
		}
	}
	return w
}

func ratio(num, den int64, mul int64, scale int32) *string {
	if den == 0 {
		return nil
	}
	s := decimal.NewFromInt(num*mul).DivRound(decimal.NewFromInt(den), scale).StringFixed(scale)
	return &s
}

func moneyRatio(numCents, den int64, mul int64) *string {
	if den == 0 {
		return nil
	}
	s := decimal.New(numCents*mul, -2).DivRound(decimal.NewFromInt(den), 4).StringFixed(4)
	return &s
}

func str(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}

func compare(t *testing.T, where string, s records.Summary, w *truthWeek) {
	t.Helper()
	check := func(field, got, want string) {
		if got != want {
			t.Errorf("%s: %s = %s, want %s", where, field, got, want)
		}
	}
	check("total_spend", s.TotalSpend, cents(w.spend))
	check("total_impressions", fmt.Sprint(s.TotalImpressions), fmt.Sprint(w.imp))
	check("total_clicks", fmt.Sprint(s.TotalClicks), fmt.Sprint(w.clicks))
	check("reach", fmt.Sprint(s.Reach), fmt.Sprint(w.reach))
	check("frequency", str(s.Frequency), w.freq)
	check("average_ctr", str(s.AverageCTR), str(ratio(w.clicks, w.imp, 100, 4)))
	check("average_cpc", str(s.AverageCPC), str(moneyRatio(w.spend, w.clicks, 1)))
	check("average_cpm", str(s.AverageCPM), str(moneyRatio(w.spend, w.imp, 1000)))
	check("active_campaigns", fmt.Sprint(s.ActiveCampaigns), fmt.Sprint(len(w.campaigns)))
	check("kpi_days", fmt.Sprint(s.KPIDays), fmt.Sprint(w.kpiDays))
	if w.kpiDays == 0 {
		if s.Reservations != nil || s.ReservationValue != nil {
			t.Errorf("%s: KPI columns not NULL without KPI days", where)
		}
	} else {
		check("reservations", fmt.Sprint(*s.Reservations), fmt.Sprint(w.reservations))
		check("reservation_value", str(s.ReservationValue), w.resValue.StringFixed(2))
		spend := decimal.New(w.spend, -2)
		if !spend.IsZero() {
			check("roas", str(s.ROAS), w.resValue.DivRound(spend, 4).StringFixed(4))
		}
	}

	// campaign_data: one entry per campaign with delivery, by spend descending then id.
	var camps []struct {
		CampaignID   string             `json:"campaign_id"`
		CampaignName string             `json:"campaign_name"`
		Spend        json.Number        `json:"spend"`
		Impressions  int64              `json:"impressions"`
		Clicks       int64              `json:"clicks"`
		Reach        int64              `json:"reach"`
		Actions      map[string]float64 `json:"actions"`
	}
	if err := json.Unmarshal([]byte(s.CampaignData), &camps); err != nil {
		t.Fatalf("%s: campaign_data: %v", where, err)
	}
	ids := make([]string, 0, len(w.campaigns))
	for id := range w.campaigns {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := w.campaigns[ids[i]], w.campaigns[ids[j]]
		if a.spend != b.spend {
			return a.spend > b.spend
		}
		return ids[i] < ids[j]
	})
	if len(camps) != len(ids) {
		t.Errorf("%s: %d campaigns in campaign_data, want %d", where, len(camps), len(ids))
		return
	}
	for i, c := range camps {
		want := w.campaigns[ids[i]]
		if c.CampaignID != ids[i] || c.CampaignName != want.name || c.Spend.String() != cents(want.spend) ||
			c.Impressions != want.imp || c.Clicks != want.clicks || c.Reach != want.reach {
			t.Errorf("%s: campaign_data[%d] = %s %q %s %d %d %d, want %s %q %s %d %d %d", where, i, c.CampaignID, c.CampaignName,
				c.Spend, c.Impressions, c.Clicks, c.Reach, ids[i], want.name, cents(want.spend), want.imp, want.clicks, want.reach)
		}
		for k, v := range want.actions {
			if v > 0 && c.Actions[k] != float64(v) {
				t.Errorf("%s: campaign %s action %s = %v, want %d", where, c.CampaignID, k, c.Actions[k], v)
			}
		}
	}

	// meta_tables: the breakdowns and the ads, as sets.
	var mt struct {
		Placements []struct {
			Platform string      `json:"publisher_platform"`
			Position string      `json:"platform_position"`
			Spend    json.Number `json:"spend"`
			Imp      int64       `json:"impressions"`
			Clicks   int64       `json:"clicks"`
		} `json:"placementPerformance"`
		Demographics []struct {
			Age    string      `json:"age"`
			Gender string      `json:"gender"`
			Spend  json.Number `json:"spend"`
			Imp    int64       `json:"impressions"`
			Clicks int64       `json:"clicks"`
		} `json:"demographicPerformance"`
		Ads []struct {
			AdID       string      `json:"ad_id"`
			Quality    string      `json:"quality_ranking"`
			Engagement string      `json:"engagement_rate_ranking"`
			Conversion string      `json:"conversion_rate_ranking"`
			Spend      json.Number `json:"spend"`
			Imp        int64       `json:"impressions"`
		} `json:"adRelevanceResults"`
	}
	if err := json.Unmarshal([]byte(s.MetaTables), &mt); err != nil {
		t.Fatalf("%s: meta_tables: %v", where, err)
	}
	if len(mt.Placements) != len(w.placements) || len(mt.Demographics) != len(w.demographics) || len(mt.Ads) != len(w.ads) {
		t.Errorf("%s: meta_tables sizes %d/%d/%d, want %d/%d/%d", where, len(mt.Placements), len(mt.Demographics), len(mt.Ads),
			len(w.placements), len(w.demographics), len(w.ads))
	}
	for _, p := range mt.Placements {
		want := w.placements[p.Platform+"/"+p.Position]
		if p.Spend.String() != cents(want.spend) || p.Imp != want.imp || p.Clicks != want.clicks {
			t.Errorf("%s: placement %s/%s = %s %d %d, want %s %d %d", where, p.Platform, p.Position, p.Spend, p.Imp, p.Clicks, cents(want.spend), want.imp, want.clicks)
		}
	}
	for _, p := range mt.Demographics {
		want := w.demographics[p.Age+"/"+p.Gender]
		if p.Spend.String() != cents(want.spend) || p.Imp != want.imp || p.Clicks != want.clicks {
			t.Errorf("%s: demographic %s/%s = %s %d %d, want %s %d %d", where, p.Age, p.Gender, p.Spend, p.Imp, p.Clicks, cents(want.spend), want.imp, want.clicks)
		}
	}
	for _, a := range mt.Ads {
		want := w.ads[a.AdID]
		if a.Spend.String() != cents(want.spend) || a.Imp != want.imp || a.Quality+"/"+a.Engagement+"/"+a.Conversion != w.rankings[a.AdID] {
			t.Errorf("%s: ad %s = %s %d %s/%s/%s, want %s %d %s", where, a.AdID, a.Spend, a.Imp, a.Quality, a.Engagement, a.Conversion, cents(want.spend), want.imp, w.rankings[a.AdID])
		}
	}
}
