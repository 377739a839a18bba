package records

// Action is one entry of Meta's `actions` list. Value is the exact decimal text Meta sent.
type Action struct {
	ActionType string `parquet:"action_type" json:"action_type"`
	Value      string `parquet:"value" json:"value"`
}

// InsightRow is one raw row of an Insights report, staged by extract in
// <run>/extract/<client>/<kind>.parquet and read by transform. Every kind has the same schema;
// the columns a kind does not use stay empty. Money and other fractional figures are exact
// decimal text (never a float); counts are integers; dates are days since 1970-01-01 in the ad
// account's calendar, as Meta reports them.
type InsightRow struct {
	DateStart int32 `parquet:"date_start,date"` // the weekly bucket's first day, a Monday
	DateStop  int32 `parquet:"date_stop,date"`  // its last day: the Sunday, or the as-of date

	CampaignID   string `parquet:"campaign_id"`
	CampaignName string `parquet:"campaign_name"`
	AdID         string `parquet:"ad_id"`
	AdName       string `parquet:"ad_name"`

	PublisherPlatform string `parquet:"publisher_platform"`
	PlatformPosition  string `parquet:"platform_position"`
	Age               string `parquet:"age"`
	Gender            string `parquet:"gender"`

	QualityRanking        string `parquet:"quality_ranking"`
	EngagementRateRanking string `parquet:"engagement_rate_ranking"`
	ConversionRateRanking string `parquet:"conversion_rate_ranking"`

	Spend       string `parquet:"spend"` // account currency, decimal text, e.g. "12.34"
	Impressions int64  `parquet:"impressions"`
	Clicks      int64  `parquet:"clicks"`
	Reach       int64  `parquet:"reach"`     // unique people: never summed across rows
	Frequency   string `parquet:"frequency"` // decimal text as Meta sent it, "" when absent

	Actions []Action `parquet:"actions,list"`
}

// KPIRow is one day of daily_kpi_data for a client, platform 'meta', staged by extract's bulk
// read in <run>/extract/kpi.parquet (sorted by client, then date). A nil pointer is a NULL in
// the database. Money is decimal text in the account currency.
type KPIRow struct {
	ClientID string `parquet:"client_id"`
	Date     int32  `parquet:"date,date"`

	TotalClicks      *int64  `parquet:"total_clicks,optional"`
	TotalImpressions *int64  `parquet:"total_impressions,optional"`
	TotalSpend       *string `parquet:"total_spend,optional"`
	TotalConversions *int64  `parquet:"total_conversions,optional"`
	ClickToCall      *int64  `parquet:"click_to_call,optional"`
	EmailContacts    *int64  `parquet:"email_contacts,optional"`
	BookingStep1     *int64  `parquet:"booking_step_1,optional"`
	BookingStep2     *int64  `parquet:"booking_step_2,optional"`
	BookingStep3     *int64  `parquet:"booking_step_3,optional"`
	Reservations     *int64  `parquet:"reservations,optional"`
	ReservationValue *string `parquet:"reservation_value,optional"`
}
