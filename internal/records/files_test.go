package records_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rows := []records.InsightRow{
		{DateStart: 20454, DateStop: 20460, CampaignID: "1", CampaignName: "Zürich 🚀", Spend: "0.01", Impressions: 1, Reach: 1,
			Actions: []records.Action{{"link_click", "3"}, {"lead", "1"}}},
		{DateStart: 20461, DateStop: 20463, AdID: "9", QualityRanking: "UNKNOWN", Spend: "12345.67", Frequency: "1.386599"},
	}
	if err := records.WriteParquet(dir+"/x.parquet", rows, records.RowGroupRows); err != nil {
		t.Fatal(err)
	}
	got, err := records.ReadParquet[records.InsightRow](dir + "/x.parquet")
	if err != nil {
		t.Fatal(err)
	}
	rows[1].Actions = []records.Action{} // an empty list reads back empty, not nil
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(rows)
	if string(gj) != string(wj) {
		t.Errorf("round trip:\n got %s\nwant %s", gj, wj)
	}
	if records.DayTime(got[0].DateStart).Format(time.DateOnly) != "2026-01-01" {
		t.Errorf("date %d reads back as %s", got[0].DateStart, records.DayTime(got[0].DateStart))
	}

	ten, three := int64(10), "3.50"
	kpi := []records.KPIRow{{ClientID: "c", Date: 20454, TotalClicks: &ten, ReservationValue: &three}, {ClientID: "c", Date: 20455}}
	if err := records.WriteParquet(dir+"/k.parquet", kpi, records.RowGroupRows); err != nil {
		t.Fatal(err)
	}
	gk, err := records.ReadParquet[records.KPIRow](dir + "/k.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if *gk[0].TotalClicks != 10 || *gk[0].ReservationValue != "3.50" || gk[1].TotalClicks != nil || gk[1].ReservationValue != nil {
		t.Errorf("kpi round trip: %+v %+v", gk[0], gk[1])
	}
}
