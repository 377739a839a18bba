package transform_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/transform"
)

// One client-week staged by hand, as extract would stage it: the account row, two campaigns,
// and two days of KPI rows. The transform writes one summary row per client and week.
func ExampleRun() {
	run, _ := os.MkdirTemp("", "example-run")
	defer os.RemoveAll(run)
	dir := records.RunDir(run)
	client := "6f1a2b3c-0000-4000-8000-00000000000a"
	monday := records.DayNumber(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))

	raw := map[records.Kind][]records.InsightRow{
		records.KindAccount: {{DateStart: monday, DateStop: monday + 6, Spend: "150.00", Impressions: 30000,
			Clicks: 600, Reach: 20000, Frequency: "1.5"}},
		records.KindCampaigns: {
			{DateStart: monday, DateStop: monday + 6, CampaignID: "11", CampaignName: "Winter", Spend: "100.00",
				Impressions: 20000, Clicks: 500, Reach: 15000,
				Actions: []records.Action{{ActionType: "link_click", Value: "480"}}},
			{DateStart: monday, DateStop: monday + 6, CampaignID: "12", CampaignName: "Brand", Spend: "50.00",
				Impressions: 10000, Clicks: 100, Reach: 8000},
		},
		// Breakdowns that add up to the account row; sums that do not would be warnings.
		records.KindPlacements: {{DateStart: monday, DateStop: monday + 6, PublisherPlatform: "instagram",
			PlatformPosition: "reels", Spend: "150.00", Impressions: 30000, Clicks: 600}},
		records.KindDemographics: {{DateStart: monday, DateStop: monday + 6, Age: "25-34", Gender: "female",
			Spend: "150.00", Impressions: 30000, Clicks: 600}},
	}
	for _, k := range records.Kinds { // every kind has a file, empty or not
		_ = records.WriteParquet(dir.Client(client).Report(k), raw[k], records.RowGroupRows)
	}
	two, value := int64(2), "300.00"
	_ = records.WriteParquet(dir.KPI(), []records.KPIRow{
		{ClientID: client, Date: monday, Reservations: &two, ReservationValue: &value},
		{ClientID: client, Date: monday + 1},
	}, records.RowGroupRows)

	res, err := transform.Run(context.Background(), transform.Input{
		Clients: []transform.ClientInput{{ClientID: client, Dir: dir.Client(client)}},
		KPIPath: dir.KPI(), OutPath: dir.Summaries(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	rows, _ := records.ReadParquet[records.Summary](dir.Summaries())
	s := rows[0]
	fmt.Println("rows:", res.Rows, "warnings:", len(res.Warnings))
	fmt.Println("week:", records.DayTime(s.SummaryDate).Format(time.DateOnly))
	fmt.Println("spend:", s.TotalSpend, "ctr:", *s.AverageCTR, "cpc:", *s.AverageCPC, "cpm:", *s.AverageCPM)
	fmt.Println("reach:", s.Reach, "frequency:", *s.Frequency, "active campaigns:", s.ActiveCampaigns)
	fmt.Println("kpi days:", s.KPIDays, "reservations:", *s.Reservations, "roas:", *s.ROAS)
	fmt.Println("campaign_data:", s.CampaignData)
	// Output:
	// rows: 1 warnings: 0
	// week: 2026-01-05
	// spend: 150.00 ctr: 2.0000 cpc: 0.2500 cpm: 5.0000
	// reach: 20000 frequency: 1.5000 active campaigns: 2
	// kpi days: 2 reservations: 2 roas: 2.0000
	// campaign_data: [{"campaign_id":"11","campaign_name":"Winter","spend":100.00,"impressions":20000,"clicks":500,"reach":15000,"ctr":2.5000,"cpc":0.2000,"cpm":5.0000,"actions":{"link_click":480}},{"campaign_id":"12","campaign_name":"Brand","spend":50.00,"impressions":10000,"clicks":100,"reach":8000,"ctr":1.0000,"cpc":0.5000,"cpm":5.0000,"actions":{}}]
}
