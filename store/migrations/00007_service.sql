-- The service's own tables (metapipe worker / serve): runs queued through the API, one row per
-- client of a run with its progress, the report runs of the runs' clients (so that a job taken
-- over by another worker polls them instead of submitting again), and the holds Meta put on ad
-- accounts (so that every worker waits for them). River's own tables (river_job, …) come from
-- River's migrations; River deletes finished jobs after a day, so a run's history lives here.

-- +goose Up
CREATE TABLE IF NOT EXISTS service_runs (
    id            text        PRIMARY KEY,
    request_key   text        NOT NULL,   -- the nominal as-of and the sorted client ids
    as_of         date,                   -- asked for; NULL: each ad account's today
    nominal_as_of date        NOT NULL,   -- as_of, or the UTC date the run was queued
    weeks         integer     NOT NULL CHECK (weeks BETWEEN 1 AND 160),
    lookback      integer     NOT NULL CHECK (lookback BETWEEN 0 AND 365),
    full_refetch  boolean     NOT NULL,
    source        text        NOT NULL,   -- api, enqueue, schedule
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX IF NOT EXISTS service_runs_request_key_idx ON service_runs (request_key, created_at DESC);
CREATE INDEX IF NOT EXISTS service_runs_created_at_idx ON service_runs (created_at DESC);

CREATE TABLE IF NOT EXISTS service_run_clients (
    run_id        text        NOT NULL REFERENCES service_runs (id) ON DELETE CASCADE,
    client_id     uuid        NOT NULL REFERENCES clients (id),
    job_id        bigint,                 -- river_job.id
    state         text        NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'planning', 'extracting', 'waiting', 'loading', 'done', 'failed', 'interrupted')),
    attempt       integer     NOT NULL DEFAULT 0,
    worker        text        NOT NULL DEFAULT '',  -- the River client id that worked it last
    reports_done  integer     NOT NULL DEFAULT 0,
    reports_total integer     NOT NULL DEFAULT 5,
    percent       integer     NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100),
    rows_loaded   integer     NOT NULL DEFAULT 0,
    error         text        NOT NULL DEFAULT '',
    plan          jsonb,                  -- the client's plan, once planned
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, client_id)
);

CREATE TABLE IF NOT EXISTS service_report_runs (
    run_id        text        NOT NULL REFERENCES service_runs (id) ON DELETE CASCADE,
    client_id     uuid        NOT NULL,
    kind          text        NOT NULL,
    since         date        NOT NULL,
    until         date        NOT NULL,
    entry         jsonb       NOT NULL,   -- extract.ReportRunEntry
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, client_id, kind, since, until)
);

CREATE TABLE IF NOT EXISTS ad_account_throttle (
    ad_account_id text        PRIMARY KEY,
    until         timestamptz NOT NULL,
    reason        text        NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE IF EXISTS ad_account_throttle;
DROP TABLE IF EXISTS service_report_runs;
DROP TABLE IF EXISTS service_run_clients;
DROP TABLE IF EXISTS service_runs;
