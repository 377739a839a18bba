package extract

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

func testRange() Range {
	return Range{Since: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 1, 21, 0, 0, 0, 0, time.UTC)}
}

func parseOne(t *testing.T, kind records.Kind, js string) (records.InsightRow, error) {
	t.Helper()
	var raw resultRow
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		t.Fatalf("bad test JSON: %v", err)
	}
	p := newRowParser("Acme", Specs[kind], testRange())
	err := p.add(&raw)
	if err != nil {
		return records.InsightRow{}, err
	}
	return p.rows[0], nil
}

func TestParseRow(t *testing.T) {
	r, err := parseOne(t, records.KindCampaigns, `{"campaign_id":"2385","campaign_name":"Été — 夏","spend":"12.34","impressions":"9708",
		"clicks":"151","reach":"7001","actions":[{"action_type":"link_click","value":"118"},{"action_type":"purchase","value":"2.5"}],
		"date_start":"2026-01-12","date_stop":"2026-01-18"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := records.InsightRow{DateStart: records.DayNumber(time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)), DateStop: records.DayNumber(time.Date(2026, 1, 18, 0, 0, 0, 0, time.UTC)),
		CampaignID: "2385", CampaignName: "Été — 夏", Spend: "12.34", Impressions: 9708, Clicks: 151, Reach: 7001,
		Actions: []records.Action{{ActionType: "link_click", Value: "118"}, {ActionType: "purchase", Value: "2.5"}}}
	gj, _ := json.Marshal(r)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("got %s\nwant %s", gj, wj)
	}

	// Ids as bare JSON numbers (one official example), the last bucket cut at until, zeros omitted.
	r, err = parseOne(t, records.KindAdRelevance, `{"ad_id":6011,"ad_name":"A","campaign_id":"1","quality_ranking":"BRAND_NEW_VALUE",
		"spend":"0.5","impressions":"3","date_start":"2026-01-19","date_stop":"2026-01-21"}`)
	if err != nil {
		t.Fatal(err)
	}
	if r.AdID != "6011" || r.Clicks != 0 || r.QualityRanking != "BRAND_NEW_VALUE" || r.Spend != "0.5" {
		t.Errorf("got %+v", r)
	}
}

func TestParseRowErrors(t *testing.T) {
	base := `"campaign_id":"1","campaign_name":"C","date_start":"2026-01-12","date_stop":"2026-01-18"`
	cases := []struct {
		name, js, field string
	}{
		{"spend not a decimal", `{` + base + `,"spend":"12.3.4","impressions":"1"}`, "spend"},
		{"spend a float with exponent", `{` + base + `,"spend":"1e3","impressions":"1"}`, "spend"},
		{"negative impressions", `{` + base + `,"spend":"1.00","impressions":"-5"}`, "impressions"},
		{"impressions fractional", `{` + base + `,"spend":"1.00","impressions":"5.5"}`, "impressions"},
		{"absurd impressions", `{` + base + `,"spend":"1.00","impressions":"99999999999999999"}`, "impressions"},
		{"absurd spend", `{` + base + `,"spend":"123456789012345.00","impressions":"1"}`, "spend"},
		{"spend an object", `{` + base + `,"spend":{"v":1},"impressions":"1"}`, "spend"},
		{"missing date_start", `{"campaign_id":"1","date_stop":"2026-01-18","spend":"1"}`, "date_start"},
		{"date_start not a Monday bucket", `{"campaign_id":"1","date_start":"2026-01-13","date_stop":"2026-01-18","spend":"1"}`, "date_start"},
		{"date_start outside the range", `{"campaign_id":"1","date_start":"2026-02-02","date_stop":"2026-02-08","spend":"1"}`, "date_start"},
		{"date_stop beyond the bucket", `{"campaign_id":"1","date_start":"2026-01-12","date_stop":"2026-01-25","spend":"1"}`, "date_stop"},
		{"bad date", `{"campaign_id":"1","date_start":"12/01/2026","date_stop":"2026-01-18","spend":"1"}`, "date_start"},
		{"missing campaign id", `{"date_start":"2026-01-12","date_stop":"2026-01-18","spend":"1"}`, "campaign_id"},
		{"campaign id not numeric", `{"campaign_id":"abc","date_start":"2026-01-12","date_stop":"2026-01-18","spend":"1"}`, "campaign_id"},
		{"actions not a list", `{` + base + `,"spend":"1","actions":"lots"}`, "actions"},
		{"action value negative", `{` + base + `,"spend":"1","actions":[{"action_type":"lead","value":"-1"}]}`, "actions[0].value"},
		{"action without type", `{` + base + `,"spend":"1","actions":[{"value":"1"}]}`, "actions[0].action_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseOne(t, records.KindCampaigns, tc.js)
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a RowError", err)
			}
			if re.Field != tc.field || re.Kind != records.KindCampaigns || re.Client != "Acme" {
				t.Errorf("error names field %q kind %q client %q, want %q campaigns Acme", re.Field, re.Kind, re.Client, tc.field)
			}
			for _, s := range []string{"Acme", "campaigns", "row 0", tc.field} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestParseDuplicates(t *testing.T) {
	p := newRowParser("Acme", Specs[records.KindAccount], testRange())
	row := func(spend string) *resultRow {
		var raw resultRow
		_ = json.Unmarshal([]byte(`{"spend":"`+spend+`","impressions":"10","date_start":"2026-01-05","date_stop":"2026-01-11"}`), &raw)
		return &raw
	}
	if err := p.add(row("1.00")); err != nil {
		t.Fatal(err)
	}
	if err := p.add(row("1.00")); err != nil {
		t.Fatalf("identical row on a second page: %v", err)
	}
	if len(p.rows) != 1 {
		t.Errorf("%d rows kept, want 1", len(p.rows))
	}
	if err := p.add(row("2.00")); err == nil {
		t.Error("a conflicting duplicate was accepted")
	}
}

func TestRangeSplit(t *testing.T) {
	r := Range{Since: time.Date(2025, 11, 24, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)}
	if r.Weeks() != 53 {
		t.Fatalf("weeks = %d", r.Weeks())
	}
	a, b := r.split()
	if a.Weeks()+b.Weeks() != 53 || a.Until.AddDate(0, 0, 1) != b.Since || b.Since.Weekday() != time.Monday || a.Until.Weekday() != time.Sunday {
		t.Errorf("split %s + %s", a, b)
	}
}
