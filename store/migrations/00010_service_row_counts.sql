-- What each client of a service run did to campaign_summaries, counted apart as `metapipe run`
-- counts them (pipeline.RowCounts): rows inserted, updated (content changed), unchanged (equal
-- to the stored ones: not rewritten), confirmed (of the unchanged, those whose as_of moved
-- forward), kept (the stored ones are as of a later date) and deleted (weeks that lost all
-- delivery). They replace rows_loaded, which summed inserted, updated and unchanged, so that a
-- re-fetch that wrote nothing said it loaded every row. A total cannot be split: the clients of
-- runs finished before this migration show 0 in each count.
-- Numbers 00008 and 00009 belong to other branches.

-- +goose Up
ALTER TABLE service_run_clients
    ADD COLUMN IF NOT EXISTS rows_inserted  integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS rows_updated   integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS rows_unchanged integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS rows_confirmed integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS rows_kept      integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS rows_deleted   integer NOT NULL DEFAULT 0,
    DROP COLUMN IF EXISTS rows_loaded;

-- +goose Down
ALTER TABLE service_run_clients ADD COLUMN IF NOT EXISTS rows_loaded integer NOT NULL DEFAULT 0;
UPDATE service_run_clients SET rows_loaded = rows_inserted + rows_updated + rows_unchanged;
ALTER TABLE service_run_clients
    DROP COLUMN IF EXISTS rows_inserted,
    DROP COLUMN IF EXISTS rows_updated,
    DROP COLUMN IF EXISTS rows_unchanged,
    DROP COLUMN IF EXISTS rows_confirmed,
    DROP COLUMN IF EXISTS rows_kept,
    DROP COLUMN IF EXISTS rows_deleted;
