package extract

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// Every column a report kind names has a row field, every key column is text, and each row field
// reads its own field of a result row into the InsightRow column of the same name: a kind or a
// column added without its parser entry, or wired to the wrong field, fails here.
func TestRowFieldsCoverEveryKind(t *testing.T) {
	for _, s := range records.KindSpecs {
		for _, c := range append(s.Columns(), figureFields...) {
			if _, ok := rowFields[c]; !ok {
				t.Errorf("kind %s: no row field for %s", s.Kind, c)
			}
		}
		for _, k := range s.Key {
			if rowFields[k].set == nil {
				t.Errorf("kind %s: key column %s is not text", s.Kind, k)
			}
		}
	}
	insight := map[string]int{}
	it := reflect.TypeFor[records.InsightRow]()
	for i := range it.NumField() {
		name, _, _ := strings.Cut(it.Field(i).Tag.Get("parquet"), ",")
		insight[name] = i
	}
	spec := ReportSpec{records.KindSpec{Kind: "probe", Level: "account"}}
	for name, f := range rowFields {
		i, ok := insight[name]
		if !ok {
			t.Errorf("row field %s is not a column of InsightRow", name)
			continue
		}
		value, want := `"7"`, any("7")
		switch name {
		case "impressions", "clicks", "reach":
			want = int64(7)
		case "actions":
			value, want = `[{"action_type":"lead","value":"7"}]`, []records.Action{{ActionType: "lead", Value: "7"}}
		}
		var raw resultRow
		if err := json.Unmarshal([]byte(`{"`+name+`":`+value+`}`), &raw); err != nil {
			t.Fatal(err)
		}
		var r records.InsightRow
		if err := f.parse(newRowParser("Acme", spec, testRange()), &raw, &r, name, true); err != nil {
			t.Errorf("row field %s: %v", name, err)
			continue
		}
		if got := reflect.ValueOf(r).Field(i).Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("row field %s set %s to %#v, want %#v", name, it.Field(i).Name, got, want)
		}
		if f.set != nil && *f.set(&r) != "7" {
			t.Errorf("row field %s: set is not its column", name)
		}
	}
}
