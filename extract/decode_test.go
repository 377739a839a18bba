package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// oldPage is a page as it was decoded before typed rows: a map per row.
type oldPage struct {
	Data []map[string]json.RawMessage `json:"data"`
}

// decodePage decodes a page the way Session.call does.
func decodePage(b []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(out)
}

// The typed rows and the maps they replaced give the same rows and the same errors, message for
// message, for every kind, on rows built from the fuzz seeds with each field in turn replaced by
// an odd value (absent, null, a bare number, a negative or fractional count, a list, an object,
// escapes, non-ASCII and invalid UTF-8), each row also sent twice on a page (kept once) and twice
// with other figures (refused).
func TestTypedRowsMatchMapRows(t *testing.T) {
	base := []string{
		`{"campaign_id":"2385","campaign_name":"Été — 夏","spend":"12.34","impressions":"9708","clicks":"151","reach":"7001","actions":[{"action_type":"link_click","value":"118"},{"action_type":"lead","value":"2.5"}],"date_start":"2026-01-12","date_stop":"2026-01-18"}`,
		`{"ad_id":"6011","ad_name":"A","campaign_id":"1","quality_ranking":"BELOW_AVERAGE_10","engagement_rate_ranking":"AVERAGE","conversion_rate_ranking":"UNKNOWN","spend":"0.5","impressions":"3","clicks":"1","date_start":"2026-01-19","date_stop":"2026-01-21"}`,
		`{"spend":"1.00","impressions":"10","clicks":"2","reach":"7","frequency":"1.4286","date_start":"2026-01-05","date_stop":"2026-01-11"}`,
		`{"publisher_platform":"instagram","platform_position":"reels","spend":"3","impressions":"4","clicks":"0","date_start":"2026-01-05","date_stop":"2026-01-11"}`,
		`{"age":"65+","gender":"unknown","spend":"0","impressions":"1","date_start":"2026-01-12","date_stop":"2026-01-18"}`,
	}
	odd := []string{"", `null`, `12`, `12.50`, `-3`, `"-3"`, `"5.5"`, `"1e3"`, `true`, `{}`, `[]`, `[{"action_type":"x"}]`,
		`[{"action_type":"","value":"1"}]`, `[{"action_type":7,"value":2}]`, `[{"value":"1"}]`, `"a\"b\\c\u00e9"`, `"\ud83d\ude80"`,
		`"` + "\xff" + `"`, `"2026-01-12"`, `"2026-01-13"`, `""`, `"99999999999999999"`, `"0.000000000000000000001"`}
	fields := []string{"date_start", "date_stop", "campaign_id", "campaign_name", "ad_id", "ad_name", "publisher_platform",
		"platform_position", "age", "gender", "quality_ranking", "spend", "impressions", "clicks", "reach", "frequency", "actions"}
	var rows []string
	for _, b := range base {
		rows = append(rows, b)
		for _, f := range fields {
			for _, v := range odd {
				var m map[string]json.RawMessage
				if err := json.Unmarshal([]byte(b), &m); err != nil {
					t.Fatal(err)
				}
				if v == "" {
					delete(m, f)
				} else {
					m[f] = json.RawMessage(v)
				}
				js, _ := json.Marshal(m)
				rows = append(rows, string(js))
			}
		}
	}
	compared, refused := 0, 0
	for _, kind := range records.Kinds {
		for _, row := range rows {
			for _, page := range []string{
				`{"data":[` + row + `]}`,
				`{"data":[` + row + `,` + row + `]}`,
				`{"data":[` + row + `,` + strings.Replace(row, `"date_stop"`, `"reach":"123456","date_stop"`, 1) + `]}`,
			} {
				oldParsed, oldErr := parseOld(kind, page)
				newParsed, newErr := parseNew(kind, page)
				oldRows, _ := json.Marshal(oldParsed)
				newRows, _ := json.Marshal(newParsed)
				if fmt.Sprint(oldErr) != fmt.Sprint(newErr) || !bytes.Equal(oldRows, newRows) {
					t.Fatalf("%s %s:\n typed: %s %v\n  maps: %s %v", kind, page, newRows, newErr, oldRows, oldErr)
				}
				compared++
				if newErr != nil {
					refused++
				}
			}
		}
	}
	if compared < 5000 || refused < compared/10 || compared-refused < 1000 {
		t.Fatalf("%d pages compared, %d refused: the corpus exercises too little", compared, refused)
	}
}

