package records

// Kind names one of the report kinds (docs/DESIGN.md, "Report kinds"). Each kind is one
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

// MaxKeyColumns is the most columns a kind's identity key has besides the week.
const MaxKeyColumns = 2

// KindSpec describes one report kind: what it asks Meta for (level, breakdowns, fields, named as
// in Meta's Ad Insights reference), what identifies one of its rows, and the columns of
// [InsightRow] it fills. The extract's request and strict row parser and the transform's reader
// are driven by it; what a kind's rows become in a summary is the transform's builder for it.
//
// Adding a kind is one entry in [KindSpecs] (with the [InsightRow] fields it needs, if new)
// and its transform builder; TestKindSpecsAreComplete and the extract's and transform's
// completeness tests say what is missing.
type KindSpec struct {
	Kind  Kind
	Level string // account, campaign or ad
	// Breakdowns are Meta's breakdowns, in the order asked; each is also a column of the row and
	// part of its key.
	Breakdowns []string
	// Fields are the fields asked for, each an [InsightRow] column (date_start and date_stop
	// come with every row).
	Fields []string
	// Key lists the columns that, with date_start, identify a row of the kind (at most
	// [MaxKeyColumns]; none for one row a week). A key column is required: a row without it is
	// refused.
	Key []string
	// InSummary is where the kind's rows land in a [Summary], one JSON array element each:
	// a JSON column of campaign_summaries, then member names, dot-separated
	// ("meta_tables.placementPerformance"). Empty for the one account row a week, which feeds the
	// summary's own columns.
	InSummary string
	// Short is a label of at most four letters, for narrow displays.
	Short string
}

// Columns are the [InsightRow] columns the kind fills besides the dates and the figures every
// kind carries (spend, impressions, clicks): its other fields, then its breakdowns.
func (k KindSpec) Columns() []string {
	var cols []string
	for _, f := range k.Fields {
		if !isCommonFigure(f) {
			cols = append(cols, f)
		}
	}
	return append(cols, k.Breakdowns...)
}

// CommonFigures are the delivery figures every report kind asks for.
var CommonFigures = []string{"spend", "impressions", "clicks"}

func isCommonFigure(f string) bool {
	for _, c := range CommonFigures {
		if f == c {
			return true
		}
	}
	return false
}

// KindSpecs are the report kinds, in a fixed order (the order of [Kinds]).
var KindSpecs = []KindSpec{
	{Kind: KindAccount, Level: "account", Short: "acct",
		Fields: []string{"spend", "impressions", "clicks", "reach", "frequency"}},
	{Kind: KindCampaigns, Level: "campaign", Short: "camp", Key: []string{"campaign_id"}, InSummary: "campaign_data",
		Fields: []string{"campaign_id", "campaign_name", "spend", "impressions", "clicks", "reach", "actions"}},
	{Kind: KindPlacements, Level: "account", Short: "plac", Key: []string{"publisher_platform", "platform_position"},
		InSummary:  "meta_tables.placementPerformance",
		Breakdowns: []string{"publisher_platform", "platform_position"},
		Fields:     []string{"spend", "impressions", "clicks"}},
	{Kind: KindDemographics, Level: "account", Short: "demo", Key: []string{"age", "gender"},
		InSummary:  "meta_tables.demographicPerformance",
		Breakdowns: []string{"age", "gender"},
		Fields:     []string{"spend", "impressions", "clicks"}},
	{Kind: KindAdRelevance, Level: "ad", Short: "ads", Key: []string{"ad_id"}, InSummary: "meta_tables.adRelevanceResults",
		Fields: []string{"ad_id", "ad_name", "campaign_id", "quality_ranking", "engagement_rate_ranking",
			"conversion_rate_ranking", "spend", "impressions", "clicks"}},
}

// Kinds lists every report kind in a fixed order: the kinds of [KindSpecs].
var Kinds = func() []Kind {
	ks := make([]Kind, len(KindSpecs))
	for i, s := range KindSpecs {
		ks[i] = s.Kind
	}
	return ks
}()

// SpecOf returns the descriptor of a kind, and false for a kind not in [KindSpecs].
func SpecOf(kind Kind) (KindSpec, bool) {
	for _, s := range KindSpecs {
		if s.Kind == kind {
			return s, true
		}
	}
	return KindSpec{}, false
}
