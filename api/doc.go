// Package api is metapipe's HTTP face (metapipe serve): a JSON API that queues a run and
// answers at once with its id, the run's progress for the caller to poll, HTML pages of the
// runs that update themselves in place while a run goes on (a meta refresh without
// JavaScript), and River's own UI for the jobs.
//
//	POST /v1/runs         {"clients": [...], "as_of": "YYYY-MM-DD", "weeks": 54, "full": false}
//	                      → 202 {"run_id", "status_url"}; 400 naming the field; 409 with the
//	                      run already queued or running for the same clients and as-of date
//	GET  /v1/runs/{id}    the run: state, and per client its state, attempt, report runs,
//	                      Meta's percent, rows and error
//	GET  /v1/runs?limit=N the newest runs
//	GET  /healthz         200 while the database answers (no token needed)
//	GET  /metrics         Prometheus's text format (service.Metrics)
//	GET  /v1/clients, POST /v1/clients, PUT /v1/clients/{id}/token, POST /v1/clients/{id}/deactivate
//	                      the clients, as metapipe clients does them (clients.go)
//	GET  /runs/{id}       the run's page; GET /runs: the recent runs
//	/riverui/             River's UI: jobs, states, errors, attempts, queues
//	POST /login, /logout  sign in (the form's token) and out (the cookie expired; 403 cross-site)
//
// Every route but /healthz needs the API token (METAPIPE_API_TOKEN): `Authorization: Bearer
// <token>`, or, for a browser, the cookie that POST /login sets: an HMAC keyed by the token,
// never the token (River's UI sends no header of its own). Tokens are compared in constant
// time and never logged.
package api
