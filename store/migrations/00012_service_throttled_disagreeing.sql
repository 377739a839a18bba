-- What the run API and page show of a client beside its state (issue 17): since when Meta's
-- throttling has held it (throttled_since: set while it waits on Meta's throttling, kept when it
-- failed, NULL once it is done or no longer throttled), and the weeks whose campaign, placement
-- or demographic sums disagreed with the account's totals: not_final (Mondays still disagreeing
-- after the week was read again: loaded, never made final) and read_again (what was read again
-- in the run, pipeline.RefetchRecord as JSON: kind, week, rows, requests, agrees, error).
-- Numbers 00010 and 00011 belong to other branches.

-- +goose Up
ALTER TABLE service_run_clients
    ADD COLUMN IF NOT EXISTS throttled_since timestamptz,
    ADD COLUMN IF NOT EXISTS not_final       date[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS read_again      jsonb  NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE service_run_clients
    DROP COLUMN IF EXISTS throttled_since,
    DROP COLUMN IF EXISTS not_final,
    DROP COLUMN IF EXISTS read_again;
