package service

// The SQL of the runs and their clients' states (service_runs, service_run_clients), in one
// place. No state is written here as a literal: the states come as parameters, the set of
// those over as a text[] (overStates: `state <> ALL ($n)` for the clients not over), which
// every pgx exec mode sends as it is (the pooler tests run them through PgBouncer in
// transaction mode). River's tables are read through River's client (JobList, JobGetTx, …),
// except fenceJob, in the load's transaction.
const (
	insertRun        = `INSERT INTO service_runs (id, request_key, as_of, nominal_as_of, weeks, lookback, full_refetch, source, replace_stored) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	insertRunClients = `INSERT INTO service_run_clients (run_id, client_id, job_id) SELECT $1, c, j FROM unnest($2::uuid[], $3::bigint[]) AS t (c, j)`
	lockRequestKey   = `SELECT pg_advisory_xact_lock($1)`
	// openRunsOfKey is the runs of a request key with clients not over ($2: overStates),
	// newest first, with those clients' jobs: a run is active while one of them is not over
	// in River either (Enqueue asks River).
	openRunsOfKey = `
SELECT r.id, array_agg(c.job_id) FROM service_runs r JOIN service_run_clients c ON c.run_id = r.id
WHERE r.request_key = $1 AND c.state <> ALL ($2::text[]) AND c.job_id IS NOT NULL
GROUP BY r.id, r.created_at ORDER BY r.created_at DESC, r.id DESC`

	selectRun = `
SELECT id, coalesce(as_of, nominal_as_of)::text, as_of IS NOT NULL, weeks, full_refetch, source, created_at, finished_at
FROM service_runs WHERE id = $1`
	selectRuns = `
SELECT id, coalesce(as_of, nominal_as_of)::text, as_of IS NOT NULL, weeks, full_refetch, source, created_at, finished_at
FROM service_runs ORDER BY created_at DESC, id DESC LIMIT $1`
	// selectRunClients reads the clients of the runs $1, with their job's id (0: none) for
	// the attempt River counts.
	selectRunClients = `
SELECT c.run_id, c.client_id::text, cl.name, c.state, coalesce(c.job_id, 0), c.attempt, c.worker,
       c.reports_done, c.reports_total, c.percent,
       c.rows_inserted, c.rows_updated, c.rows_unchanged, c.rows_confirmed, c.rows_kept, c.rows_deleted,
       c.error, c.updated_at, c.throttled_since, c.not_final::text[], c.read_again
FROM service_run_clients c JOIN clients cl ON cl.id = c.client_id
WHERE c.run_id = ANY ($1::text[])
ORDER BY cl.name, c.client_id`

	// liveJobs is the clients not over ($1: overStates) of the runs $2 (NULL: every run) that
	// have a job, for reconcile to ask River about.
	liveJobs = `
SELECT run_id, client_id::text, job_id FROM service_run_clients
WHERE job_id IS NOT NULL AND state <> ALL ($1::text[]) AND ($2::text[] IS NULL OR run_id = ANY ($2))`
	// endClients records the end River gave the jobs of clients not over ($1: overStates):
	// each client ($2, $3) its state ($4) and error ($5), one statement whatever their number.
	endClients = `
UPDATE service_run_clients c SET state = t.state, error = t.error, updated_at = now()
FROM unnest($2::text[], $3::uuid[], $4::text[], $5::text[]) AS t (run_id, client_id, state, error)
WHERE c.run_id = t.run_id AND c.client_id = t.client_id AND c.state <> ALL ($1::text[])
RETURNING c.run_id, c.client_id::text`

	// liveClients are those of the given (run, client) pairs ($2, $3) whose client is not over
	// ($1: overStates): its staged files may still serve an attempt.
	liveClients = `
SELECT c.run_id, c.client_id::text FROM service_run_clients c
JOIN unnest($2::text[], $3::text[]) AS t (run_id, client_id) ON c.run_id = t.run_id AND c.client_id::text = t.client_id
WHERE c.state <> ALL ($1::text[])`

	selectClientRun = `
SELECT r.as_of, r.weeks, r.lookback, r.full_refetch, c.state, c.plan, r.replace_stored,
    (SELECT count(*) FROM service_run_clients n WHERE n.run_id = r.id)
FROM service_runs r JOIN service_run_clients c ON c.run_id = r.id
WHERE r.id = $1 AND c.client_id = $2`
	updateClientState = `
UPDATE service_run_clients SET state = $3, attempt = $4, worker = $5, updated_at = now()
WHERE run_id = $1 AND client_id = $2`
	updateClientPlan     = `UPDATE service_run_clients SET plan = $3, reports_total = $4, updated_at = now() WHERE run_id = $1 AND client_id = $2`
	clearClientPlan      = `UPDATE service_run_clients SET plan = NULL WHERE run_id = $1 AND client_id = $2`
	updateClientProgress = `
UPDATE service_run_clients SET reports_done = $4, percent = $5, updated_at = now()
WHERE run_id = $2 AND client_id = $3 AND state <> ALL ($1::text[])`
	// updateClientError sets the state and error of a client not over ($1: overStates).
	updateClientError = `
UPDATE service_run_clients SET state = $4, error = $5, updated_at = now()
WHERE run_id = $2 AND client_id = $3 AND state <> ALL ($1::text[])`
	// updateAttemptError keeps the error of an attempt River retries; the state stays.
	updateAttemptError = `UPDATE service_run_clients SET error = $3, updated_at = now() WHERE run_id = $1 AND client_id = $2`
	updateClientDone   = `
UPDATE service_run_clients SET state = $3, rows_inserted = $4, rows_updated = $5, rows_unchanged = $6,
    rows_confirmed = $7, rows_kept = $8, rows_deleted = $9, reports_done = reports_total, percent = 100, error = '',
    throttled_since = NULL, not_final = $10::text[]::date[], read_again = $11::text::jsonb, updated_at = now()
WHERE run_id = $1 AND client_id = $2`
	// updateClientThrottled sets (coalesce: the earliest of an unbroken throttling) or clears
	// since when Meta's throttling holds a client that is not over ($1: overStates).
	updateClientThrottled = `
UPDATE service_run_clients SET throttled_since = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE coalesce(throttled_since, $4) END
WHERE run_id = $2 AND client_id = $3 AND state <> ALL ($1::text[])`
	// reopenClientRow puts a client back in its run as state $3, with no plan, error or progress.
	reopenClientRow = `
UPDATE service_run_clients SET state = $3, plan = NULL, error = '', reports_done = 0, percent = 0, updated_at = now()
WHERE run_id = $1 AND client_id = $2`
	deleteClientReportRuns = `DELETE FROM service_report_runs WHERE run_id = $1 AND client_id = $2`
	reopenRun              = `UPDATE service_runs SET finished_at = NULL WHERE id = $1`
	// finishRun finishes the run $2 once none of its clients is not over ($1: overStates).
	finishRun = `
UPDATE service_runs SET finished_at = now()
WHERE id = $2 AND finished_at IS NULL AND NOT EXISTS (
    SELECT 1 FROM service_run_clients WHERE run_id = $2 AND state <> ALL ($1::text[]))
RETURNING id`
	// fenceJob locks the job's row and says whether this worker's attempt still holds it: a
	// job rescued meanwhile, or taken by another worker, must not complete here. It is the one
	// read of River's river_job outside River's client, because it must lock the row (FOR
	// UPDATE) in the transaction that loads the client and completes the job
	// (river.JobCompleteTx): River's JobGetTx reads it without a lock, and a rescue could
	// then hand the job to another worker between the read and the commit.
	fenceJob = `
SELECT attempt, coalesce(attempted_by[array_upper(attempted_by, 1)], '')
FROM river_job WHERE id = $1 AND state = 'running' FOR UPDATE`

	// selectRunEnd is the clients of a run, for the event of its end.
	selectRunEnd = `
SELECT c.client_id::text, cl.name, c.state, c.error
FROM service_run_clients c JOIN clients cl ON cl.id = c.client_id
WHERE c.run_id = $1 ORDER BY cl.name, c.client_id`
	// selectClientStates is a client's states in its newest runs ($2 of them), newest first.
	selectClientStates = `
SELECT c.state FROM service_run_clients c JOIN service_runs r ON r.id = c.run_id
WHERE c.client_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2`
	// selectHealthRuns is each client's newest runs (at most $2), of one client ($1) or all.
	selectHealthRuns = `
SELECT client_id, run_id, source, created_at, state, weeks, error FROM (
    SELECT c.client_id::text, r.id AS run_id, r.source, r.created_at, r.weeks, c.state, c.error,
           row_number() OVER (PARTITION BY c.client_id ORDER BY r.created_at DESC, r.id DESC) AS n
    FROM service_run_clients c JOIN service_runs r ON r.id = c.run_id
    WHERE $1::text IS NULL OR c.client_id::text = $1) x
WHERE n <= $2 ORDER BY client_id, created_at DESC, run_id DESC`

	// metricsRunClientStates counts each run's clients by state, for runStateOf.
	metricsRunClientStates = `SELECT run_id, state, count(*) FROM service_run_clients GROUP BY 1, 2`
	// metricsClientStates is each active client's state in its newest run ('' for none).
	metricsClientStates = `
SELECT coalesce(n.state, ''), count(*)
FROM clients cl LEFT JOIN LATERAL (
    SELECT c.state FROM service_run_clients c JOIN service_runs r ON r.id = c.run_id
    WHERE c.client_id = cl.id ORDER BY r.created_at DESC, r.id DESC LIMIT 1) n ON true
WHERE cl.active
GROUP BY 1`
)
