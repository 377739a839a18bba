package records

import (
	"fmt"
	"log/slog"
)

// Client is a row of the clients table. Token is the client's own Meta access token, "" when
// the client uses the default one (META_ACCESS_TOKEN). String, GoString and LogValue leave the
// token out, so a Client can be printed or logged as a whole.
type Client struct {
	ID          string // clients.id, a UUID in lowercase text form
	Name        string
	AdAccountID string // as stored: with or without the act_ prefix
	Token       string // secret; may be ""
	Active      bool
}

// String is the client's name and id.
func (c Client) String() string { return fmt.Sprintf("%s (%s)", c.Name, c.ID) }

// GoString keeps the token out of %#v.
func (c Client) GoString() string {
	tok := `""`
	if c.Token != "" {
		tok = "[redacted]"
	}
	return fmt.Sprintf("records.Client{ID:%q, Name:%q, AdAccountID:%q, Token:%s, Active:%t}",
		c.ID, c.Name, c.AdAccountID, tok, c.Active)
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
