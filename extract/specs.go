package extract

import "github.com/metapipe/metapipe/internal/records"

// ReportSpec is what one report kind asks Meta for: its descriptor, [records.KindSpec] (level,
// breakdowns and fields, as Meta's Ad Insights reference names them, and the key of a row).
type ReportSpec struct{ records.KindSpec }

// Specs are the report kinds of [records.KindSpecs], by kind.
var Specs = func() map[records.Kind]ReportSpec {
	m := make(map[records.Kind]ReportSpec, len(records.KindSpecs))
	for _, s := range records.KindSpecs {
		m[s.Kind] = ReportSpec{s}
	}
	return m
}()
