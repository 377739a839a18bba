package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/metapipe/metapipe/internal/records"
)

const selectClients = `
SELECT id::text, name, coalesce(meta_ad_account_id, ''), coalesce(meta_access_token, ''), active
FROM clients
ORDER BY name, id`

// selectNamedClients is selectClients of the clients a name or an id (any case) names.
const selectNamedClients = `
SELECT id::text, name, coalesce(meta_ad_account_id, ''), coalesce(meta_access_token, ''), active
FROM clients
WHERE name = ANY ($1) OR lower(id::text) = ANY ($2)
ORDER BY name, id`

// ReadClients returns every client, active or not, ordered by name; the caller filters.
func ReadClients(ctx context.Context, pool *pgxpool.Pool) ([]records.Client, error) {
	return readClients(ctx, pool, selectClients)
}

// ReadNamedClients returns the clients, active or not, whose name or id (in any case) is one
// of names, ordered by name: what ReadClients would give of them, without reading the others.
func ReadNamedClients(ctx context.Context, pool *pgxpool.Pool, names []string) ([]records.Client, error) {
	lower := make([]string, len(names))
	for i, n := range names {
		lower[i] = strings.ToLower(n)
	}
	return readClients(ctx, pool, selectNamedClients, names, lower)
}

func readClients(ctx context.Context, pool *pgxpool.Pool, query string, args ...any) ([]records.Client, error) {
	rows, err := pool.Query(ctx, query, args...)
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
