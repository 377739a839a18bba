// Package records holds the contracts between metapipe's stages, and nothing else: the report
// kinds, the row types each stage writes and the next one reads (raw Insights rows, daily KPI
// rows, weekly summaries, clients), day numbers and the one date type of the run directory's
// JSON files ([Date], "YYYY-MM-DD"), the run-directory layout, the one atomic
// writer of staged files and the summary column table that the load's staging table and COPY
// follow by name.
//
// It is a leaf: it imports no other metapipe package, and extract, transform and load import it
// instead of each other (as river keeps its shared primitives in rivertype). The data flow is
//
//	extract  → <run>/extract/<client>/<kind>.parquet ([InsightRow]), <run>/extract/kpi.parquet ([KPIRow])
//	transform → <run>/transform/summaries.parquet ([Summary])
//	load     → campaign_summaries, one column per entry of [SummaryColumns]
//
// Every staged file is written under a temporary name, synced and renamed ([WriteAtomic],
// [CreateParquet]), readable by its owner only ([FileMode], [DirMode]), so a file that exists is
// whole. Dates in Parquet are int32 days since 1970-01-01 with the `date` logical type, lists are
// tagged `list`, and row groups are bounded. See docs/DESIGN.md for the whole design.
package records
