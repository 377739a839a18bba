package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/pipeline"
)

// The timings and row counts that end a run fit 80 columns, even with large figures.
func TestTimingsFit80(t *testing.T) {
	l := &pipeline.Ledger{
		Timings: pipeline.Timings{Total: 12345.67, Extract: 12000.12, JobWait: 987654.32, Paging: 12345.67, KPIQuery: 1.234,
			Transform: 123.456, Load: 456.789, Copy: 400.123, Merge: 56.789},
		Rows:        pipeline.RowCounts{Inserted: 5400000, Updated: 123456, Unchanged: 7654321, Deleted: 12345},
		Concurrency: &pipeline.ConcurrencyRecord{Mode: "auto", Peak: 1000, Average: 987.65, Low: 1000, High: 1000},
	}
	var b bytes.Buffer
	printTimings(&b, l)
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if len(line) > 80 {
			t.Errorf("%d columns: %s", len(line), line)
		}
	}
	for _, s := range []string{"total 12345.67s", "Meta jobs 987654.32s", "COPY 400.123s", "5400000 inserted", "auto, peak 1000, average 987.6"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("no %q in\n%s", s, b.String())
		}
	}
}
