package transform

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

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

// hashVersion starts the hashed encoding; change it whenever the encoding changes.
const hashVersion = "metapipe.summary.v1\x00"

// ComputeHash returns the hex SHA-256 of a canonical encoding of every field but ContentHash:
// fields in declaration order, each a one-byte tag ('N' NULL, 'S' string, 'I' integer) then, for
// a string, its length as 8 big-endian bytes and its bytes, for an integer 8 big-endian bytes.
// NULL, "" and "0" therefore all encode differently, and no two field sequences share an
// encoding.
func (s *Summary) ComputeHash() string {
	var h hashEncoder
	h.b = append(make([]byte, 0, 256+len(s.CampaignData)+len(s.MetaTables)), hashVersion...)
	h.str(s.ClientID)
	h.int(int64(s.SummaryDate))
	h.str(s.TotalSpend)
	h.int(s.TotalImpressions)
	h.int(s.TotalClicks)
	h.int(s.Reach)
	h.optStr(s.Frequency)
	h.optStr(s.AverageCTR)
	h.optStr(s.AverageCPC)
	h.optStr(s.AverageCPM)
	h.int(int64(s.ActiveCampaigns))
	h.str(s.CampaignData)
	h.str(s.MetaTables)
	h.optInt(s.TotalConversions)
	h.optInt(s.ClickToCall)
	h.optInt(s.EmailContacts)
	h.optInt(s.BookingStep1)
	h.optInt(s.BookingStep2)
	h.optInt(s.BookingStep3)
	h.optInt(s.Reservations)
	h.optStr(s.ReservationValue)
	h.int(int64(s.KPIDays))
	h.optStr(s.ROAS)
	h.optStr(s.CostPerReservation)
	sum := sha256.Sum256(h.b)
	return hex.EncodeToString(sum[:])
}

type hashEncoder struct{ b []byte }

func (h *hashEncoder) str(v string) {
	h.b = append(h.b, 'S')
	h.b = binary.BigEndian.AppendUint64(h.b, uint64(len(v)))
	h.b = append(h.b, v...)
}

func (h *hashEncoder) int(v int64) {
	h.b = append(h.b, 'I')
	h.b = binary.BigEndian.AppendUint64(h.b, uint64(v))
}

func (h *hashEncoder) optStr(v *string) {
	if v == nil {
		h.b = append(h.b, 'N')
		return
	}
	h.str(*v)
}

func (h *hashEncoder) optInt(v *int64) {
	if v == nil {
		h.b = append(h.b, 'N')
		return
	}
	h.int(*v)
}
