package extract

// The row parser as it was before pages were decoded into typed rows (commit f3cf5df,
// extract/parse.go): each result row decoded into a map[string]json.RawMessage, each field
// decoded again from it. Kept, with its identifiers prefixed "old", only as the baseline of
// BenchmarkDecodePage and the oracle of TestTypedRowsMatchMapRows. Not used by the product.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// Limits beyond which a figure is taken for corrupt data rather than reported.
const (
	oldMaxCount = 1_000_000_000_000 // impressions, clicks, reach per row
	oldMaxMoney = 10_000_000_000    // spend per row, in the account currency
)

var oldDecimalText = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// oldRowParser turns raw result rows into records.InsightRows, strictly: every field checked, the bucket
// dates checked against the requested range, duplicates across pages dropped when identical
// and refused when not. Enumerations (rankings, breakdown values) are kept as Meta sent them,
// unknown values included: a new value is data, not an error.
type oldRowParser struct {
	client string
	spec   ReportSpec
	rng    Range
	rows   []records.InsightRow
	seen   map[string]int // row key -> index in rows
	n      int            // rows seen, for error messages
}

func oldNewRowParser(client string, spec ReportSpec, rng Range) *oldRowParser {
	return &oldRowParser{client: client, spec: spec, rng: rng, seen: map[string]int{}}
}

func (p *oldRowParser) fail(field, value, reason string) error {
	return &RowError{Client: p.client, Kind: p.spec.Kind, Row: p.n, Field: field, Value: value, Reason: reason}
}

// add parses one row.
func (p *oldRowParser) add(raw map[string]json.RawMessage) error {
	defer func() { p.n++ }()
	row, err := p.parse(raw)
	if err != nil {
		return err
	}
	key := p.key(row)
	if i, dup := p.seen[key]; dup {
		if !oldSameRow(p.rows[i], row) {
			return p.fail("date_start", oldDescribeKey(row), "the same row twice with different figures")
		}
		return nil
	}
	p.seen[key] = len(p.rows)
	p.rows = append(p.rows, row)
	return nil
}

func (p *oldRowParser) key(r records.InsightRow) string {
	return strings.Join([]string{strconv.Itoa(int(r.DateStart)), r.CampaignID, r.AdID, r.PublisherPlatform,
		r.PlatformPosition, r.Age, r.Gender}, "\x00")
}

// oldDescribeKey names a row by its week and its level's ids and breakdown values.
func oldDescribeKey(r records.InsightRow) string {
	parts := []string{records.DayTime(r.DateStart).Format(time.DateOnly)}
	for _, kv := range [][2]string{{"campaign", r.CampaignID}, {"ad", r.AdID}, {"publisher_platform", r.PublisherPlatform},
		{"platform_position", r.PlatformPosition}, {"age", r.Age}, {"gender", r.Gender}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	return strings.Join(parts, ", ")
}

func oldSameRow(a, b records.InsightRow) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func (p *oldRowParser) parse(raw map[string]json.RawMessage) (records.InsightRow, error) {
	var r records.InsightRow
	var err error
	start, err := p.date(raw, "date_start")
	if err != nil {
		return r, err
	}
	stop, err := p.date(raw, "date_stop")
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
		if r.CampaignID, err = p.id(raw, "campaign_id", true); err != nil {
			return r, err
		}
		if r.CampaignName, err = p.text(raw, "campaign_name", false); err != nil {
			return r, err
		}
	case "ad":
		if r.AdID, err = p.id(raw, "ad_id", true); err != nil {
			return r, err
		}
		if r.AdName, err = p.text(raw, "ad_name", false); err != nil {
			return r, err
		}
		if r.CampaignID, err = p.id(raw, "campaign_id", false); err != nil {
			return r, err
		}
		for _, f := range []struct {
			name string
			dst  *string
		}{{"quality_ranking", &r.QualityRanking}, {"engagement_rate_ranking", &r.EngagementRateRanking}, {"conversion_rate_ranking", &r.ConversionRateRanking}} {
			if *f.dst, err = p.text(raw, f.name, false); err != nil {
				return r, err
			}
		}
	}
	for _, b := range p.spec.Breakdowns {
		v, err := p.text(raw, b, true)
		if err != nil {
			return r, err
		}
		switch b {
		case "publisher_platform":
			r.PublisherPlatform = v
		case "platform_position":
			r.PlatformPosition = v
		case "age":
			r.Age = v
		case "gender":
			r.Gender = v
		}
	}
	if r.Spend, err = p.decimal(raw, "spend", true, oldMaxMoney); err != nil {
		return r, err
	}
	if r.Impressions, err = p.count(raw, "impressions"); err != nil {
		return r, err
	}
	if r.Clicks, err = p.count(raw, "clicks"); err != nil {
		return r, err
	}
	if r.Reach, err = p.count(raw, "reach"); err != nil {
		return r, err
	}
	if r.Frequency, err = p.decimal(raw, "frequency", false, oldMaxCount); err != nil {
		return r, err
	}
	if r.Actions, err = p.actions(raw, "actions"); err != nil {
		return r, err
	}
	return r, nil
}

