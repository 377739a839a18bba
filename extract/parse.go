package extract

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// Limits beyond which a figure is taken for corrupt data rather than reported.
const (
	maxCount = 1_000_000_000_000 // impressions, clicks, reach per row
	maxMoney = 10_000_000_000    // spend per row, in the account currency
)

var decimalText = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// rowParser turns raw result rows into records.InsightRows, strictly: every field checked, the bucket
// dates checked against the requested range, duplicates across pages dropped when identical
// and refused when not. Enumerations (rankings, breakdown values) are kept as Meta sent them,
// unknown values included: a new value is data, not an error.
type rowParser struct {
	client string
	spec   ReportSpec
	rng    Range
	rows   []records.InsightRow
	seen   map[rowKey]int // row key -> index in rows
	n      int            // rows seen, for error messages
}

func newRowParser(client string, spec ReportSpec, rng Range) *rowParser {
	return &rowParser{client: client, spec: spec, rng: rng, seen: map[rowKey]int{}}
}

func (p *rowParser) fail(field, value, reason string) error {
	return &RowError{Client: p.client, Kind: p.spec.Kind, Row: p.n, Field: field, Value: value, Reason: reason}
}

// addPage parses a page's rows and returns the page's next link ("" on the last page).
func (p *rowParser) addPage(pg *insightsPage) (next string, err error) {
	for i := range pg.Data {
		if err := p.add(&pg.Data[i]); err != nil {
			return "", err
		}
	}
	return pg.Paging.Next, nil
}

// add parses one row.
func (p *rowParser) add(raw *resultRow) error {
	defer func() { p.n++ }()
	row, err := p.parse(raw)
	if err != nil {
		return err
	}
	key := p.key(row)
	if i, dup := p.seen[key]; dup {
		if !sameRow(p.rows[i], row) {
			return p.fail("date_start", describeKey(row), "the same row twice with different figures")
		}
		return nil
	}
	p.seen[key] = len(p.rows)
	p.rows = append(p.rows, row)
	return nil
}

// rowKey is a row's identity: its week, its level's ids and its breakdown values.
type rowKey struct {
	start                                         int32
	campaign, ad, platform, position, age, gender string
}

func (p *rowParser) key(r records.InsightRow) rowKey {
	return rowKey{r.DateStart, r.CampaignID, r.AdID, r.PublisherPlatform, r.PlatformPosition, r.Age, r.Gender}
}

