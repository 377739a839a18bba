package load

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/metapipe/metapipe/internal/records"
)

const selectClients = `
SELECT id::text, name, coalesce(meta_ad_account_id, ''), coalesce(meta_access_token, ''), active
FROM clients
ORDER BY name, id`

// ReadClients returns every client, active or not, ordered by name; the caller filters.
func ReadClients(ctx context.Context, pool *pgxpool.Pool) ([]records.Client, error) {
	rows, err := pool.Query(ctx, selectClients)
	if err != nil {
		return nil, fmt.Errorf("read clients: %w", err)
	}
	clients, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (records.Client, error) {
		var c records.Client
		err := row.Scan(&c.ID, &c.Name, &c.AdAccountID, &c.Token, &c.Active)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read clients: %w", err)
	}
	return clients, nil
}
