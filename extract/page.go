package extract

import (
	"encoding/json"
	"unicode/utf8"
)

// insightsPage is one page of results, decoded straight into typed rows: encoding/json fills
// one resultRow per row, each field keeping its JSON text, and the strict parser (parse.go)
// reads them without a map per row or a second decoding per field.
type insightsPage struct {
	Data   []resultRow `json:"data"`
	Paging struct {
		Next string `json:"next"`
	} `json:"paging"`
}

// resultRow is one result row of an Insights report as Meta sent it: every field the report
// kinds ask for, each as it came (a string, a bare number, null, absent or anything else), so
// that a malformed value is refused by the row parser with an error naming the client, the
// report, the row and the field rather than failing the whole page. Other fields are ignored.
// encoding/json matches names case-insensitively when no exact name is present; Meta's are all
// lowercase.
type resultRow struct {
	DateStart             jsonField   `json:"date_start"`
	DateStop              jsonField   `json:"date_stop"`
	CampaignID            jsonField   `json:"campaign_id"`
	CampaignName          jsonField   `json:"campaign_name"`
	AdID                  jsonField   `json:"ad_id"`
	AdName                jsonField   `json:"ad_name"`
	PublisherPlatform     jsonField   `json:"publisher_platform"`
	PlatformPosition      jsonField   `json:"platform_position"`
	Age                   jsonField   `json:"age"`
	Gender                jsonField   `json:"gender"`
	QualityRanking        jsonField   `json:"quality_ranking"`
	EngagementRateRanking jsonField   `json:"engagement_rate_ranking"`
	ConversionRateRanking jsonField   `json:"conversion_rate_ranking"`
	Spend                 jsonField   `json:"spend"`
	Impressions           jsonField   `json:"impressions"`
	Clicks                jsonField   `json:"clicks"`
	Reach                 jsonField   `json:"reach"`
	Frequency             jsonField   `json:"frequency"`
	Actions               jsonActions `json:"actions"`
}

// fieldKind says what a field of a result row held.
type fieldKind uint8

const (
	fieldAbsent fieldKind = iota
	fieldNull
	fieldString // text is the decoded string
	fieldNumber // text is the number as written
	fieldOther  // text is the JSON as written (true, an object, a list)
)

// jsonField is one field of a result row.
type jsonField struct {
	kind fieldKind
	text string
}

// UnmarshalJSON keeps the value's kind and text; it never fails, so that the row parser judges
// the value. encoding/json has checked b is one valid JSON value.
func (f *jsonField) UnmarshalJSON(b []byte) error {
	switch c := b[0]; {
	case c == 'n':
		f.kind, f.text = fieldNull, ""
	case c == '"':
		f.kind = fieldString
		if s := b[1 : len(b)-1]; plainString(s) {
			f.text = string(s)
		} else if err := json.Unmarshal(b, &f.text); err != nil { // escapes, invalid UTF-8 → U+FFFD
			f.kind, f.text = fieldOther, string(b)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		f.kind, f.text = fieldNumber, string(b)
	default:
		f.kind, f.text = fieldOther, string(b)
	}
	return nil
}

// raw is the field as it was written, for error messages ("" when absent).
func (f *jsonField) raw() string {
	switch f.kind {
	case fieldNull:
		return "null"
	case fieldString:
		b, _ := json.Marshal(f.text)
		return string(b)
	}
	return f.text
}

// plainString reports whether the inside of a JSON string needs no decoding: no escape, no
// control character, valid UTF-8.
func plainString(s []byte) bool {
	ascii := true
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.Valid(s)
}

// jsonActions is the actions field: a list of {action_type, value} objects, or whatever else was
// sent (kept as raw for the row parser's error).
type jsonActions struct {
	present bool // absent and null both leave it false
	ok      bool // a list of objects
	list    []jsonAction
	raw     string
}

type jsonAction struct {
	ActionType jsonField `json:"action_type"`
	Value      jsonField `json:"value"`
}

func (a *jsonActions) UnmarshalJSON(b []byte) error {
	*a = jsonActions{}
	if b[0] == 'n' {
		return nil
	}
	a.present = true
	if err := json.Unmarshal(b, &a.list); err != nil {
		a.list, a.raw = nil, string(b)
		return nil
	}
	a.ok = true
	return nil
}
