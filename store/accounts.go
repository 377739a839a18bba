package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/internal/records"
)

const selectAdAccounts = `
SELECT ad_account_id, name, timezone_name, currency
FROM ad_accounts
WHERE ad_account_id = ANY ($1::text[])`

// ReadAdAccounts returns the cached ad accounts among ids (digits, without act_), by id. An
// account never cached has no entry.
func ReadAdAccounts(ctx context.Context, pool *pgxpool.Pool, ids []string) (map[string]records.AdAccount, error) {
	rows, err := pool.Query(ctx, selectAdAccounts, ids)
	if err != nil {
		return nil, fmt.Errorf("read ad accounts: %w", err)
	}
	out := make(map[string]records.AdAccount, len(ids))
	var a records.AdAccount
	_, err = pgx.ForEachRow(rows, []any{&a.ID, &a.Name, &a.TimeZone, &a.Currency}, func() error {
		out[a.ID] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read ad accounts: %w", err)
	}
	return out, nil
}

const upsertAdAccounts = `
INSERT INTO ad_accounts AS a (ad_account_id, name, timezone_name, currency, updated_at)
SELECT id, name, tz, cur, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(id, name, tz, cur)
ON CONFLICT (ad_account_id) DO UPDATE SET
    name = EXCLUDED.name, timezone_name = EXCLUDED.timezone_name, currency = EXCLUDED.currency,
    updated_at = EXCLUDED.updated_at
WHERE (a.name, a.timezone_name, a.currency) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.timezone_name, EXCLUDED.currency)`

// SaveAdAccounts writes the accounts whose name, time zone or currency differ from the cached
// ones (or are not cached yet), in one statement, and returns how many rows it wrote.
func SaveAdAccounts(ctx context.Context, pool *pgxpool.Pool, accounts []records.AdAccount) (int64, error) {
	if len(accounts) == 0 {
		return 0, nil
	}
	cols := make([][]string, 4)
	for _, a := range accounts {
		cols[0] = append(cols[0], a.ID)
		cols[1] = append(cols[1], a.Name)
		cols[2] = append(cols[2], a.TimeZone)
		cols[3] = append(cols[3], a.Currency)
	}
	ct, err := pool.Exec(ctx, upsertAdAccounts, cols[0], cols[1], cols[2], cols[3])
	if err != nil {
		return 0, fmt.Errorf("save ad accounts: %w", err)
	}
	return ct.RowsAffected(), nil
}
