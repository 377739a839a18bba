package transform

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

const (
	clientA = "6f1a2b3c-0000-4000-8000-00000000000a"
	clientB = "6f1a2b3c-0000-4000-8000-00000000000b"
	clientC = "6f1a2b3c-0000-4000-8000-00000000000c" // malformed campaigns file
	clientZ = "6f1a2b3c-0000-4000-8000-0000000000ff" // KPI only, not transformed
)

// Weeks (Mondays) of the fixture: 2024-01-01 is a Monday.
var (
	w1 = day("2024-01-01")
	w2 = day("2024-01-08")
	w3 = day("2024-01-15")
	w4 = day("2024-01-22")
)

func row(start, stop int32, spend string, impressions, clicks int64) records.InsightRow {
	return records.InsightRow{DateStart: start, DateStop: stop, Spend: spend, Impressions: impressions, Clicks: clicks}
}

func campaign(start int32, id, name, spend string, impressions, clicks, reach int64, actions ...records.Action) records.InsightRow {
	r := row(start, start+6, spend, impressions, clicks)
	r.CampaignID, r.CampaignName, r.Reach, r.Actions = id, name, reach, actions
	return r
}

func placement(start, stop int32, platform, position, spend string, impressions, clicks int64) records.InsightRow {
	r := row(start, stop, spend, impressions, clicks)
	r.PublisherPlatform, r.PlatformPosition = platform, position
	return r
}

func demographic(start, stop int32, age, gender, spend string, impressions, clicks int64) records.InsightRow {
	r := row(start, stop, spend, impressions, clicks)
	r.Age, r.Gender = age, gender
	return r
}

func account(start, stop int32, spend string, impressions, clicks, reach int64, frequency string) records.InsightRow {
	r := row(start, stop, spend, impressions, clicks)
	r.Reach, r.Frequency = reach, frequency
	return r
}

