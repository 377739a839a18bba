package transform

import (
	"strconv"

	"github.com/metapipe/metapipe/internal/records"
	"unicode/utf8"

	"github.com/quagmt/udecimal"
)

// jsonBuf builds JSON by hand so the bytes are deterministic and numbers are written from exact
// decimals. One buffer serves every document of a client: each is copied out as a string. No HTML escaping; non-ASCII stays UTF-8; invalid UTF-8 becomes U+FFFD.
type jsonBuf struct{ b []byte }

const hexDigits = "0123456789abcdef"

func (j *jsonBuf) raw(s string) { j.b = append(j.b, s...) }

func (j *jsonBuf) str(s string) {
	b := append(j.b, '"')
	for i := 0; i < len(s); {
		// Copy the run of bytes that need no escaping in one append.
		run := i
		for run < len(s) && s[run] >= 0x20 && s[run] < utf8.RuneSelf && s[run] != '"' && s[run] != '\\' {
			run++
		}
		b = append(b, s[i:run]...)
		if i = run; i == len(s) {
			break
		}
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
			default: // c < 0x20
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
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

// member writes a constant member name, already quoted with its separators: `,"spend":`.
func (j *jsonBuf) member(m string) { j.b = append(j.b, m...) }

func (j *jsonBuf) int(v int64) { j.b = strconv.AppendInt(j.b, v, 10) }

func (j *jsonBuf) money(d udecimal.Decimal) { j.b = appendFixed(j.b, d, moneyScale) }

// ratio writes num/den as ratio does, or null.
func (j *jsonBuf) ratio(num, den udecimal.Decimal) {
	if den.IsZero() {
		j.raw("null")
		return
	}
	j.b = appendFixed(j.b, div(num, den), ratioScale)
}

// metrics writes the spend, impressions, clicks, ctr, cpc, cpm members shared by campaigns,
// placements and demographics; between the two halves, extra (the campaigns' reach).
func (j *jsonBuf) metrics(f figures, extra func()) {
	j.member(`,"spend":`)
	j.money(f.spend)
	j.member(`,"impressions":`)
	j.int(f.impressions)
	j.member(`,"clicks":`)
	j.int(f.clicks)
	if extra != nil {
		extra()
	}
	j.member(`,"ctr":`)
	j.ratio(fromInt(f.clicks).Mul(hundred), fromInt(f.impressions))
	j.member(`,"cpc":`)
	j.ratio(f.spend, fromInt(f.clicks))
	j.member(`,"cpm":`)
	j.ratio(f.spend.Mul(thousand), fromInt(f.impressions))
}

// objects writes rows as a list's elements, `{…},{…}`, each object's members by members.
func objects[T any](j *jsonBuf, rows []T, members func(r *T)) {
	for i := range rows {
		if i > 0 {
			j.raw(",")
		}
		j.raw("{")
		members(&rows[i])
		j.raw("}")
	}
}

// campaignJSON is campaign_data: the campaigns given (already filtered and sorted).
func campaignJSON(j *jsonBuf, cs []campaignRow) string {
	j.b = j.b[:0]
	j.raw("[")
	objects(j, cs, func(c *campaignRow) {
		j.member(`"campaign_id":`)
		j.str(c.id)
		j.member(`,"campaign_name":`)
		j.str(c.name)
		j.metrics(c.figures, func() {
			j.member(`,"reach":`)
			j.int(c.reach)
		})
		j.member(`,"actions":`)
		j.raw("{")
		for k, a := range c.actions {
			j.key(a.typ, k == 0)
			j.b, _ = a.value.AppendText(j.b) // the shortest exact decimal
		}
		j.raw("}")
	})
	j.raw("]")
	return string(j.b)
}

// breakdownMembers are the member names of a breakdown row in meta_tables, quoted with their
// separators: the kind's breakdowns.
var breakdownMembers = func() map[records.Kind][]string {
	m := map[records.Kind][]string{}
	for _, s := range records.KindSpecs {
		for i, b := range s.Breakdowns {
			sep := ","
			if i == 0 {
				sep = ""
			}
			m[s.Kind] = append(m[s.Kind], sep+`"`+b+`":`)
		}
	}
	return m
}()

// breakdowns writes rows of a kind broken down by breakdowns: each breakdown's value, then the
// figures.
func (j *jsonBuf) breakdowns(kind records.Kind, rows []breakdownRow) {
	names := breakdownMembers[kind]
	objects(j, rows, func(r *breakdownRow) {
		for k, name := range names {
			j.member(name)
			j.str(r.values[k])
		}
		j.metrics(r.figures, nil)
	})
}

// metaTablesJSON is meta_tables; the slices are already sorted.
func metaTablesJSON(j *jsonBuf, ps, ds []breakdownRow, as []adRow) string {
	j.b = j.b[:0]
	j.raw(`{"placementPerformance":[`)
	j.breakdowns(records.KindPlacements, ps)
	j.raw(`],"demographicPerformance":[`)
	j.breakdowns(records.KindDemographics, ds)
	j.raw(`],"adRelevanceResults":[`)
	objects(j, as, func(a *adRow) {
		j.member(`"ad_id":`)
		j.str(a.id)
		j.member(`,"ad_name":`)
		j.str(a.name)
		j.member(`,"campaign_id":`)
		j.str(a.campaignID)
		j.member(`,"quality_ranking":`)
		j.str(a.quality)
		j.member(`,"engagement_rate_ranking":`)
		j.str(a.engagement)
		j.member(`,"conversion_rate_ranking":`)
		j.str(a.conversion)
		j.member(`,"spend":`)
		j.money(a.spend)
		j.member(`,"impressions":`)
		j.int(a.impressions)
	})
	j.raw("]}")
	return string(j.b)
}