// str reads a field that Meta sends as a JSON string; a bare JSON number is tolerated (some
// official examples show ids as numbers). ok is false when the field is absent or null.
func (p *oldRowParser) str(raw map[string]json.RawMessage, field string) (string, bool, error) {
	v, ok := raw[field]
	if !ok || string(v) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, true, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&n); err == nil {
		return n.String(), true, nil
	}
	return "", false, p.fail(field, string(v), "not a string or number")
}

func (p *oldRowParser) text(raw map[string]json.RawMessage, field string, required bool) (string, error) {
	s, ok, err := p.str(raw, field)
	if err != nil {
		return "", err
	}
	if !ok && required {
		return "", p.fail(field, "", "missing")
	}
	return s, nil
}

func (p *oldRowParser) id(raw map[string]json.RawMessage, field string, required bool) (string, error) {
	s, err := p.text(raw, field, required)
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

func (p *oldRowParser) date(raw map[string]json.RawMessage, field string) (time.Time, error) {
	s, err := p.text(raw, field, true)
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
func (p *oldRowParser) count(raw map[string]json.RawMessage, field string) (int64, error) {
	s, ok, err := p.str(raw, field)
	if err != nil || !ok {
		return 0, err
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	switch {
	case perr != nil:
		return 0, p.fail(field, s, "not an integer")
	case n < 0:
		return 0, p.fail(field, s, "negative")
	case n > oldMaxCount:
		return 0, p.fail(field, s, "absurdly large")
	}
	return n, nil
}

// decimal reads a non-negative decimal sent as a string and keeps its exact text.
func (p *oldRowParser) decimal(raw map[string]json.RawMessage, field string, zeroIfAbsent bool, limit float64) (string, error) {
	s, ok, err := p.str(raw, field)
	if err != nil {
		return "", err
	}
	if !ok {
		if zeroIfAbsent {
			return "0", nil
		}
		return "", nil
	}
	if !oldDecimalText.MatchString(s) {
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

func (p *oldRowParser) actions(raw map[string]json.RawMessage, field string) ([]records.Action, error) {
	v, ok := raw[field]
	if !ok || string(v) == "null" {
		return nil, nil
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, p.fail(field, string(v), "not a list of {action_type, value}")
	}
	out := make([]records.Action, 0, len(list))
	for i, a := range list {
		name := fmt.Sprintf("%s[%d]", field, i)
		t, ok, err := p.str(a, "action_type")
		if err != nil || !ok || t == "" {
			return nil, p.fail(name+".action_type", string(a["action_type"]), "missing or not a string")
		}
		val, ok, err := p.str(a, "value")
		if err != nil || !ok {
			return nil, p.fail(name+".value", string(a["value"]), "missing or not a string")
		}
		if !oldDecimalText.MatchString(val) || strings.HasPrefix(val, "-") {
			return nil, p.fail(name+".value", val, "not a non-negative decimal")
		}
		out = append(out, records.Action{ActionType: t, Value: val})
	}
	return out, nil
}
