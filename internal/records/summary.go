package records

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"unsafe"
)

// Summary is one row of <run>/transform/summaries.parquet: one client and ISO week, built by
// transform and loaded into campaign_summaries. Decimal figures are exact decimal text already
// rounded to their column's scale (money 2 decimals, ratios 4), in the ad account's currency; a
// nil pointer is NULL. CampaignData and MetaTables are valid JSON. ContentHash is [Summary.Hash]
// of the other fields, so the load can tell unchanged rows without comparing them.
//
// Each field is one column of campaign_summaries; [SummaryColumns] says which, in what order and
// how it is checked, copied and hashed.
type Summary struct {
	ClientID    string `parquet:"client_id"`         // clients.id, a UUID in text form
	SummaryDate int32  `parquet:"summary_date,date"` // the week's Monday, days since 1970-01-01

	TotalSpend       string  `parquet:"total_spend"` // 2 decimals
	TotalImpressions int64   `parquet:"total_impressions"`
	TotalClicks      int64   `parquet:"total_clicks"`
	Reach            int64   `parquet:"reach"`
	Frequency        *string `parquet:"frequency,optional"`   // 4 decimals
	AverageCTR       *string `parquet:"average_ctr,optional"` // percent, 4 decimals
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
	KPIDays          int32   `parquet:"kpi_days"`                   // 0..7

	ROAS               *string `parquet:"roas,optional"`                 // 4 decimals
	CostPerReservation *string `parquet:"cost_per_reservation,optional"` // 4 decimals

	Currency string `parquet:"currency"`   // the ad account's ISO 4217 code: every amount above is in it
	AsOf     int32  `parquet:"as_of,date"` // the as-of date of the data (days since 1970-01-01): not hashed

	ContentHash string `parquet:"content_hash"`
}

// hashVersion starts the hashed encoding; change it whenever the encoding changes (every stored
// row is then rewritten once). v2 added currency.
const hashVersion = "metapipe.summary.v2\x00"

// Hash returns the hex SHA-256 of a canonical encoding of the hashed columns of
// [SummaryColumns], in their order: per value a one-byte tag ('N' NULL, 'S' text, 'I' integer)
// then, for text, its length as 8 big-endian bytes and its bytes, for an integer 8 big-endian
// bytes. NULL, "" and "0" therefore all encode differently, and no two value sequences share an
// encoding.
func (s *Summary) Hash() string {
	// Short values are gathered in b; long text (the JSON columns) goes straight to the hash
	// instead of being copied into b first.
	h := sha256.New()
	b := append(make([]byte, 0, 512), hashVersion...)
	text := func(v string) {
		if len(v) < 256 {
			b = appendText(b, v)
			return
		}
		b = append(b, 'S')
		b = binary.BigEndian.AppendUint64(b, uint64(len(v)))
		h.Write(b)
		// Without copying v: the hash has no WriteString, and io.WriteString would copy v into
		// a new slice. Write only reads its argument and keeps nothing of it.
		h.Write(unsafe.Slice(unsafe.StringData(v), len(v)))
		b = b[:0]
	}
	for i := range SummaryColumns {
		c := &SummaryColumns[i]
		if !c.Hashed {
			continue
		}
		switch v := c.Value(s).(type) {
		case string:
			text(v)
		case *string:
			if v == nil {
				b = append(b, 'N')
			} else {
				text(*v)
			}
		case int64:
			b = appendInt(b, v)
		case *int64:
			if v == nil {
				b = append(b, 'N')
			} else {
				b = appendInt(b, *v)
			}
		default:
			panic("records: column " + c.Name + " has a value type Hash cannot encode")
		}
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func appendText(b []byte, v string) []byte {
	b = append(b, 'S')
	b = binary.BigEndian.AppendUint64(b, uint64(len(v)))
	return append(b, v...)
}

func appendInt(b []byte, v int64) []byte {
	b = append(b, 'I')
	return binary.BigEndian.AppendUint64(b, uint64(v))
}
