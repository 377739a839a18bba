-- An explicit re-fetch (POST /v1/clients/{id}/refetch, the clients' pages): the run's loads
-- replace the stored figures of its range even when they are as of a later date
-- (load.Request.Replace). Other runs keep the rule that fresher figures win.

-- +goose Up
ALTER TABLE service_runs ADD COLUMN IF NOT EXISTS replace_stored boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE service_runs DROP COLUMN IF EXISTS replace_stored;