// fixture writes three clients (A, C malformed, B) and kpi.parquet into a run directory.
func fixture(t *testing.T) (string, Input) {
	t.Helper()
	dir := t.TempDir()
	w4stop := day("2024-01-24") // the as-of date: a Wednesday

	a := writeClient(t, dir, clientA, clientFiles{
		records.KindAccount: {
			account(w4, w4stop, "0.00", 10, 0, 10, "1"),
			account(w1, w1+6, "151.00", 30000, 600, 20000, "1.38665"),
			account(w2, w2+6, "5.00", 1000, 0, 900, ""),
		},
		records.KindCampaigns: {
			campaign(w1, "222", "Brand A", "25.50", 5000, 100, 4500, records.Action{ActionType: "omni_purchase", Value: "2.50"}),
			campaign(w1, "444", "Paused", "0.00", 0, 0, 0),
			campaign(w1, "111", "Spring Sale", "100.00", 20000, 400, 15000,
				records.Action{ActionType: "link_click", Value: "400"}, records.Action{ActionType: "lead", Value: "5"}),
			campaign(w1, "200", "Brand B", "25.5", 5000, 100, 4000),
			campaign(w2, "111", "Spring Sale", "5.00", 1000, 0, 900),
		},
		records.KindPlacements: {
			placement(w1, w1+6, "instagram", "story", "51.00", 10000, 200),
			placement(w1, w1+6, "facebook", "feed", "100.00", 20000, 400),
			placement(w2, w2+6, "facebook", "feed", "5.00", 1000, 0),
			placement(w4, w4stop, "facebook", "feed", "0.00", 10, 0),
		},
		records.KindDemographics: {
			demographic(w1, w1+6, "25-34", "male", "70.00", 14000, 280),
			demographic(w1, w1+6, "25-34", "female", "81.00", 16000, 320),
			demographic(w2, w2+6, "35-44", "unknown", "5.00", 1000, 0),
			demographic(w4, w4stop, "18-24", "female", "0.00", 10, 0),
		},
		records.KindAdRelevance: {
			{DateStart: w1, DateStop: w1 + 6, AdID: "9002", AdName: "Ad two", CampaignID: "222",
				QualityRanking: "UNKNOWN", EngagementRateRanking: "UNKNOWN", ConversionRateRanking: "UNKNOWN",
				Spend: "51.00", Impressions: 10000, Clicks: 200},
			{DateStart: w1, DateStop: w1 + 6, AdID: "9001", AdName: "Ad one", CampaignID: "111",
				QualityRanking: "ABOVE_AVERAGE", EngagementRateRanking: "AVERAGE", ConversionRateRanking: "BELOW_AVERAGE_35",
				Spend: "100.00", Impressions: 20000, Clicks: 400},
		},
	})

	c := writeClient(t, dir, clientC, clientFiles{
		records.KindAccount: {account(w1, w1+6, "20.00", 100, 1, 90, "1.1")},
		records.KindCampaigns: {
			campaign(w1, "1", "ok", "7.66", 50, 0, 40),
			campaign(w1, "2", "bad", "12.3.4", 50, 1, 50),
		},
	})

	b := writeClient(t, dir, clientB, clientFiles{
		records.KindAccount: {account(w1, w1+6, "1.00", 2560000, 32, 1000000, "1.386599")},
		records.KindCampaigns: {
			campaign(w1, "b1", "Café Été — 日本", "0.40", 2000000, 1, 800000, records.Action{ActionType: "link_click", Value: "1"}),
			campaign(w1, "b2", `Sale <50% & "more">`, "0.60", 560000, 31, 300000),
		},
		records.KindPlacements: {
			placement(w1, w1+6, "facebook", "feed", "0.70", 2000000, 20),
			placement(w1, w1+6, "instagram", "stream", "0.20", 560000, 12),
		},
		records.KindDemographics: {
			demographic(w1, w1+6, "25-34", "female", "1.00", 2560000, 32),
		},
	})

	var kpi []records.KPIRow
	for d := w1; d <= w1+6; d++ { // A, week 1: all seven days
		r := records.KPIRow{ClientID: clientA, Date: d, TotalConversions: ip(2), ClickToCall: ip(1), EmailContacts: ip(0),
			BookingStep1: ip(3), BookingStep2: ip(2), BookingStep3: ip(1), Reservations: ip(1), ReservationValue: sp("20.10"),
			TotalClicks: ip(99), TotalSpend: sp("1.00")}
		if d == w1 {
			r.EmailContacts = nil // a NULL among values: left out of the sum
		}
		kpi = append(kpi, r)
	}
	kpi = append(kpi,
		// A, week 3: KPI rows but no account row.
		records.KPIRow{ClientID: clientA, Date: w3, Reservations: ip(4), ReservationValue: sp("50.00")},
		records.KPIRow{ClientID: clientA, Date: w3 + 1, Reservations: ip(1)},
		// A, week 4 (partial, as-of Wednesday the 24th): Mon, Tue, and Thu after the as-of date.
		records.KPIRow{ClientID: clientA, Date: w4, TotalConversions: ip(1), Reservations: ip(0), ReservationValue: sp("0.00")},
		records.KPIRow{ClientID: clientA, Date: w4 + 1, EmailContacts: ip(2), Reservations: ip(0)},
		records.KPIRow{ClientID: clientA, Date: w4 + 3, TotalConversions: ip(10), Reservations: ip(5), ReservationValue: sp("99.00")},
		// B, week 1: one day.
		records.KPIRow{ClientID: clientB, Date: w1 + 2, Reservations: ip(3), ReservationValue: sp("10.00")},
		// Z is not transformed.
		records.KPIRow{ClientID: clientZ, Date: w1, Reservations: ip(1), ReservationValue: sp("not a number")},
	)
	kpiPath := filepath.Join(dir, "extract", "kpi.parquet")
	writeRows(t, kpiPath, kpi)

	for _, ci := range []*ClientInput{&a, &b, &c} {
		ci.AsOf, ci.Currency = records.DayTime(w4stop), currencyOf[ci.ClientID]
	}
	return dir, Input{
		Clients: []ClientInput{a, c, b},
		KPIPath: kpiPath,
		OutPath: filepath.Join(dir, "transform", "summaries.parquet"),
	}
}

// currencyOf is each fixture client's ad account currency; every row carries it, and the
// fixture's as-of date (2024-01-24).
var currencyOf = map[string]string{clientA: "EUR", clientB: "USD", clientC: "PLN"}

// expectedRows are computed by hand from the fixture (see the comments for the arithmetic).
func expectedRows() []records.Summary {
	rows := expectedFigures()
	for i := range rows {
		rows[i].Currency, rows[i].AsOf = currencyOf[rows[i].ClientID], day("2024-01-24")
	}
	return rows
}

