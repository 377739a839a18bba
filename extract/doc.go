// Package extract is the first stage: it asks the Graph API for each client's Insights and
// stages the raw rows, and reads the clients' daily KPI rows from PostgreSQL in one query.
//
// Per client ([Extractor.Extract]) the five report kinds of [records.Kinds] run together, each
// with time_increment=7 (weekly buckets from a Monday). A short range ([SyncConfig]: a daily
// run's weeks) is read with the synchronous Insights request, paged by its cursors, and falls
// back to a report run when Meta finds it too large, it times out, it keeps failing
// transiently or it runs past a bound of pages. Otherwise each kind is one asynchronous report run: submit, save the report_run_id to
// <kind>.job.json before anything else, poll (timed by Meta's percent) until async_status says
// "Job Completed", read the result pages by their cursors. Either way the rows go to
// <run>/extract/<client>/<kind>.parquet. A kind whose file exists is complete and skipped; a
// saved report run is polled again after a crash, not resubmitted. A result page Meta refuses as
// too much data is asked for again from the same cursor at half the size, down to
// RetryConfig.PageFloor; a range Meta calls too large (at the submit, or at the floor) is split
// in halves on week boundaries, recursively; a failed run is retried once, then split, or, when
// it failed throttled, resubmitted after a hold; one that makes no progress for
// PollConfig.StallTimeout once started or outlives PollConfig.MaxRunTime is resubmitted once.
// One client's failure never stops the others.
//
// Every such choice is made by a pure function of what was asked, what Meta answered and what
// has happened so far ([decide] for one request, [decideRange] for a range; decide.go), and
// carried out by one short loop per request with one budget per class of answer (RetryConfig,
// ThrottleConfig, PollConfig; docs/META_API.md, section 10).
//
// The [Client] classifies every Graph API error ([ClassOf]: fatal, transient, throttled, too
// large, not ready, auth; on a report run's own endpoints also run lag; the table is in
// docs/META_API.md), retries transient ones with backoff, retries the answers that deny a
// report run Meta has just created for up to two minutes, waits out throttling for up to an
// hour per request, and paces each ad account from the usage figures that gate Insights
// ([Throttle]): no new report run at or above 75 % of a quota, no call at all at or above 95 %
// or while Meta has said to wait, one call per ThrottleConfig.Pace while a figure stays high and
// Meta keeps answering. The access token ([Token]) travels in the form body or an Authorization
// header, never in a URL, and is scrubbed from every error.
//
// Rows are parsed strictly: every number is exact decimal text or an integer (money is never a
// float), bucket dates must fall on the requested weeks, and a malformed value is a [*RowError]
// naming the client, the report, the row and the field.
//
// [ReadKPI] reads daily_kpi_data for every client of a run, 100 clients per statement, into
// <run>/extract/kpi.parquet.
package extract
