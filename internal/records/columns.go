package records

import "regexp"

// ColumnType is how a summary column's value is written to PostgreSQL.
type ColumnType int

// The column types. A column's Value returns, by type: TypeUUID and TypeJSON a string; TypeDate an
// int64 (days since 1970-01-01); TypeInt an int64, or *int64 when nullable; TypeDecimal a
// string, or *string when nullable (exact decimal text); TypeText a string.
const (
	TypeUUID ColumnType = iota
	TypeDate
	TypeInt
	TypeDecimal
	TypeJSON
	TypeText
)

// SummaryColumn is one column of campaign_summaries written from a [Summary].
type SummaryColumn struct {
	Name string // the column in campaign_summaries (and the field's Parquet name)
	Type ColumnType
	// NonNegative refuses a negative value before the COPY, so the error names the client,
	// week and field instead of a CHECK constraint.
	NonNegative bool
	// Max, when not 0, is the largest value a TypeInt column accepts.
	Max int64
	// Pattern, when set, is what a TypeText value must match.
	Pattern *regexp.Regexp
	// Hashed columns make up [Summary.Hash]; ContentHash itself is not hashed.
	Hashed bool
	// Value reads the column's value from a summary (see [ColumnType] for its Go type).
	Value func(s *Summary) any
}

// SummaryColumns are the columns the load writes, in COPY order. The staging table is created
// from these names (CREATE TEMP TABLE … AS SELECT <names> FROM campaign_summaries), the COPY
// values are filled by walking this table, and the merge updates every one of them. Adding a
// column to campaign_summaries is: a field in [Summary], one entry here, a migration, and the
// transform computing it. The order of the hashed entries is part of [Summary.Hash]'s encoding.
//
// summary_type ('weekly'), platform ('meta'), data_source and last_updated are not here: the
// load sets them.
var SummaryColumns = []SummaryColumn{
	{Name: "client_id", Type: TypeUUID, Hashed: true, Value: func(s *Summary) any { return s.ClientID }},
	{Name: "summary_date", Type: TypeDate, Hashed: true, Value: func(s *Summary) any { return int64(s.SummaryDate) }},
	{Name: "total_spend", Type: TypeDecimal, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.TotalSpend }},
	{Name: "total_impressions", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.TotalImpressions }},
	{Name: "total_clicks", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.TotalClicks }},
	{Name: "reach", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.Reach }},
	{Name: "frequency", Type: TypeDecimal, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.Frequency }},
	{Name: "average_ctr", Type: TypeDecimal, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.AverageCTR }},
	{Name: "average_cpc", Type: TypeDecimal, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.AverageCPC }},
	{Name: "average_cpm", Type: TypeDecimal, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.AverageCPM }},
	{Name: "active_campaigns", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return int64(s.ActiveCampaigns) }},
	{Name: "campaign_data", Type: TypeJSON, Hashed: true, Value: func(s *Summary) any { return s.CampaignData }},
	{Name: "meta_tables", Type: TypeJSON, Hashed: true, Value: func(s *Summary) any { return s.MetaTables }},
	{Name: "total_conversions", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.TotalConversions }},
	{Name: "click_to_call", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.ClickToCall }},
	{Name: "email_contacts", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.EmailContacts }},
	{Name: "booking_step_1", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.BookingStep1 }},
	{Name: "booking_step_2", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.BookingStep2 }},
	{Name: "booking_step_3", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.BookingStep3 }},
	{Name: "reservations", Type: TypeInt, NonNegative: true, Hashed: true, Value: func(s *Summary) any { return s.Reservations }},
	// Refunds come from the booking system: reservation_value, roas and cost_per_reservation
	// may be negative.
	{Name: "reservation_value", Type: TypeDecimal, Hashed: true, Value: func(s *Summary) any { return s.ReservationValue }},
	{Name: "kpi_days", Type: TypeInt, NonNegative: true, Max: 7, Hashed: true, Value: func(s *Summary) any { return int64(s.KPIDays) }},
	{Name: "roas", Type: TypeDecimal, Hashed: true, Value: func(s *Summary) any { return s.ROAS }},
	{Name: "cost_per_reservation", Type: TypeDecimal, Hashed: true, Value: func(s *Summary) any { return s.CostPerReservation }},
	{Name: "currency", Type: TypeText, Pattern: currencyCode, Hashed: true, Value: func(s *Summary) any { return s.Currency }},
	// as_of is when the data were true, not what they are: a later run that finds the same
	// figures moves it forward without rewriting the row (see load: fresher data wins).
	{Name: "as_of", Type: TypeDate, Value: func(s *Summary) any { return int64(s.AsOf) }},
	{Name: "content_hash", Type: TypeText, Pattern: sha256Hex, Value: func(s *Summary) any { return s.ContentHash }},
}

var (
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)     // ISO 4217
	sha256Hex    = regexp.MustCompile(`^[0-9a-f]{64}$`) // Summary.Hash
)

// SummaryColumnNames lists the names of [SummaryColumns], in order.
func SummaryColumnNames() []string {
	names := make([]string, len(SummaryColumns))
	for i, c := range SummaryColumns {
		names[i] = c.Name
	}
	return names
}
