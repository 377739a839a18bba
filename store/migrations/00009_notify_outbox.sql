-- Notifications (issue 21): every event is recorded here first, in the transaction that
-- caused it where there is one, with a River job (metapipe_notify) that delivers it to the
-- webhooks; notify_deliveries says, per event and webhook, when it was delivered, so that an
-- event is posted once to each webhook whichever worker retries the job. A webhook is named by
-- a hash of its URL (a Slack webhook's URL is a secret): never the URL itself.

-- +goose Up
CREATE TABLE IF NOT EXISTS notify_events (
    id          bigserial   PRIMARY KEY,
    kind        text        NOT NULL,        -- run_finished, client_failing, token_refused, client_throttled
    dedup_key   text        NOT NULL UNIQUE, -- one event per occurrence (the run, the client and the kind)
    body        jsonb       NOT NULL,        -- the generic JSON body posted (README, "Notifications")
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS notify_deliveries (
    event_id     bigint      NOT NULL REFERENCES notify_events (id) ON DELETE CASCADE,
    webhook      text        NOT NULL,       -- the webhook's id: its format and a hash of its URL
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT '',
    delivered_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, webhook)
);

-- A client's runs, newest first: what the metrics' clients by state and a client's failures in
-- a row read (service_run_clients' key starts with the run).
CREATE INDEX IF NOT EXISTS service_run_clients_client_id_idx ON service_run_clients (client_id);

-- +goose Down
DROP INDEX IF EXISTS service_run_clients_client_id_idx;
DROP TABLE IF EXISTS notify_deliveries;
DROP TABLE IF EXISTS notify_events;
