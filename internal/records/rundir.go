package records

import "path/filepath"

// RunDir is a run directory, <stage-dir>/<run-id>. Every path inside it is named here and
// nowhere else:
//
//	plan.json                                what the run fetches for whom
//	run.json                                 the ledger
//	extract/kpi.parquet                      the bulk KPI read ([KPIRow])
//	extract/<client-id>/<kind>.parquet       raw rows of one report kind ([InsightRow])
//	extract/<client-id>/<kind>.job.json      that kind's report runs (ids and statuses)
//	transform/summaries.parquet              one row per client and week ([Summary])
type RunDir string

// Plan is plan.json.
func (d RunDir) Plan() string { return filepath.Join(string(d), "plan.json") }

// Ledger is run.json.
func (d RunDir) Ledger() string { return filepath.Join(string(d), "run.json") }

// KPI is the staged bulk KPI read.
func (d RunDir) KPI() string { return filepath.Join(string(d), "extract", "kpi.parquet") }

// Client is the folder of one client's raw rows and report runs.
func (d RunDir) Client(clientID string) ClientDir {
	return ClientDir(filepath.Join(string(d), "extract", clientID))
}

// Summaries is the transform's output.
func (d RunDir) Summaries() string {
	return filepath.Join(string(d), "transform", "summaries.parquet")
}

// ClientDir is <run>/extract/<client-id>.
type ClientDir string

// Report is where a kind's raw rows are staged.
func (d ClientDir) Report(kind Kind) string { return filepath.Join(string(d), string(kind)+".parquet") }

// ReportRuns is where a kind's report runs are saved, before anything else is done with them,
// so that a resumed run polls them instead of submitting again.
func (d ClientDir) ReportRuns(kind Kind) string {
	return filepath.Join(string(d), string(kind)+".job.json")
}
