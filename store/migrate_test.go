package store

import (
	"context"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/internal/records"
)

// schema describes every column and constraint of our tables.
func schema(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(), `
		SELECT (SELECT string_agg(table_name || '.' || column_name || ' ' || data_type || ' ' ||
		                          is_nullable || ' ' || coalesce(column_default, ''), E'\n'
		                          ORDER BY table_name, column_name)
		        FROM information_schema.columns WHERE table_schema = 'public')
		    || E'\n' ||
		       (SELECT string_agg(conrelid::regclass || ' ' || conname || ' ' || convalidated || ' ' ||
		                          pg_get_constraintdef(oid), E'\n' ORDER BY conrelid::regclass::text, conname)
		        FROM pg_constraint WHERE connamespace = 'public'::regnamespace)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = Migrate(ctx, pool) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate %d: %v", i, err)
		}
	}
	first := schema(t, pool)
	if err := Migrate(ctx, pool); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if again := schema(t, pool); again != first {
		t.Errorf("second Migrate changed the schema:\n%s\n---\n%s", first, again)
	}
	cur, latest, err := SchemaVersion(ctx, pool)
	if want := newestMigration(t); err != nil || cur != latest || cur != want {
		t.Errorf("SchemaVersion = %d, %d, %v; want %d", cur, latest, err, want)
	}
}

// The old application's tables, with rows, are migrated in place.
func TestMigrateOldTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	_, err := pool.Exec(ctx, `
		CREATE TABLE clients (id uuid PRIMARY KEY, name text, meta_ad_account_id text, meta_access_token text);
		CREATE TABLE campaign_summaries (
			id serial PRIMARY KEY, client_id uuid, summary_type text, summary_date date, platform text,
			total_spend numeric, total_impressions int, total_clicks int, campaign_data jsonb,
			last_updated timestamptz DEFAULT now());
		CREATE UNIQUE INDEX old_summaries_key ON campaign_summaries (client_id, summary_date, summary_type, platform);
		INSERT INTO clients VALUES
			('11111111-1111-4111-8111-111111111111', 'Hotel Old', '1234', NULL),
			('22222222-2222-4222-8222-222222222222', 'Pensjonat Stary', 'act_99', 'EAAB-old');
		INSERT INTO campaign_summaries (client_id, summary_type, summary_date, platform, total_spend,
		                                total_impressions, total_clicks, campaign_data, last_updated) VALUES
			('11111111-1111-4111-8111-111111111111', 'weekly', '2025-01-06', 'meta', 120.5, 1000, 10,
			 '[{"campaign_name": "Zima ❄"}]', '2025-01-13 10:00+00'),
			('11111111-1111-4111-8111-111111111111', 'monthly', '2025-01-01', 'meta', 999.999, 5000, 50,
			 NULL, '2025-02-01 10:00+00'),
			('22222222-2222-4222-8222-222222222222', 'weekly', '2025-01-12', 'meta', 1.00, 1, 0,
			 '{}', '2025-01-13 10:00+00');`)
	if err != nil {
		t.Fatalf("old schema: %v", err)
	}
	before := dump(t, pool, "campaign_summaries")
	beforeClients := dump(t, pool, "clients")

	if err := Migrate(ctx, pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}

	var rows string
	err = pool.QueryRow(ctx, `SELECT string_agg(format('%s %s %s %s %s %s %s', client_id, summary_type, summary_date,
		total_spend, total_impressions, campaign_data, last_updated AT TIME ZONE 'UTC'), E'\n' ORDER BY id) FROM campaign_summaries`).Scan(&rows)
	if err != nil {
		t.Fatal(err)
	}
	want := "11111111-1111-4111-8111-111111111111 weekly 2025-01-06 120.5 1000 [{\"campaign_name\": \"Zima ❄\"}] 2025-01-13 10:00:00\n" +
		"11111111-1111-4111-8111-111111111111 monthly 2025-01-01 999.999 5000  2025-02-01 10:00:00\n" +
		"22222222-2222-4222-8222-222222222222 weekly 2025-01-12 1.00 1 {} 2025-01-13 10:00:00"
	if rows != want {
		t.Errorf("old rows after Migrate:\n%s\nwant\n%s", rows, want)
	}
	if before == "" || beforeClients == "" {
		t.Fatal("empty dump")
	}
	var active int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM clients WHERE active`).Scan(&active); err != nil || active != 2 {
		t.Errorf("clients.active: %d %v", active, err)
	}

	// New columns exist; a lossy type change (999.999) and constraints old rows violate
	// (a Sunday, an object as campaign_data) were left alone, not forced.
	var spendType, impType string
	var kpiDays, uniqueKeys, notValid int
	err = pool.QueryRow(ctx, `
		SELECT format_type(a.atttypid, a.atttypmod),
		       (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = a.attrelid AND attname = 'total_impressions'),
		       (SELECT count(*) FROM pg_attribute WHERE attrelid = a.attrelid AND attname IN ('kpi_days', 'meta_tables', 'content_hash', 'reach', 'roas')),
		       (SELECT count(*) FROM pg_index WHERE indrelid = a.attrelid AND indisunique AND NOT indisprimary),
		       (SELECT count(*) FROM pg_constraint WHERE conrelid = a.attrelid AND NOT convalidated)
		FROM pg_attribute a WHERE a.attrelid = 'campaign_summaries'::regclass AND a.attname = 'total_spend'`).
		Scan(&spendType, &impType, &kpiDays, &uniqueKeys, &notValid)
	if err != nil {
		t.Fatal(err)
	}
	if spendType != "numeric" || impType != "bigint" || kpiDays != 5 || uniqueKeys != 1 || notValid != 2 {
		t.Errorf("after Migrate: total_spend %s, total_impressions %s, new columns %d, unique keys %d, not-valid constraints %d",
			spendType, impType, kpiDays, uniqueKeys, notValid)
	}
	if err := Migrate(ctx, pool); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}

	// A load works on the migrated table and updates the old row of its week in place.
	id := "11111111-1111-4111-8111-111111111111"
	s := summary(id, monday(0), 1, 2000)
	res, err := Load(ctx, pool, Request{SummariesPath: writeSummaries(t, []records.Summary{s}), ClientIDs: []string{id}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if res.Updated != 1 || res.Inserted != 0 {
		t.Errorf("load over the old row: %+v", res)
	}
	var spend string
	var n int
	if err := pool.QueryRow(ctx, `SELECT (SELECT total_spend::text FROM campaign_summaries WHERE id = 1), (SELECT count(*) FROM campaign_summaries)`).Scan(&spend, &n); err != nil {
		t.Fatal(err)
	}
	if spend != s.TotalSpend || n != 3 {
		t.Errorf("after load: spend %s rows %d", spend, n)
	}
}

// newestMigration is the highest version among the migration files (00009_x.sql is 9).
func newestMigration(t *testing.T) int64 {
	t.Helper()
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migration files: %v %v", names, err)
	}
	var newest int64
	for _, n := range names {
		v, err := strconv.ParseInt(strings.SplitN(path.Base(n), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", n, err)
		}
		newest = max(newest, v)
	}
	return newest
}
