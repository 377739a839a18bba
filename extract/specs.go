package extract

import "github.com/metapipe/metapipe/internal/records"

// ReportSpec is what one report kind asks Meta for: the level, the breakdowns and the fields
// (Meta's Ad Insights reference names them).
type ReportSpec struct {
	Kind       records.Kind
	Level      string
	Breakdowns []string
	Fields     []string
}

// Specs are the five report kinds of docs/DESIGN.md.
var Specs = map[records.Kind]ReportSpec{
	records.KindAccount: {Kind: records.KindAccount, Level: "account",
		Fields: []string{"spend", "impressions", "clicks", "reach", "frequency"}},
	records.KindCampaigns: {Kind: records.KindCampaigns, Level: "campaign",
		Fields: []string{"campaign_id", "campaign_name", "spend", "impressions", "clicks", "reach", "actions"}},
	records.KindPlacements: {Kind: records.KindPlacements, Level: "account", Breakdowns: []string{"publisher_platform", "platform_position"},
		Fields: []string{"spend", "impressions", "clicks"}},
	records.KindDemographics: {Kind: records.KindDemographics, Level: "account", Breakdowns: []string{"age", "gender"},
		Fields: []string{"spend", "impressions", "clicks"}},
	records.KindAdRelevance: {Kind: records.KindAdRelevance, Level: "ad",
		Fields: []string{"ad_id", "ad_name", "campaign_id", "quality_ranking", "engagement_rate_ranking",
			"conversion_rate_ranking", "spend", "impressions", "clicks"}},
}
