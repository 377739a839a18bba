package extract

import "github.com/metapipe/metapipe/internal/records"

// rowField is how the row parser reads one column of [records.InsightRow] from a result row.
type rowField struct {
	// parse checks the field named name of raw and sets it in r; required refuses it absent.
	parse func(p *rowParser, raw *resultRow, r *records.InsightRow, name string, required bool) error
	// set is the column in r when it is text (an id, a name, a breakdown value): nil otherwise.
	set fieldSetter
}

type fieldSetter func(r *records.InsightRow) *string

// figureFields are read from every row whatever the kind asked for (Meta omits what it was not
// asked, and an absent figure is 0 or empty), in this order, after the kind's other columns.
var figureFields = []string{"spend", "impressions", "clicks", "reach", "frequency", "actions"}

// rowFields are the columns a report kind may name ([records.KindSpec] Fields and Breakdowns),
// each read from its field of [resultRow]. A new column is a field in records.InsightRow and in
// resultRow and an entry here; TestRowFieldsCoverEveryKind fails while one is missing.
var rowFields = map[string]rowField{
	"campaign_id":             idField(func(w *resultRow) *jsonField { return &w.CampaignID }, func(r *records.InsightRow) *string { return &r.CampaignID }),
	"campaign_name":           textField(func(w *resultRow) *jsonField { return &w.CampaignName }, func(r *records.InsightRow) *string { return &r.CampaignName }),
	"ad_id":                   idField(func(w *resultRow) *jsonField { return &w.AdID }, func(r *records.InsightRow) *string { return &r.AdID }),
	"ad_name":                 textField(func(w *resultRow) *jsonField { return &w.AdName }, func(r *records.InsightRow) *string { return &r.AdName }),
	"publisher_platform":      textField(func(w *resultRow) *jsonField { return &w.PublisherPlatform }, func(r *records.InsightRow) *string { return &r.PublisherPlatform }),
	"platform_position":       textField(func(w *resultRow) *jsonField { return &w.PlatformPosition }, func(r *records.InsightRow) *string { return &r.PlatformPosition }),
	"age":                     textField(func(w *resultRow) *jsonField { return &w.Age }, func(r *records.InsightRow) *string { return &r.Age }),
	"gender":                  textField(func(w *resultRow) *jsonField { return &w.Gender }, func(r *records.InsightRow) *string { return &r.Gender }),
	"quality_ranking":         textField(func(w *resultRow) *jsonField { return &w.QualityRanking }, func(r *records.InsightRow) *string { return &r.QualityRanking }),
	"engagement_rate_ranking": textField(func(w *resultRow) *jsonField { return &w.EngagementRateRanking }, func(r *records.InsightRow) *string { return &r.EngagementRateRanking }),
	"conversion_rate_ranking": textField(func(w *resultRow) *jsonField { return &w.ConversionRateRanking }, func(r *records.InsightRow) *string { return &r.ConversionRateRanking }),

	"spend": {parse: func(p *rowParser, raw *resultRow, r *records.InsightRow, name string, _ bool) (err error) {
		r.Spend, err = p.decimal(&raw.Spend, name, true, maxMoney)
		return err
	}},
	"impressions": countField(func(w *resultRow) *jsonField { return &w.Impressions }, func(r *records.InsightRow) *int64 { return &r.Impressions }),
	"clicks":      countField(func(w *resultRow) *jsonField { return &w.Clicks }, func(r *records.InsightRow) *int64 { return &r.Clicks }),
	"reach":       countField(func(w *resultRow) *jsonField { return &w.Reach }, func(r *records.InsightRow) *int64 { return &r.Reach }),
	"frequency": {parse: func(p *rowParser, raw *resultRow, r *records.InsightRow, name string, _ bool) (err error) {
		r.Frequency, err = p.decimal(&raw.Frequency, name, false, maxCount)
		return err
	}},
	"actions": {parse: func(p *rowParser, raw *resultRow, r *records.InsightRow, name string, _ bool) (err error) {
		r.Actions, err = p.actions(&raw.Actions, name)
		return err
	}},
}

// textField is a text column kept as Meta sent it.
func textField(get func(*resultRow) *jsonField, set fieldSetter) rowField {
	return stringField(get, set, (*rowParser).text)
}

// idField is a numeric id column.
func idField(get func(*resultRow) *jsonField, set fieldSetter) rowField {
	return stringField(get, set, (*rowParser).id)
}

// stringField is a text column read by read.
func stringField(get func(*resultRow) *jsonField, set fieldSetter,
	read func(p *rowParser, f *jsonField, name string, required bool) (string, error)) rowField {
	return rowField{set: set, parse: func(p *rowParser, raw *resultRow, r *records.InsightRow, name string, required bool) (err error) {
		*set(r), err = read(p, get(raw), name, required)
		return err
	}}
}

// countField is a non-negative count column.
func countField(get func(*resultRow) *jsonField, set func(*records.InsightRow) *int64) rowField {
	return rowField{parse: func(p *rowParser, raw *resultRow, r *records.InsightRow, name string, _ bool) (err error) {
		*set(r), err = p.count(get(raw), name)
		return err
	}}
}
