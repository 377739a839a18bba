package extract

import "time"

// Kind names one of the five report kinds of DESIGN.md. Each kind is one asynchronous report
// run per client (split into several only when Meta says the range is too large).
type Kind string

const (
	KindAccount      Kind = "account"
	KindCampaigns    Kind = "campaigns"
	KindPlacements   Kind = "placements"
	KindDemographics Kind = "demographics"
	KindAdRelevance  Kind = "ad_relevance"
)

// Kinds lists every report kind in a fixed order.
var Kinds = []Kind{KindAccount, KindCampaigns, KindPlacements, KindDemographics, KindAdRelevance}

// Action is one entry of Meta's `actions` list. Value is the exact decimal text.
type Action struct {
	ActionType string `parquet:"action_type" json:"action_type"`
	Value      string `parquet:"value" json:"value"`
}

// InsightRow is one raw row of an Insights report, the same schema for every kind: the columns
// a kind does not use stay empty. Money and other fractional figures are kept as exact decimal
// text (never a float); counts are integers; dates are days since the Unix epoch.
type InsightRow struct {
	DateStart int32 `parquet:"date_start,date"`
	DateStop  int32 `parquet:"date_stop,date"`

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

	Spend       string `parquet:"spend"` // decimal text, e.g. "12.34"
	Impressions int64  `parquet:"impressions"`
	Clicks      int64  `parquet:"clicks"`
	Reach       int64  `parquet:"reach"`
	Frequency   string `parquet:"frequency"` // decimal text as Meta sent it, "" when absent

	Actions []Action `parquet:"actions,list"`
}

// KPIRow is one day of `daily_kpi_data` for a client (platform already filtered to "meta").
// A nil pointer is a NULL in the database.
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

// DayNumber converts a calendar date to days since 1970-01-01 (the Parquet `date` encoding).
func DayNumber(t time.Time) int32 {
	y, m, d := t.Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DayTime converts days since 1970-01-01 back to a UTC midnight.
func DayTime(days int32) time.Time {
	return time.Unix(int64(days)*86400, 0).UTC()
}
