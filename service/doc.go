// Package service runs metapipe as a service on River (github.com/riverqueue/river), a job
// queue on the same PostgreSQL: a run is queued at once ([Service.Enqueue], the HTTP API's POST
// /v1/runs) as one River job per client, and any number of worker processes on any number of
// machines work the jobs ([Service.Start]).
//
// A client's job plans the client as `metapipe run` would (its ad account, its sync state, the
// week rules), extracts it, transforms it and loads it. It does not hold a worker while Meta
// works: it submits the client's report runs, saves them in PostgreSQL (service_report_runs)
// and snoozes until they are due, so each attempt is short and a job taken over by another
// worker (after SIGTERM at once, after a crash once River rescues it) polls the saved runs
// instead of submitting again. Its staged files stay local to the worker (and go once the
// client is over); a worker that takes a job over reads the results again. The client's load
// commits in the same transaction as the job's completion (river.JobCompleteTx, fenced against
// a job taken over meanwhile): a job is never done without its rows, nor its rows in without
// the job done.
//
// The per-client run lock (store.LockClients, a lease row) keeps a client in one run at a time, across
// `metapipe run` and jobs: a job whose client is held snoozes. Holds Meta puts on an ad account
// (throttling) are shared by every worker through ad_account_throttle. A failing client is
// retried by River with backoff, a bounded number of times; permanent errors (a refused token,
// an as-of after the account's today, malformed data) are not retried. The service's own
// tables (service_runs, service_run_clients) keep the runs' history and progress, which the
// HTTP API and its pages read; River deletes finished jobs after a day.
package service
