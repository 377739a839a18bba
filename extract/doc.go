// Package extract is the first stage: it asks the Graph API for each client's Insights and
// stages the raw rows, and reads the clients' daily KPI rows from PostgreSQL in one query.
//
// Per client ([Extractor.Extract]) the five report kinds of [records.Kinds] run together, each
// with time_increment=7 (weekly buckets from a Monday). A short range ([SyncConfig]: a daily
// run's weeks) is read with the synchronous Insights request, paged by its cursors, and falls
// back to a report run when Meta finds it too large, it times out or it runs past a bound of
// pages. Otherwise each kind is one asynchronous report run: submit, save the report_run_id to
// <kind>.job.json before anything else, poll (timed by Meta's percent) until async_status says
// "Job Completed", read the result pages by their cursors. Either way the rows go to
// <run>/extract/<client>/<kind>.parquet. A kind whose file exists is complete and skipped; a
// saved report run is polled again after a crash, not resubmitted. A range Meta calls too large
// is split in halves on week boundaries, recursively; a failed run is retried once, then split;
// one that makes no progress for PollConfig.StallTimeout or outlives PollConfig.MaxRunTime is
// resubmitted once. One client's failure never stops the others.
//
// The [Client] classifies every Graph API error ([ClassOf]: fatal, transient, throttled, too
// large, not ready, auth; on a report run's own endpoints also run lag; the table is in
// docs/META_API.md), retries transient ones with the backoff of internal/backoff, retries the
// answers that deny a report run Meta has just created for up to two minutes, and paces each ad account from Meta's usage headers ([Throttle]):
// no new report run at or above 75 % of a quota, no call at all at or above 95 % or while Meta
// has said to wait. The access token ([Token]) travels in the form body or an Authorization
// header, never in a URL, and is scrubbed from every error.
//
// Rows are parsed strictly: every number is exact decimal text or an integer (money is never a
// float), bucket dates must fall on the requested weeks, and a malformed value is a [*RowError]
// naming the client, the report, the row and the field.
//
// [ReadKPI] reads daily_kpi_data for every client of a run, 100 clients per statement, into
// <run>/extract/kpi.parquet.
package extract
