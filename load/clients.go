package load

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Client is a row of clients. Token is the client's own Meta access token, "" when the client
// uses the default one. String, GoString and LogValue leave the token out, so a Client can be
// printed or logged as a whole.
type Client struct {
	ID          string
	Name        string
	AdAccountID string // as stored: with or without the act_ prefix
	Token       string // secret; may be ""
	Active      bool
}

// String is the client's name and id.
func (c Client) String() string { return fmt.Sprintf("%s (%s)", c.Name, c.ID) }

// GoString keeps the token out of %#v.
func (c Client) GoString() string {
	return fmt.Sprintf("load.Client{ID:%q, Name:%q, AdAccountID:%q, Token:%s, Active:%t}",
		c.ID, c.Name, c.AdAccountID, redacted(c.Token), c.Active)
}

// LogValue keeps the token out of slog output.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", c.ID),
		slog.String("name", c.Name),
		slog.String("ad_account_id", c.AdAccountID),
		slog.Bool("own_token", c.Token != ""),
		slog.Bool("active", c.Active),
	)
}

func redacted(token string) string {
	if token == "" {
		return `""`
	}
	return "[redacted]"
}

const selectClients = `
SELECT id::text, name, coalesce(meta_ad_account_id, ''), coalesce(meta_access_token, ''), active
FROM clients
ORDER BY name, id`

// ReadClients returns every client, active or not, ordered by name; the caller filters.
func ReadClients(ctx context.Context, pool *pgxpool.Pool) ([]Client, error) {
	rows, err := pool.Query(ctx, selectClients)
	if err != nil {
		return nil, fmt.Errorf("read clients: %w", err)
	}
	clients, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Client, error) {
		var c Client
		err := row.Scan(&c.ID, &c.Name, &c.AdAccountID, &c.Token, &c.Active)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read clients: %w", err)
	}
	return clients, nil
}
