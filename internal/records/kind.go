package records

// Kind names one of the five report kinds (docs/DESIGN.md, "Report kinds"). Each kind is one
// asynchronous report run per client, split into several only when Meta says the range is too
// large, and one staged file per client.
type Kind string

// The report kinds.
const (
	KindAccount      Kind = "account"      // level=account: totals, reach, frequency
	KindCampaigns    Kind = "campaigns"    // level=campaign: campaign_data, active_campaigns
	KindPlacements   Kind = "placements"   // level=account by publisher_platform, platform_position
	KindDemographics Kind = "demographics" // level=account by age, gender
	KindAdRelevance  Kind = "ad_relevance" // level=ad: quality, engagement and conversion rankings
)

// Kinds lists every report kind in a fixed order.
var Kinds = []Kind{KindAccount, KindCampaigns, KindPlacements, KindDemographics, KindAdRelevance}
