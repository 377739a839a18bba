package transform

import (
	"strconv"
	"strings"

	"github.com/quagmt/udecimal"
	"github.com/shopspring/decimal"
)

// Figures are exact decimals: github.com/quagmt/udecimal, a fixed-point decimal of up to 19
// decimal places held in 128 bits (falling back to big integers beyond that range), so sums,
// roundings and divisions allocate nothing. Which text is a decimal is decided by
// github.com/shopspring/decimal's grammar, the one the staged files have always been read with:
// text udecimal does not parse ("1e3", ".5") is read through shopspring and carried over when it
// has at most 19 decimal places.

var (
	hundred  = udecimal.MustFromInt64(100, 0)
	thousand = udecimal.MustFromInt64(1000, 0)
)

// ratioScale is the scale of every derived figure (ctr, cpc, cpm, roas, cost_per_reservation).
const ratioScale = 4

// moneyScale is the scale of money (spend, reservation_value).
const moneyScale = 2

// parseDecimal reads exact decimal text. ErrNotDecimal: not a decimal (surrounding spaces
// included); ErrPrecision: a decimal with more than 19 decimal places.
func parseDecimal(s string) (udecimal.Decimal, error) {
	if d, err := udecimal.Parse(s); err == nil { // [+-]digits[.digits]: no spaces
		return d, nil
	}
	// Rare forms: exponents, a bare leading or trailing point, many decimal places.
	if s == "" || strings.TrimSpace(s) != s {
		return udecimal.Decimal{}, ErrNotDecimal
	}
	sd, err := decimal.NewFromString(s)
	if err != nil {
		return udecimal.Decimal{}, ErrNotDecimal
	}
	d, err := udecimal.Parse(sd.String())
	if err != nil {
		return udecimal.Decimal{}, ErrPrecision
	}
	return d, nil
}

// ratio returns num/den rounded half away from zero to 4 decimals, exactly, or nil when den is 0.
// udecimal's division truncates at 19 decimal places; rounding that to 4 is the exact rounding,
// because no 19-place truncation crosses a 5-place halfway point.
func ratio(num, den udecimal.Decimal) *string {
	if den.IsZero() {
		return nil
	}
	s := fixed(div(num, den), ratioScale)
	return &s
}

func div(num, den udecimal.Decimal) udecimal.Decimal {
	q, err := num.Div(den)
	if err != nil { // only a zero divisor, excluded by the callers
		panic(err)
	}
	return q
}

// fixed rounds half away from zero to scale places and writes exactly that many.
func fixed(d udecimal.Decimal, scale uint8) string {
	return string(appendFixed(make([]byte, 0, 24), d, scale))
}

// pow10 are the powers of ten up to 10^19.
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// appendFixed appends what fixed returns, without allocating when the coefficient fits 64 bits.
func appendFixed(b []byte, d udecimal.Decimal, scale uint8) []byte {
	d = d.RoundHAZ(scale)
	neg, hi, lo, prec, ok := d.ToHiLo()
	if !ok || hi != 0 || prec > scale {
		return append(b, d.StringFixed(scale)...)
	}
	if neg {
		b = append(b, '-')
	}
	// d = lo / 10^prec: the integer part, then the decimals padded to scale places.
	b = strconv.AppendUint(b, lo/pow10[prec], 10)
	if scale == 0 {
		return b
	}
	b = append(b, '.')
	var digits [19]byte
	frac := lo % pow10[prec]
	for i := int(prec) - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	b = append(b, digits[:prec]...)
	return append(b, "0000000000000000000"[:scale-prec]...)
}

// ctrOf, cpcOf and cpmOf are the derived figures of docs/DESIGN.md, "Figures".
func ctrOf(clicks, impressions int64) *string {
	return ratio(fromInt(clicks).Mul(hundred), fromInt(impressions))
}

func cpcOf(spend udecimal.Decimal, clicks int64) *string {
	return ratio(spend, fromInt(clicks))
}

func cpmOf(spend udecimal.Decimal, impressions int64) *string {
	return ratio(spend.Mul(thousand), fromInt(impressions))
}

func fromInt(v int64) udecimal.Decimal { return udecimal.MustFromInt64(v, 0) }

// money rounds to 2 decimals half away from zero.
func money(d udecimal.Decimal) udecimal.Decimal { return d.RoundHAZ(moneyScale) }

// weekday returns 0 for Monday … 6 for Sunday, for days since 1970-01-01 (a Thursday).
func weekday(day int32) int32 {
	return ((day+3)%7 + 7) % 7
}
