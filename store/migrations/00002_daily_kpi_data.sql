-- Daily KPI rows, written by another collector and read here in one query per run. The unique
-- key (client_id, date, platform) also serves that bulk read.

-- +goose Up
CREATE TABLE IF NOT EXISTS daily_kpi_data (
    client_id          uuid   NOT NULL REFERENCES clients (id),
    date               date   NOT NULL,
    platform           text   NOT NULL DEFAULT 'meta',
    total_clicks       bigint,
    total_impressions  bigint,
    total_spend        numeric(14,2),
    total_conversions  bigint,
    click_to_call      bigint,
    email_contacts     bigint,
    booking_step_1     bigint,
    booking_step_2     bigint,
    booking_step_3     bigint,
    reservations       bigint,
    reservation_value  numeric(14,2),
    CONSTRAINT daily_kpi_data_client_id_date_platform_key UNIQUE (client_id, date, platform)
);

ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS platform text DEFAULT 'meta';
ALTER TABLE daily_kpi_data ALTER COLUMN platform SET DEFAULT 'meta';
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS total_clicks bigint;
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS total_impressions bigint;
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS total_spend numeric(14,2);
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS total_conversions bigint;
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS click_to_call bigint;
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS email_contacts bigint;
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS booking_step_1 bigint;
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS booking_step_2 bigint;
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS booking_step_3 bigint;
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS reservations bigint;
ALTER TABLE daily_kpi_data ADD COLUMN IF NOT EXISTS reservation_value numeric(14,2);

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = 'daily_kpi_data'::regclass AND i.indisunique AND i.indpred IS NULL
          AND i.indnkeyatts = 3
          AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
               FROM pg_attribute a
               WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::smallint[]))
              = ARRAY['client_id', 'date', 'platform']) THEN
        ALTER TABLE daily_kpi_data
            ADD CONSTRAINT daily_kpi_data_client_id_date_platform_key UNIQUE (client_id, date, platform);
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
SELECT 1;