// parseOld and parseNew decode one page and parse its rows, the way before and the way now.
func parseOld(kind records.Kind, page string) ([]records.InsightRow, error) {
	var pg oldPage
	if err := decodePage([]byte(page), &pg); err != nil {
		return nil, err
	}
	p := oldNewRowParser("Acme", Specs[kind], testRange())
	for _, raw := range pg.Data {
		if err := p.add(raw); err != nil {
			return nil, err
		}
	}
	return p.rows, nil
}

func parseNew(kind records.Kind, page string) ([]records.InsightRow, error) {
	var pg insightsPage
	if err := decodePage([]byte(page), &pg); err != nil {
		return nil, err
	}
	p := newRowParser("Acme", Specs[kind], testRange())
	for i := range pg.Data {
		if err := p.add(&pg.Data[i]); err != nil {
			return nil, err
		}
	}
	return p.rows, nil
}

// FuzzTypedRowsMatchMapRows feeds arbitrary rows, each twice on a page, to the typed rows and to
// the maps they replaced, for every kind: same rows, same errors. Two differences are left out
// on purpose: encoding/json matches a struct field's name case-insensitively when no exact name
// is present (Meta's names are lowercase ASCII, so inputs with capitals or non-ASCII are
// skipped), and a page that encoding/json cannot decode at all fails either way, with
// encoding/json's own wording.
func FuzzTypedRowsMatchMapRows(f *testing.F) {
	f.Add(`{"campaign_id":"2385","spend":"1","date_start":"2026-01-12","date_stop":"2026-01-18","actions":[{"action_type":"a","value":"1"}]}`, uint8(1))
	f.Add(`{"spend":"1.00","impressions":"10","reach":"7","frequency":"1.4286","date_start":"2026-01-05","date_stop":"2026-01-11"}`, uint8(0))
	f.Fuzz(func(t *testing.T, js string, k uint8) {
		for i := 0; i < len(js); i++ {
			if c := js[i]; (c >= 'A' && c <= 'Z') || c >= 0x80 {
				return
			}
		}
		page := `{"data":[` + js + `,` + js + `]}`
		if !json.Valid([]byte(page)) {
			return
		}
		kind := records.Kinds[int(k)%len(records.Kinds)]
		o, oe := parseOld(kind, page)
		n, ne := parseNew(kind, page)
		var ore, nre *RowError
		if oe != nil && ne != nil && !errors.As(oe, &ore) && !errors.As(ne, &nre) {
			return // both pages malformed: the call's ErrBadResponse either way
		}
		ob, _ := json.Marshal(o)
		nb, _ := json.Marshal(n)
		if fmt.Sprint(oe) != fmt.Sprint(ne) || string(ob) != string(nb) {
			t.Fatalf("%s\nold %s %v\nnew %s %v", page, ob, oe, nb, ne)
		}
	})
}

// BenchmarkDecodePage decodes and parses a page of 500 campaign rows (Meta's page size here), as
// Session.call and reportRunner.read do: the maps of before and the typed rows side by side.
func BenchmarkDecodePage(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"data":[`)
	for i := range 500 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"campaign_id":"2385%08d","campaign_name":"Campagne d'été n°%d","spend":"%d.%02d","impressions":"%d","clicks":"%d","reach":"%d",`+
			`"actions":[{"action_type":"link_click","value":"%d"},{"action_type":"lead","value":"3"},{"action_type":"offsite_conversion.fb_pixel_purchase","value":"1"}],`+
			`"date_start":"2026-01-%02d","date_stop":"2026-01-%02d"}`, i, i, 10+i, i%100, 9000+i, 150+i, 7000+i, 100+i, 5+7*(i%2), 11+7*(i%2))
	}
	sb.WriteString(`],"paging":{"cursors":{"before":"MAZDZD","after":"MjQZD"},"next":"https://graph.facebook.com/v25.0/123/insights?after=MjQZD"}}`)
	page := []byte(sb.String())
	for _, path := range []struct {
		name  string
		parse func(records.Kind, string) ([]records.InsightRow, error)
	}{{"maps", parseOld}, {"typed", parseNew}} {
		b.Run(path.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				rows, err := path.parse(records.KindCampaigns, string(page))
				if err != nil || len(rows) != 500 {
					b.Fatal(len(rows), err)
				}
			}
			b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