// describeKey names a row by its week and its level's ids and breakdown values.
func describeKey(r records.InsightRow) string {
	parts := []string{records.DayTime(r.DateStart).Format(time.DateOnly)}
	for _, kv := range [][2]string{{"campaign", r.CampaignID}, {"ad", r.AdID}, {"publisher_platform", r.PublisherPlatform},
		{"platform_position", r.PlatformPosition}, {"age", r.Age}, {"gender", r.Gender}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	return strings.Join(parts, ", ")
}

func sameRow(a, b records.InsightRow) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func (p *rowParser) parse(raw *resultRow) (records.InsightRow, error) {
	var r records.InsightRow
	var err error
	start, err := p.date(&raw.DateStart, "date_start")
	if err != nil {
		return r, err
	}
	stop, err := p.date(&raw.DateStop, "date_stop")
	if err != nil {
		return r, err
	}
	if start.Before(p.rng.Since) || start.After(p.rng.Until) {
		return r, p.fail("date_start", start.Format(time.DateOnly), "outside the requested range "+p.rng.String())
	}
	if days := int(start.Sub(p.rng.Since).Hours() / 24); days%7 != 0 {
		return r, p.fail("date_start", start.Format(time.DateOnly), "not the start of a weekly bucket (a Monday)")
	}
	// Whether Meta cuts the last bucket at `until` is unconfirmed: accept a stop anywhere in
	// the bucket.
	if stop.Before(start) || stop.After(start.AddDate(0, 0, 6)) {
		return r, p.fail("date_stop", stop.Format(time.DateOnly), "not within the bucket starting "+start.Format(time.DateOnly))
	}
	r.DateStart, r.DateStop = records.DayNumber(start), records.DayNumber(stop)

	switch p.spec.Level {
	case "campaign":
		if r.CampaignID, err = p.id(&raw.CampaignID, "campaign_id", true); err != nil {
			return r, err
		}
		if r.CampaignName, err = p.text(&raw.CampaignName, "campaign_name", false); err != nil {
			return r, err
		}
	case "ad":
		if r.AdID, err = p.id(&raw.AdID, "ad_id", true); err != nil {
			return r, err
		}
		if r.AdName, err = p.text(&raw.AdName, "ad_name", false); err != nil {
			return r, err
		}
		if r.CampaignID, err = p.id(&raw.CampaignID, "campaign_id", false); err != nil {
			return r, err
		}
		if r.QualityRanking, err = p.text(&raw.QualityRanking, "quality_ranking", false); err != nil {
			return r, err
		}
		if r.EngagementRateRanking, err = p.text(&raw.EngagementRateRanking, "engagement_rate_ranking", false); err != nil {
			return r, err
		}
		if r.ConversionRateRanking, err = p.text(&raw.ConversionRateRanking, "conversion_rate_ranking", false); err != nil {
			return r, err
		}
	}
	for _, b := range p.spec.Breakdowns {
		var f *jsonField
		var dst *string
		switch b {
		case "publisher_platform":
			f, dst = &raw.PublisherPlatform, &r.PublisherPlatform
		case "platform_position":
			f, dst = &raw.PlatformPosition, &r.PlatformPosition
		case "age":
			f, dst = &raw.Age, &r.Age
		case "gender":
			f, dst = &raw.Gender, &r.Gender
		default:
			return r, p.fail(b, "", "a breakdown this parser does not know")
		}
		if *dst, err = p.text(f, b, true); err != nil {
			return r, err
		}
	}
	if r.Spend, err = p.decimal(&raw.Spend, "spend", true, maxMoney); err != nil {
		return r, err
	}
	if r.Impressions, err = p.count(&raw.Impressions, "impressions"); err != nil {
		return r, err
	}
	if r.Clicks, err = p.count(&raw.Clicks, "clicks"); err != nil {
		return r, err
	}
	if r.Reach, err = p.count(&raw.Reach, "reach"); err != nil {
		return r, err
	}
	if r.Frequency, err = p.decimal(&raw.Frequency, "frequency", false, maxCount); err != nil {
		return r, err
	}
	if r.Actions, err = p.actions(&raw.Actions, "actions"); err != nil {
		return r, err
	}
	return r, nil
}

// str reads a field that Meta sends as a JSON string; a bare JSON number is tolerated (some
// official examples show ids as numbers). ok is false when the field is absent or null.
func (p *rowParser) str(f *jsonField, field string) (string, bool, error) {
	switch f.kind {
	case fieldAbsent, fieldNull:
		return "", false, nil
	case fieldString, fieldNumber:
		return f.text, true, nil
	}
	return "", false, p.fail(field, f.text, "not a string or number")
}

func (p *rowParser) text(f *jsonField, field string, required bool) (string, error) {
	s, ok, err := p.str(f, field)
	if err != nil {
		return "", err
	}
	if !ok && required {
		return "", p.fail(field, "", "missing")
	}
	return s, nil
}

func (p *rowParser) id(f *jsonField, field string, required bool) (string, error) {
	s, err := p.text(f, field, required)
	if err != nil || s == "" {
		if err == nil && required {
			err = p.fail(field, s, "empty")
		}
		return s, err
	}
	if _, perr := strconv.ParseUint(s, 10, 64); perr != nil {
		return "", p.fail(field, s, "not a numeric id")
	}
	return s, nil
}

func (p *rowParser) date(f *jsonField, field string) (time.Time, error) {
	s, err := p.text(f, field, true)
	if err != nil {
		return time.Time{}, err
	}
	t, perr := time.Parse(time.DateOnly, s)
	if perr != nil {
		return time.Time{}, p.fail(field, s, "not a date (YYYY-MM-DD)")
	}
	return t, nil
}

// count reads a non-negative integer sent as a string; absent means 0 (Meta omits zeros).
func (p *rowParser) count(f *jsonField, field string) (int64, error) {
	s, ok, err := p.str(f, field)
	if err != nil || !ok {
		return 0, err
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	switch {
	case perr != nil:
		return 0, p.fail(field, s, "not an integer")
	case n < 0:
		return 0, p.fail(field, s, "negative")
	case n > maxCount:
		return 0, p.fail(field, s, "absurdly large")
	}
	return n, nil
}

// decimal reads a non-negative decimal sent as a string and keeps its exact text.
func (p *rowParser) decimal(f *jsonField, field string, zeroIfAbsent bool, limit float64) (string, error) {
	s, ok, err := p.str(f, field)
	if err != nil {
		return "", err
	}
	if !ok {
		if zeroIfAbsent {
			return "0", nil
		}
		return "", nil
	}
	if !decimalText.MatchString(s) {
		return "", p.fail(field, s, "not a decimal")
	}
	if strings.HasPrefix(s, "-") {
		return "", p.fail(field, s, "negative")
	}
	if intPart, _, _ := strings.Cut(s, "."); len(strings.TrimLeft(intPart, "0")) > len(strconv.FormatFloat(limit, 'f', 0, 64)) {
		return "", p.fail(field, s, "absurdly large")
	}
	return s, nil
}

func (p *rowParser) actions(f *jsonActions, field string) ([]records.Action, error) {
	switch {
	case !f.present:
		return nil, nil
	case !f.ok:
		return nil, p.fail(field, f.raw, "not a list of {action_type, value}")
	}
	out := make([]records.Action, 0, len(f.list))
	for i := range f.list {
		a := &f.list[i]
		name := field + "[" + strconv.Itoa(i) + "]"
		t, ok, err := p.str(&a.ActionType, "action_type")
		if err != nil || !ok || t == "" {
			return nil, p.fail(name+".action_type", a.ActionType.raw(), "missing or not a string")
		}
		val, ok, err := p.str(&a.Value, "value")
		if err != nil || !ok {
			return nil, p.fail(name+".value", a.Value.raw(), "missing or not a string")
		}
		if !decimalText.MatchString(val) || strings.HasPrefix(val, "-") {
			return nil, p.fail(name+".value", val, "not a non-negative decimal")
		}
		out = append(out, records.Action{ActionType: t, Value: val})
	}
	return out, nil
}