func expectedFigures() []records.Summary {
	return []records.Summary{
		{
			// A week 1: campaigns 100.00 + 25.50 + 25.5 + 0.00 = 151.00, 30000 impressions, 600 clicks.
			ClientID: clientA, SummaryDate: w1,
			TotalSpend: "151.00", TotalImpressions: 30000, TotalClicks: 600, Reach: 20000,
			Frequency:  sp("1.3867"), // 1.38665 half away from zero
			AverageCTR: sp("2.0000"), // 600*100/30000
			AverageCPC: sp("0.2517"), // 151/600 = 0.25166…
			AverageCPM: sp("5.0333"), // 151000/30000 = 5.0333…
			// 444 has no impressions: not active, not listed.
			ActiveCampaigns: 3,
			CampaignData: `[` +
				`{"campaign_id":"111","campaign_name":"Spring Sale","spend":100.00,"impressions":20000,"clicks":400,"reach":15000,"ctr":2.0000,"cpc":0.2500,"cpm":5.0000,"actions":{"lead":5,"link_click":400}},` +
				`{"campaign_id":"200","campaign_name":"Brand B","spend":25.50,"impressions":5000,"clicks":100,"reach":4000,"ctr":2.0000,"cpc":0.2550,"cpm":5.1000,"actions":{}},` +
				`{"campaign_id":"222","campaign_name":"Brand A","spend":25.50,"impressions":5000,"clicks":100,"reach":4500,"ctr":2.0000,"cpc":0.2550,"cpm":5.1000,"actions":{"omni_purchase":2.5}}` +
				`]`,
			MetaTables: `{"placementPerformance":[` +
				`{"publisher_platform":"facebook","platform_position":"feed","spend":100.00,"impressions":20000,"clicks":400,"ctr":2.0000,"cpc":0.2500,"cpm":5.0000},` +
				`{"publisher_platform":"instagram","platform_position":"story","spend":51.00,"impressions":10000,"clicks":200,"ctr":2.0000,"cpc":0.2550,"cpm":5.1000}` +
				`],"demographicPerformance":[` +
				`{"age":"25-34","gender":"female","spend":81.00,"impressions":16000,"clicks":320,"ctr":2.0000,"cpc":0.2531,"cpm":5.0625},` +
				`{"age":"25-34","gender":"male","spend":70.00,"impressions":14000,"clicks":280,"ctr":2.0000,"cpc":0.2500,"cpm":5.0000}` +
				`],"adRelevanceResults":[` +
				`{"ad_id":"9001","ad_name":"Ad one","campaign_id":"111","quality_ranking":"ABOVE_AVERAGE","engagement_rate_ranking":"AVERAGE","conversion_rate_ranking":"BELOW_AVERAGE_35","spend":100.00,"impressions":20000},` +
				`{"ad_id":"9002","ad_name":"Ad two","campaign_id":"222","quality_ranking":"UNKNOWN","engagement_rate_ranking":"UNKNOWN","conversion_rate_ranking":"UNKNOWN","spend":51.00,"impressions":10000}` +
				`]}`,
			TotalConversions: ip(14), ClickToCall: ip(7), EmailContacts: ip(0),
			BookingStep1: ip(21), BookingStep2: ip(14), BookingStep3: ip(7),
			Reservations: ip(7), ReservationValue: sp("140.70"), KPIDays: 7,
			ROAS:               sp("0.9318"),  // 140.70/151.00 = 0.93178…
			CostPerReservation: sp("21.5714"), // 151/7 = 21.571428…
		},
		{
			// A week 2: zero clicks, no KPI rows, no frequency.
			ClientID: clientA, SummaryDate: w2,
			TotalSpend: "5.00", TotalImpressions: 1000, TotalClicks: 0, Reach: 900,
			AverageCTR: sp("0.0000"), AverageCPC: nil, AverageCPM: sp("5.0000"),
			ActiveCampaigns: 1,
			CampaignData:    `[{"campaign_id":"111","campaign_name":"Spring Sale","spend":5.00,"impressions":1000,"clicks":0,"reach":900,"ctr":0.0000,"cpc":null,"cpm":5.0000,"actions":{}}]`,
			MetaTables: `{"placementPerformance":[{"publisher_platform":"facebook","platform_position":"feed","spend":5.00,"impressions":1000,"clicks":0,"ctr":0.0000,"cpc":null,"cpm":5.0000}],` +
				`"demographicPerformance":[{"age":"35-44","gender":"unknown","spend":5.00,"impressions":1000,"clicks":0,"ctr":0.0000,"cpc":null,"cpm":5.0000}],` +
				`"adRelevanceResults":[]}`,
			KPIDays: 0,
		},
		// A week 3 has KPI rows only: no row.
		{
			// A week 4: partial (Mon-Wed), zero spend, no campaign rows (account fallback),
			// KPI on Mon and Tue (Thu is after the as-of date), zero reservations.
			ClientID: clientA, SummaryDate: w4,
			TotalSpend: "0.00", TotalImpressions: 10, TotalClicks: 0, Reach: 10,
			Frequency:  sp("1.0000"),
			AverageCTR: sp("0.0000"), AverageCPC: nil, AverageCPM: sp("0.0000"),
			ActiveCampaigns: 0,
			CampaignData:    `[]`,
			MetaTables: `{"placementPerformance":[{"publisher_platform":"facebook","platform_position":"feed","spend":0.00,"impressions":10,"clicks":0,"ctr":0.0000,"cpc":null,"cpm":0.0000}],` +
				`"demographicPerformance":[{"age":"18-24","gender":"female","spend":0.00,"impressions":10,"clicks":0,"ctr":0.0000,"cpc":null,"cpm":0.0000}],` +
				`"adRelevanceResults":[]}`,
			TotalConversions: ip(1), ClickToCall: nil, EmailContacts: ip(2),
			BookingStep1: nil, BookingStep2: nil, BookingStep3: nil,
			Reservations: ip(0), ReservationValue: sp("0.00"), KPIDays: 2,
			ROAS: nil, CostPerReservation: nil,
		},
		{
			// B week 1: rounding half away from zero everywhere, non-ASCII and HTML-ish names.
			ClientID: clientB, SummaryDate: w1,
			TotalSpend: "1.00", TotalImpressions: 2560000, TotalClicks: 32, Reach: 1000000,
			Frequency:       sp("1.3866"), // 1.386599
			AverageCTR:      sp("0.0013"), // 3200/2560000 = 0.00125 exactly
			AverageCPC:      sp("0.0313"), // 1/32 = 0.03125 exactly
			AverageCPM:      sp("0.0004"), // 1000/2560000 = 0.000390625
			ActiveCampaigns: 2,
			CampaignData: `[` +
				`{"campaign_id":"b2","campaign_name":"Sale <50% & \"more\">","spend":0.60,"impressions":560000,"clicks":31,"reach":300000,"ctr":0.0055,"cpc":0.0194,"cpm":0.0011,"actions":{}},` +
				`{"campaign_id":"b1","campaign_name":"Café Été — 日本","spend":0.40,"impressions":2000000,"clicks":1,"reach":800000,"ctr":0.0001,"cpc":0.4000,"cpm":0.0002,"actions":{"link_click":1}}` +
				`]`,
			MetaTables: `{"placementPerformance":[` +
				`{"publisher_platform":"facebook","platform_position":"feed","spend":0.70,"impressions":2000000,"clicks":20,"ctr":0.0010,"cpc":0.0350,"cpm":0.0004},` +
				`{"publisher_platform":"instagram","platform_position":"stream","spend":0.20,"impressions":560000,"clicks":12,"ctr":0.0021,"cpc":0.0167,"cpm":0.0004}` +
				`],"demographicPerformance":[` +
				`{"age":"25-34","gender":"female","spend":1.00,"impressions":2560000,"clicks":32,"ctr":0.0013,"cpc":0.0313,"cpm":0.0004}` +
				`],"adRelevanceResults":[]}`,
			Reservations: ip(3), ReservationValue: sp("10.00"), KPIDays: 1,
			ROAS:               sp("10.0000"), // 10.00/1.00
			CostPerReservation: sp("0.3333"),  // 1.00/3
		},
	}
}

