-- The ad account's currency of every amount of a row, and the as-of date its figures were true
-- at (a run never replaces a row with figures as of an earlier date). Rows written before this
-- migration keep NULL in both until a run covers their week again (`metapipe run --full` covers
-- the whole horizon).

-- +goose Up
ALTER TABLE campaign_summaries ADD COLUMN IF NOT EXISTS currency text;
ALTER TABLE campaign_summaries ADD COLUMN IF NOT EXISTS as_of date;

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'campaign_summaries'::regclass AND conname = 'campaign_summaries_currency_check') THEN
        ALTER TABLE campaign_summaries
            ADD CONSTRAINT campaign_summaries_currency_check CHECK (currency ~ '^[A-Z]{3}$') NOT VALID;
    END IF;
    BEGIN
        ALTER TABLE campaign_summaries VALIDATE CONSTRAINT campaign_summaries_currency_check;
    EXCEPTION WHEN check_violation THEN
        RAISE NOTICE 'campaign_summaries: campaign_summaries_currency_check stays NOT VALID, some stored rows violate it';
    END;
END
$$;
-- +goose StatementEnd

-- +goose Down
SELECT 1;
