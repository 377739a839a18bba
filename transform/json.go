package transform

import (
	"strconv"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// jsonBuf builds JSON by hand so the bytes are deterministic and numbers are written from exact
// decimals. No HTML escaping; non-ASCII stays UTF-8; invalid UTF-8 becomes U+FFFD.
type jsonBuf struct{ b []byte }

const hexDigits = "0123456789abcdef"

func (j *jsonBuf) raw(s string) { j.b = append(j.b, s...) }

func (j *jsonBuf) str(s string) {
	b := append(j.b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029': // valid JSON, but not valid JavaScript
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	j.b = append(b, '"')
}

// key writes `"k":`, preceded by a comma unless first.
func (j *jsonBuf) key(k string, first bool) {
	if !first {
		j.b = append(j.b, ',')
	}
	j.str(k)
	j.b = append(j.b, ':')
}

func (j *jsonBuf) int(v int64) { j.b = strconv.AppendInt(j.b, v, 10) }

func (j *jsonBuf) money(d decimal.Decimal) { j.raw(d.StringFixed(moneyScale)) }

// optNum writes a number already in JSON number form, or null.
func (j *jsonBuf) optNum(s *string) {
	if s == nil {
		j.raw("null")
		return
	}
	j.raw(*s)
}

// metrics writes the spend, impressions, clicks, ctr, cpc, cpm members shared by campaigns,
// placements and demographics.
func (j *jsonBuf) metrics(f figures) {
	j.key("spend", false)
	j.money(f.spend)
	j.key("impressions", false)
	j.int(f.impressions)
	j.key("clicks", false)
	j.int(f.clicks)
	j.key("ctr", false)
	j.optNum(ctrOf(f.clicks, f.impressions))
	j.key("cpc", false)
	j.optNum(cpcOf(f.spend, f.clicks))
	j.key("cpm", false)
	j.optNum(cpmOf(f.spend, f.impressions))
}

// campaignJSON is campaign_data: the campaigns given (already filtered and sorted).
func campaignJSON(cs []campaignRow) string {
	j := jsonBuf{b: make([]byte, 0, 64+256*len(cs))}
	j.raw("[")
	for i := range cs {
		c := &cs[i]
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		j.key("campaign_id", true)
		j.str(c.id)
		j.key("campaign_name", false)
		j.str(c.name)
		j.key("spend", false)
		j.money(c.spend)
		j.key("impressions", false)
		j.int(c.impressions)
		j.key("clicks", false)
		j.int(c.clicks)
		j.key("reach", false)
		j.int(c.reach)
		j.key("ctr", false)
		j.optNum(ctrOf(c.clicks, c.impressions))
		j.key("cpc", false)
		j.optNum(cpcOf(c.spend, c.clicks))
		j.key("cpm", false)
		j.optNum(cpmOf(c.spend, c.impressions))
		j.key("actions", false)
		j.raw("{")
		for k, a := range c.actions {
			j.key(a.typ, k == 0)
			j.raw(a.value.String())
		}
		j.raw("}}")
	}
	j.raw("]")
	return string(j.b)
}

// metaTablesJSON is meta_tables; the slices are already sorted.
func metaTablesJSON(ps []placementRow, ds []demographicRow, as []adRow) string {
	j := jsonBuf{b: make([]byte, 0, 128+160*(len(ps)+len(ds)+len(as)))}
	j.raw(`{"placementPerformance":[`)
	for i := range ps {
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		j.key("publisher_platform", true)
		j.str(ps[i].platform)
		j.key("platform_position", false)
		j.str(ps[i].position)
		j.metrics(ps[i].figures)
		j.raw("}")
	}
	j.raw(`],"demographicPerformance":[`)
	for i := range ds {
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		j.key("age", true)
		j.str(ds[i].age)
		j.key("gender", false)
		j.str(ds[i].gender)
		j.metrics(ds[i].figures)
		j.raw("}")
	}
	j.raw(`],"adRelevanceResults":[`)
	for i := range as {
		a := &as[i]
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		j.key("ad_id", true)
		j.str(a.id)
		j.key("ad_name", false)
		j.str(a.name)
		j.key("campaign_id", false)
		j.str(a.campaignID)
		j.key("quality_ranking", false)
		j.str(a.quality)
		j.key("engagement_rate_ranking", false)
		j.str(a.engagement)
		j.key("conversion_rate_ranking", false)
		j.str(a.conversion)
		j.key("spend", false)
		j.money(a.spend)
		j.key("impressions", false)
		j.int(a.impressions)
		j.raw("}")
	}
	j.raw("]}")
	return string(j.b)
}
