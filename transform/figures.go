package transform

import (
	"github.com/shopspring/decimal"
)

var (
	hundred  = decimal.NewFromInt(100)
	thousand = decimal.NewFromInt(1000)
)

// ratioScale is the scale of every derived figure (ctr, cpc, cpm, roas, cost_per_reservation).
const ratioScale = 4

// moneyScale is the scale of money (spend, reservation_value).
const moneyScale = 2

// ratio returns num/den rounded half away from zero to 4 decimals, exactly (DivRound compares
// the remainder, so no intermediate quotient is truncated), or nil when den is 0.
func ratio(num, den decimal.Decimal) *string {
	if den.IsZero() {
		return nil
	}
	s := num.DivRound(den, ratioScale).StringFixed(ratioScale)
	return &s
}

// ctrOf, cpcOf and cpmOf are the derived figures of docs/DESIGN.md, "Figures".
func ctrOf(clicks, impressions int64) *string {
	return ratio(decimal.NewFromInt(clicks).Mul(hundred), decimal.NewFromInt(impressions))
}

func cpcOf(spend decimal.Decimal, clicks int64) *string {
	return ratio(spend, decimal.NewFromInt(clicks))
}

func cpmOf(spend decimal.Decimal, impressions int64) *string {
	return ratio(spend.Mul(thousand), decimal.NewFromInt(impressions))
}

// money rounds to 2 decimals half away from zero (decimal.Round is half away from zero).
func money(d decimal.Decimal) decimal.Decimal { return d.Round(moneyScale) }

// weekday returns 0 for Monday … 6 for Sunday, for days since 1970-01-01 (a Thursday).
func weekday(day int32) int32 {
	return ((day+3)%7 + 7) % 7
}