func TestRun(t *testing.T) {
	_, in := fixture(t)
	res, err := Run(context.Background(), in)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := expectedRows()
	got := readAll(t, in.OutPath)
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g := got[i]
		if len(g.ContentHash) != 64 || g.ContentHash != g.Hash() {
			t.Errorf("row %d: content hash %q does not match its fields", i, g.ContentHash)
		}
		g.ContentHash = ""
		if !reflect.DeepEqual(g, want[i]) {
			t.Errorf("row %d:\n got %s\nwant %s", i, dump(g), dump(want[i]))
		}
		if !json.Valid([]byte(g.CampaignData)) || !json.Valid([]byte(g.MetaTables)) {
			t.Errorf("row %d: invalid JSON", i)
		}
	}

	if res.Clients != 2 || res.Rows != 4 {
		t.Errorf("Clients, Rows = %d, %d; want 2, 4", res.Clients, res.Rows)
	}
	if r := res.PerClient[clientA]; r.Rows != 3 || r.Warnings != 1 || r.Err != nil {
		t.Errorf("client A: %+v", r)
	}
	if r := res.PerClient[clientB]; r.Rows != 1 || r.Warnings != 1 || r.Err != nil {
		t.Errorf("client B: %+v", r)
	}

	// C: the error names client, report, row and field; nothing of C is written.
	cerr := res.PerClient[clientC].Err
	const wantErr = `client ` + clientC + `: campaigns.parquet row 1: spend "12.3.4": not a decimal`
	if cerr == nil || cerr.Error() != wantErr {
		t.Errorf("client C error = %v, want %s", cerr, wantErr)
	}
	var ie *InputError
	if !errors.As(cerr, &ie) || ie.Field != "spend" || ie.Row != 1 || !errors.Is(cerr, ErrNotDecimal) {
		t.Errorf("client C error is not a spend InputError: %#v", cerr)
	}
	if got := res.Failed(in); !reflect.DeepEqual(got, []string{clientC}) {
		t.Errorf("Failed = %v", got)
	}

	// Warnings: A week 4 has no campaign rows (0 impressions vs 10); B's placements lack 0.10.
	type w struct{ client, week, check string }
	var gotW []w
	for _, x := range res.Warnings {
		gotW = append(gotW, w{x.ClientID, x.Week.Format("2006-01-02"), x.Check})
	}
	wantW := []w{
		{clientA, "2024-01-22", "campaigns_vs_account_impressions"},
		{clientB, "2024-01-01", "placements_vs_account_spend"},
	}
	if !reflect.DeepEqual(gotW, wantW) {
		t.Errorf("warnings = %+v, want %+v", res.Warnings, wantW)
	}
	if d := res.Warnings[1].Detail; !strings.Contains(d, "0.9") || !strings.Contains(d, "1") {
		t.Errorf("placement warning detail %q", d)
	}

	// No temporary file left next to the output.
	entries, _ := os.ReadDir(filepath.Dir(in.OutPath))
	if len(entries) != 1 {
		t.Errorf("transform dir holds %d entries, want only summaries.parquet", len(entries))
	}

	// Stable: a second run writes the same rows, hashes included.
	if _, err := Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	again := readAll(t, in.OutPath)
	for i := range again {
		if again[i].ContentHash != got[i].ContentHash {
			t.Errorf("row %d: hash changed between runs", i)
		}
	}
}

