package graphsim

import (
	"testing"
	"time"
)

// BenchmarkYearDemographics builds a year of weekly ad × age × gender rows for one account.
func BenchmarkYearDemographics(b *testing.B) {
	s := New(Config{Now: func() time.Time { return testNow }})
	a := s.lookup(s.Accounts()[0].ID)
	sp, e := parseSpec(spec("ad", allFields, "age,gender", "2025-11-24", "2026-11-29", "7"), dayOf(testNow))
	if e != nil {
		b.Fatal(e)
	}
	for b.Loop() {
		if rows := s.buildRows(a, sp); len(rows) == 0 {
			b.Fatal("no rows")
		}
	}
}
