package extract

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
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
// unknown values included: a new value is data, not an error. Which fields it reads, which are
// required and what identifies a row come from the kind's descriptor ([records.KindSpec]).
type rowParser struct {
	client string
	spec   ReportSpec
	rng    Range
	fields []boundField  // the kind's columns other than the dates, in the order checked
	key    []fieldSetter // the key columns, for rowKey
	rows   []records.InsightRow
	seen   map[rowKey]int // row key -> index in rows
	n      int            // rows seen, for error messages
}

// boundField is one column of the kind's rows with whether it is required (a key column).
type boundField struct {
	name     string
	f        rowField
	required bool
}

func newRowParser(client string, spec ReportSpec, rng Range) *rowParser {
	p := &rowParser{client: client, spec: spec, rng: rng, seen: map[rowKey]int{}}
	cols := spec.Columns()
	names := make([]string, 0, len(cols)+len(figureFields))
	for _, c := range cols {
		if !slices.Contains(figureFields, c) {
			names = append(names, c)
		}
	}
	for _, name := range append(names, figureFields...) {
		f, ok := rowFields[name]
		if !ok { // TestRowFieldsCoverEveryKind keeps this from happening
			panic("extract: no row field " + name + " for report kind " + string(spec.Kind))
		}
		p.fields = append(p.fields, boundField{name: name, f: f, required: slices.Contains(spec.Key, name)})
	}
	for _, k := range spec.Key {
		p.key = append(p.key, rowFields[k].set)
	}
	return p
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
	key := p.rowKey(&row)
	if i, dup := p.seen[key]; dup {
		if !sameRow(p.rows[i], row) {
			return p.fail("date_start", p.describeKey(&row), "the same row twice with different figures")
		}
		return nil
	}
	p.seen[key] = len(p.rows)
	p.rows = append(p.rows, row)
	return nil
}

// rowKey is a row's identity: its week and its kind's key columns.
type rowKey struct {
	start int32
	key   [records.MaxKeyColumns]string
}

func (p *rowParser) rowKey(r *records.InsightRow) rowKey {
	k := rowKey{start: r.DateStart}
	for i, set := range p.key {
		k.key[i] = *set(r)
	}
	return k
}

// describeKey names a row by its week and its key's values ("2026-01-05, campaign 2385").
func (p *rowParser) describeKey(r *records.InsightRow) string {
	parts := []string{records.DayTime(r.DateStart).Format(time.DateOnly)}
	for i, set := range p.key {
		if v := *set(r); v != "" {
			parts = append(parts, strings.TrimSuffix(p.spec.Key[i], "_id")+" "+v)
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
	if err := p.dates(raw, &r); err != nil {
		return r, err
	}
	for i := range p.fields {
		f := &p.fields[i]
		if err := f.f.parse(p, raw, &r, f.name, f.required); err != nil {
			return r, err
		}
	}
	return r, nil
}

// dates reads date_start and date_stop: a weekly bucket of the requested range.
func (p *rowParser) dates(raw *resultRow, r *records.InsightRow) error {
	start, err := p.date(&raw.DateStart, "date_start")
	if err != nil {
		return err
	}
	stop, err := p.date(&raw.DateStop, "date_stop")
	if err != nil {
		return err
	}
	if start.Before(p.rng.Since) || start.After(p.rng.Until) {
		return p.fail("date_start", start.Format(time.DateOnly), "outside the requested range "+p.rng.String())
	}
	if days := int(start.Sub(p.rng.Since).Hours() / 24); days%7 != 0 {
		return p.fail("date_start", start.Format(time.DateOnly), "not the start of a weekly bucket (a Monday)")
	}
	// Whether Meta cuts the last bucket at `until` is unconfirmed: accept a stop anywhere in
	// the bucket.
	if stop.Before(start) || stop.After(start.AddDate(0, 0, 6)) {
		return p.fail("date_stop", stop.Format(time.DateOnly), "not within the bucket starting "+start.Format(time.DateOnly))
	}
	r.DateStart, r.DateStop = records.DayNumber(start), records.DayNumber(stop)
	return nil
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
