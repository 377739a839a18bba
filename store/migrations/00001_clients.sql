-- Clients of the agency. The old application may already have this table with a subset of
-- the columns: every statement here leaves its rows in place.

-- +goose Up
CREATE TABLE IF NOT EXISTS clients (
    id                 uuid    PRIMARY KEY DEFAULT gen_random_uuid(),
    name               text    NOT NULL,
    meta_ad_account_id text,
    meta_access_token  text,
    active             boolean NOT NULL DEFAULT true
);

ALTER TABLE clients ADD COLUMN IF NOT EXISTS name text;
ALTER TABLE clients ADD COLUMN IF NOT EXISTS meta_ad_account_id text;
ALTER TABLE clients ADD COLUMN IF NOT EXISTS meta_access_token text;
ALTER TABLE clients ADD COLUMN IF NOT EXISTS active boolean NOT NULL DEFAULT true;
ALTER TABLE clients ALTER COLUMN id SET DEFAULT gen_random_uuid();
ALTER TABLE clients ALTER COLUMN id SET NOT NULL;
ALTER TABLE clients ALTER COLUMN name SET NOT NULL;

-- +goose StatementBegin
DO $$
BEGIN
    -- A primary key on id (the old table may lack one: the foreign keys below need it).
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'clients'::regclass AND contype = 'p') THEN
        ALTER TABLE clients ADD CONSTRAINT clients_pkey PRIMARY KEY (id);
    END IF;
    -- name is unique: added only if no unique index on (name) exists yet.
    IF NOT EXISTS (SELECT 1 FROM pg_index i
                   WHERE i.indrelid = 'clients'::regclass AND i.indisunique
                     AND i.indnkeyatts = 1
                     AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                                        WHERE attrelid = 'clients'::regclass AND attname = 'name')) THEN
        ALTER TABLE clients ADD CONSTRAINT clients_name_key UNIQUE (name);
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The tables hold the agency's data: migrating down never drops them.
SELECT 1;
