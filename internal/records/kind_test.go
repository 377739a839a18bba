package records_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// Every report kind's descriptor has each of its parts, and they agree with InsightRow: a kind
// added with a part forgotten, or naming a column the staged file does not have, fails here.
func TestKindSpecsAreComplete(t *testing.T) {
	columns := map[string]bool{}
	typ := reflect.TypeFor[records.InsightRow]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("parquet"), ",")
		columns[name] = true
	}
	seen := map[records.Kind]bool{}
	for _, s := range records.KindSpecs {
		if s.Kind == "" || seen[s.Kind] {
			t.Errorf("kind %q: empty or listed twice", s.Kind)
		}
		seen[s.Kind] = true
		if !slices.Contains([]string{"account", "campaign", "ad"}, s.Level) {
			t.Errorf("kind %s: level %q is not one of Meta's", s.Kind, s.Level)
		}
		if s.Short == "" || len(s.Short) > 4 {
			t.Errorf("kind %s: short label %q", s.Kind, s.Short)
		}
		for _, f := range records.CommonFigures {
			if !slices.Contains(s.Fields, f) {
				t.Errorf("kind %s: does not ask for %s", s.Kind, f)
			}
		}
		for _, c := range slices.Concat(s.Fields, s.Breakdowns) {
			if !columns[c] {
				t.Errorf("kind %s: %s is not a column of InsightRow", s.Kind, c)
			}
		}
		for _, b := range s.Breakdowns {
			if !slices.Contains(s.Key, b) {
				t.Errorf("kind %s: breakdown %s is not part of the key", s.Kind, b)
			}
		}
		if col, _, _ := strings.Cut(s.InSummary, "."); (s.Kind == records.KindAccount) != (s.InSummary == "") ||
			s.InSummary != "" && !slices.ContainsFunc(records.SummaryColumns, func(c records.SummaryColumn) bool {
				return c.Name == col && c.Type == records.TypeJSON
			}) {
			t.Errorf("kind %s: InSummary %q is not a JSON column of campaign_summaries", s.Kind, s.InSummary)
		}
		if len(s.Key) > records.MaxKeyColumns {
			t.Errorf("kind %s: key %v longer than %d", s.Kind, s.Key, records.MaxKeyColumns)
		}
		if s.Level != "account" && len(s.Key) == 0 {
			t.Errorf("kind %s: level %s without a key", s.Kind, s.Level)
		}
		for _, k := range s.Key {
			if !slices.Contains(s.Columns(), k) {
				t.Errorf("kind %s: key column %s is not one of its columns", s.Kind, k)
			}
		}
		if got, ok := records.SpecOf(s.Kind); !ok || got.Kind != s.Kind {
			t.Errorf("SpecOf(%s) = %v, %v", s.Kind, got.Kind, ok)
		}
	}
	if !slices.Equal(records.Kinds, []records.Kind{records.KindAccount, records.KindCampaigns,
		records.KindPlacements, records.KindDemographics, records.KindAdRelevance}) {
		t.Errorf("Kinds = %v", records.Kinds)
	}
	if _, ok := records.SpecOf("nonesuch"); ok {
		t.Error("SpecOf found a kind that does not exist")
	}
}
