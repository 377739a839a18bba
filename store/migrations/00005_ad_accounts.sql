-- What the Graph API says of each ad account (GET act_<id>?fields=account_id,name,timezone_name,
-- currency): its calendar and its currency. Every run asks Meta again and writes a row only
-- when an answer differs; a run goes on with the row when Meta does not answer.

-- +goose Up
CREATE TABLE IF NOT EXISTS ad_accounts (
    ad_account_id text        PRIMARY KEY,
    name          text        NOT NULL DEFAULT '',
    timezone_name text        NOT NULL,
    currency      text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ad_accounts_id_check CHECK (ad_account_id ~ '^[0-9]+$'),
    CONSTRAINT ad_accounts_currency_check CHECK (currency ~ '^[A-Z]{3}$')
);

-- +goose Down
DROP TABLE IF EXISTS ad_accounts;