func dump(s records.Summary) string {
	b, _ := json.MarshalIndent(s, "", " ")
	return string(b)
}

func TestRunBadKPIFails(t *testing.T) {
	_, in := fixture(t)
	in.Clients = append(in.Clients, ClientInput{ClientID: clientZ, Dir: records.ClientDir(filepath.Join(filepath.Dir(in.KPIPath), clientZ))})
	_, err := Run(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), `kpi.parquet row`) || !strings.Contains(err.Error(), `reservation_value "not a number"`) {
		t.Fatalf("err = %v", err)
	}
	if _, serr := os.Stat(in.OutPath); !os.IsNotExist(serr) {
		t.Errorf("output exists after a failed run")
	}

	in.KPIPath += ".missing"
	if _, err := Run(context.Background(), in); !errors.Is(err, ErrMissingInput) {
		t.Errorf("missing kpi: err = %v", err)
	}
}

func TestRunMissingClientFile(t *testing.T) {
	_, in := fixture(t)
	if err := os.Remove(in.Clients[2].Dir.Report(records.KindPlacements)); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if e := res.PerClient[clientB].Err; !errors.Is(e, ErrMissingInput) || !strings.Contains(e.Error(), "placements.parquet") {
		t.Errorf("client B error = %v", e)
	}
	if res.Rows != 3 {
		t.Errorf("rows = %d, want 3 (client A only)", res.Rows)
	}
}

func TestRunCancelled(t *testing.T) {
	_, in := fixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(in.OutPath); !os.IsNotExist(err) {
		t.Errorf("output exists after a cancelled run")
	}
}

