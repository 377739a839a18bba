package transform

// Summary is one row of `transform/summaries.parquet`: one client and ISO week, ready for the
// load. Decimal figures are exact decimal text already rounded to the column's scale; a nil
// pointer is NULL. CampaignData and MetaTables are valid JSON. ContentHash is the hex SHA-256
// of every other field, so the load can tell unchanged rows without comparing them.
type Summary struct {
	ClientID    string `parquet:"client_id"`         // clients.id, a UUID in text form
	SummaryDate int32  `parquet:"summary_date,date"` // the week's Monday, days since 1970-01-01

	TotalSpend       string  `parquet:"total_spend"` // 2 decimals
	TotalImpressions int64   `parquet:"total_impressions"`
	TotalClicks      int64   `parquet:"total_clicks"`
	Reach            int64   `parquet:"reach"`
	Frequency        *string `parquet:"frequency,optional"`   // 4 decimals
	AverageCTR       *string `parquet:"average_ctr,optional"` // 4 decimals
	AverageCPC       *string `parquet:"average_cpc,optional"`
	AverageCPM       *string `parquet:"average_cpm,optional"`
	ActiveCampaigns  int32   `parquet:"active_campaigns"`

	CampaignData string `parquet:"campaign_data"` // JSON array
	MetaTables   string `parquet:"meta_tables"`   // JSON object

	TotalConversions *int64  `parquet:"total_conversions,optional"`
	ClickToCall      *int64  `parquet:"click_to_call,optional"`
	EmailContacts    *int64  `parquet:"email_contacts,optional"`
	BookingStep1     *int64  `parquet:"booking_step_1,optional"`
	BookingStep2     *int64  `parquet:"booking_step_2,optional"`
	BookingStep3     *int64  `parquet:"booking_step_3,optional"`
	Reservations     *int64  `parquet:"reservations,optional"`
	ReservationValue *string `parquet:"reservation_value,optional"` // 2 decimals
	KPIDays          int32   `parquet:"kpi_days"`

	ROAS               *string `parquet:"roas,optional"`                 // 4 decimals
	CostPerReservation *string `parquet:"cost_per_reservation,optional"` // 4 decimals

	ContentHash string `parquet:"content_hash"`
}
