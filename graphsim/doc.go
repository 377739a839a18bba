// Package graphsim is a deterministic, in-process fake of the Meta Marketing API's asynchronous
// Insights endpoints, following the protocol facts of docs/META_API.md.
//
// A Simulator is an http.Handler: put it on httptest.NewServer in tests, or serve it with
// `metapipe sim`. It answers
//
//	POST /{v}/act_{id}/insights       submit a report run      → {"report_run_id":"…"}
//	GET  /{v}/{report_run_id}          poll the AdReportRun
//	GET  /{v}/{report_run_id}/insights read the results, paged with cursors
//	GET  /{v}/act_{id}/insights        the synchronous variant
//
// with Meta's shapes: every metric and id a JSON string, non-ASCII and "/" escaped, the error
// envelope, the usage headers (x-app-usage, x-ad-account-usage, x-business-use-case-usage,
// x-fb-ads-insights-throttle) rising with the call rate, and 2601/1815107 for results read
// before the job completed.
//
// The data are a pure function of Config.Seed: accounts, campaigns (some with non-ASCII names),
// one ad set per campaign, ads with fixed rankings, and daily facts per ad with exact integer
// splits over placements and demographics. Reach is not additive (see CampaignReach and
// AccountReach). Some campaign-weeks are paused, some ad-days have no delivery, and every 23rd
// week of an account has no delivery at all. The truth is exposed without HTTP (Campaigns,
// AdDay, CampaignReach, AccountReach, KPIDays) so that tests can compute expected results
// independently of the pipeline.
//
// SeedDemo writes the demo's sample data into a migrated database: one client per account and
// its daily KPI rows. Only the metapipe command (its sim and demo commands) and tests import
// this package; the product never does.
//
// Faults (SetFaults) script failing, stuck and slow jobs, throttling, server errors,
// "reduce the amount of data" errors, connections cut mid-page and revised recent figures; the
// synchronous read gets all of those that concern a request (throttling, 500s, too large, pages
// cut mid-body) and two of its own: "reduce the amount of data" where a report run would be
// accepted, and slow answers. Counters records what was served: requests by kind and account,
// pages, rows, peaks of requests in flight and of report runs running; ReportRuns each run's
// duration, its polls and when a poll first saw it end.
//
// Timing: every request waits Latency ± Jitter, or its kind's own latency (KindLatency: a
// synchronous read is slower than a poll), and report runs take JobDuration, moved by up to
// ± JobJitter of it per run. Warm computes a report ahead of the requests for it, so that a
// benchmark's timed run does not share its CPU with the simulator's report building.
//
// Choices where Meta is vague: rankings requested at a level other than ad are omitted
// silently; ctr, cpc and cpm are omitted where their divisor is 0; actions with a zero count are
// left out and an empty actions list is omitted; days after Now's calendar date have no data;
// money has two decimals whatever the currency. Parameters `fields` and `breakdowns` may be comma
// lists or JSON arrays; `filtering`, `action_attribution_windows`,
// `use_unified_attribution_setting` and `date_preset` are accepted and ignored (without a
// time_range the range is the last 30 days before today). Only forward paging (`after`) is
// supported. Report runs never expire (no "Job Skipped"). Tokens: DemoToken reads every account,
// Account.Token only its own account, ExpiredToken answers 190/463.
package graphsim
