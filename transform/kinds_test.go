package transform

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/internal/records"
)

// A week with one row of each kind has one element at each kind's InSummary path: the builders
// put the rows where the descriptors say (the planner counts them there).
func TestBuildersFollowInSummary(t *testing.T) {
	fig := figures{impressions: 10, clicks: 1}
	w := &week{monday: day("2026-01-05"), account: &accountRow{figures: fig},
		campaigns:    []campaignRow{{figures: fig, id: "1"}},
		placements:   []breakdownRow{{figures: fig, values: [2]string{"facebook", "feed"}}},
		demographics: []breakdownRow{{figures: fig, values: [2]string{"25-34", "female"}}},
		ads:          []adRow{{figures: fig, id: "2"}},
	}
	var j jsonBuf
	s, _ := buildWeek(&j, "c", w, nil, w.monday+6)
	docs := map[string]string{"campaign_data": s.CampaignData, "meta_tables": s.MetaTables}
	for _, spec := range records.KindSpecs {
		if spec.InSummary == "" {
			continue
		}
		path := strings.Split(spec.InSummary, ".")
		var v any
		if err := json.Unmarshal([]byte(docs[path[0]]), &v); err != nil {
			t.Fatalf("%s: %v", path[0], err)
		}
		for _, m := range path[1:] {
			obj, _ := v.(map[string]any)
			v = obj[m]
		}
		if list, ok := v.([]any); !ok || len(list) != 1 {
			t.Errorf("kind %s: %s is %v, want a list of one row", spec.Kind, spec.InSummary, v)
		}
	}
}

// Every report kind has its reader and its week count, and the table names no other kind: a kind
// added to records.KindSpecs without its builder fails here.
func TestKindTableIsComplete(t *testing.T) {
	for _, spec := range records.KindSpecs {
		k, ok := kindTable[spec.Kind]
		if !ok || k.reader == nil || k.count == nil {
			t.Errorf("kind %s: no reader or count in kindTable", spec.Kind)
		}
	}
	if len(kindTable) != len(records.KindSpecs) {
		t.Errorf("kindTable has %d kinds, records.KindSpecs %d", len(kindTable), len(records.KindSpecs))
	}
}
