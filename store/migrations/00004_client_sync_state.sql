-- What successful runs have covered, per client and platform; written in the load's transaction.

-- +goose Up
CREATE TABLE IF NOT EXISTS client_sync_state (
    client_id     uuid        NOT NULL REFERENCES clients (id),
    platform      text        NOT NULL DEFAULT 'meta',
    covered_from  date        NOT NULL,
    final_through date,
    last_as_of    date        NOT NULL,
    last_run_id   text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, platform),
    CONSTRAINT client_sync_state_covered_from_monday_check CHECK (extract(isodow FROM covered_from) = 1),
    CONSTRAINT client_sync_state_final_through_sunday_check CHECK (extract(isodow FROM final_through) = 7)
);

-- +goose Down
DROP TABLE IF EXISTS client_sync_state;