func TestMalformedRows(t *testing.T) {
	mon := day("2024-01-01")
	tests := []struct {
		name    string
		kind    records.Kind
		row     records.InsightRow
		wantErr string
	}{
		{"not a monday", records.KindPlacements, placement(mon+1, mon+6, "facebook", "feed", "1.00", 1, 0),
			`placements.parquet row 0: date_start "2024-01-02": not a Monday`},
		{"stop after sunday", records.KindDemographics, demographic(mon, mon+7, "a", "b", "1.00", 1, 0),
			`demographics.parquet row 0: date_stop "2024-01-08": outside the week of date_start`},
		{"negative impressions", records.KindCampaigns, campaign(mon, "1", "x", "1.00", -1, 0, 0),
			`campaigns.parquet row 0: impressions "-1": negative`},
		{"bad action", records.KindCampaigns, campaign(mon, "1", "x", "1.00", 1, 0, 0, records.Action{ActionType: "lead", Value: "1,5"}),
			`campaigns.parquet row 0: actions[0].value "1,5": not a decimal`},
		{"empty spend", records.KindAdRelevance, records.InsightRow{DateStart: mon, DateStop: mon + 6, AdID: "1"},
			`ad_relevance.parquet row 0: spend "": not a decimal`},
		{"bad frequency", records.KindAccount, account(mon, mon+6, "1.00", 1, 0, 1, "1.x"),
			`account.parquet row 0: frequency "1.x": not a decimal`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := clientFiles{records.KindAccount: {account(mon, mon+6, "1.00", 1, 0, 1, "1")}}
			if tt.kind == records.KindAccount {
				files[tt.kind] = nil
			}
			files[tt.kind] = append(files[tt.kind], tt.row)
			ci := writeClient(t, dir, "c", files)
			kpi := filepath.Join(dir, "kpi.parquet")
			writeRows[records.KPIRow](t, kpi, nil)
			res, err := Run(context.Background(), Input{Clients: []ClientInput{ci}, KPIPath: kpi, OutPath: filepath.Join(dir, "out.parquet")})
			if err != nil {
				t.Fatal(err)
			}
			if e := res.PerClient["c"].Err; e == nil || e.Error() != "client c: "+tt.wantErr {
				t.Errorf("err = %v\nwant client c: %s", e, tt.wantErr)
			}
		})
	}
}

func TestDuplicateCampaignInWeek(t *testing.T) {
	dir := t.TempDir()
	mon := day("2024-01-01")
	ci := writeClient(t, dir, "c", clientFiles{
		records.KindAccount:   {account(mon, mon+6, "2.00", 2, 0, 1, "1")},
		records.KindCampaigns: {campaign(mon, "1", "x", "1.00", 1, 0, 1), campaign(mon, "1", "x", "1.00", 1, 0, 1)},
	})
	kpi := filepath.Join(dir, "kpi.parquet")
	writeRows[records.KPIRow](t, kpi, nil)
	res, err := Run(context.Background(), Input{Clients: []ClientInput{ci}, KPIPath: kpi, OutPath: filepath.Join(dir, "out.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.PerClient["c"].Err; !errors.Is(e, ErrDuplicate) {
		t.Errorf("err = %v", e)
	}
}

func TestRowsWithoutAccountWarn(t *testing.T) {
	dir := t.TempDir()
	mon := day("2024-01-01")
	ci := writeClient(t, dir, "c", clientFiles{
		records.KindAccount:      {account(mon, mon+6, "1.00", 1, 0, 1, "1")},
		records.KindCampaigns:    {campaign(mon, "1", "x", "1.00", 1, 0, 1), campaign(mon+7, "1", "x", "2.00", 2, 0, 1)},
		records.KindPlacements:   {placement(mon, mon+6, "facebook", "feed", "1.00", 1, 0)},
		records.KindDemographics: {demographic(mon, mon+6, "18-24", "male", "1.00", 1, 0)},
	})
	kpi := filepath.Join(dir, "kpi.parquet")
	writeRows[records.KPIRow](t, kpi, nil)
	res, err := Run(context.Background(), Input{Clients: []ClientInput{ci}, KPIPath: kpi, OutPath: filepath.Join(dir, "out.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 1 || len(res.Warnings) != 1 || res.Warnings[0].Check != "campaigns_without_account" ||
		res.Warnings[0].Week.Format("2006-01-02") != "2024-01-08" {
		t.Errorf("rows %d, warnings %+v", res.Rows, res.Warnings)
	}
}
