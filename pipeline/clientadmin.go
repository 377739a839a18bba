package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/metapipe/metapipe/internal/tokencrypt"
)

// The clients without SQL (metapipe clients, the API's /v1/clients): list, add, set a token,
// deactivate. Tokens are stored encrypted (Config.TokenKeys) and never returned.

// ClientInfo is a client as listed: never its token, only whose token it runs with.
type ClientInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	AdAccount string `json:"ad_account_id"`
	Active    bool   `json:"active"`
	// Token is whose token the client runs with: "own, encrypted", "own, plain text" (stored
	// before METAPIPE_TOKEN_KEY: metapipe migrate encrypts it) or "default" (META_ACCESS_TOKEN).
	Token string `json:"token"`
	// SharesAccountWith names the other clients on the same ad account (each is fetched and
	// counted on its own).
	SharesAccountWith []string `json:"shares_account_with,omitempty"`
}

// ClientAdminError is a request about clients that cannot be done, naming the field at fault:
// a usage error (errors.Is ErrUsage). Conflict is set when another client is in the way (its
// name in Other), NotFound when no client has the name or id.
type ClientAdminError struct {
	Field    string // name, ad_account_id, token, client
	Msg      string
	Conflict bool
	Other    string
	NotFound bool
}

func (e *ClientAdminError) Error() string { return e.Msg }

// Unwrap makes it a usage error.
func (e *ClientAdminError) Unwrap() error { return ErrUsage }

const (
	selectClientInfos = `
SELECT id::text, name, coalesce(meta_ad_account_id, ''), active, coalesce(meta_access_token, '')
FROM clients ORDER BY name, id`
	// lockClientAdmin serializes the checks and writes of the clients (two adds of one ad
	// account at once).
	lockClientAdmin = `SELECT pg_advisory_xact_lock(7165300412)`
)

var adAccountID = regexp.MustCompile(`^(act_)?[0-9]{1,20}$`)

// adminAccount is an ad account id without act_.
func adminAccount(id string) string { return strings.TrimPrefix(strings.TrimSpace(id), "act_") }

// ListClients lists every client, ordered by name. A failure is ErrCannotStart.
func (r *Runner) ListClients(ctx context.Context) ([]ClientInfo, error) {
	rows, err := r.pool.Query(ctx, selectClientInfos)
	if err != nil {
		return nil, fmt.Errorf("%w: read clients: %w", ErrCannotStart, err)
	}
	var list []ClientInfo
	byAccount := map[string][]string{}
	var c ClientInfo
	var stored string
	if _, err := pgx.ForEachRow(rows, []any{&c.ID, &c.Name, &c.AdAccount, &c.Active, &stored}, func() error {
		c.Token = tokenWord(stored)
		list = append(list, c)
		if a := adminAccount(c.AdAccount); a != "" {
			byAccount[a] = append(byAccount[a], c.Name)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%w: read clients: %w", ErrCannotStart, err)
	}
	for i := range list {
		for _, n := range byAccount[adminAccount(list[i].AdAccount)] {
			if n != list[i].Name {
				list[i].SharesAccountWith = append(list[i].SharesAccountWith, n)
			}
		}
	}
	return list, nil
}

func tokenWord(stored string) string {
	switch {
	case stored == "":
		return "default"
	case tokencrypt.Encrypted(stored):
		return "own, encrypted"
	}
	return "own, plain text"
}

// AddClient adds an active client on an ad account (act_123… or the digits) with its own
// token, or the default one (token ""), encrypted. A name taken, an ad account another client
// has (active or not: it would be fetched and counted twice) or a token without
// METAPIPE_TOKEN_KEY is a *ClientAdminError.
func (r *Runner) AddClient(ctx context.Context, name, account, token string) (ClientInfo, error) {
	name, account, token = strings.TrimSpace(name), strings.TrimSpace(account), strings.TrimSpace(token)
	switch {
	case name == "":
		return ClientInfo{}, &ClientAdminError{Field: "name", Msg: "name is empty"}
	case !adAccountID.MatchString(account):
		return ClientInfo{}, &ClientAdminError{Field: "ad_account_id", Msg: fmt.Sprintf("ad account %q: want act_ and digits, or the digits", account)}
	}
	if err := r.canStore(token); err != nil {
		return ClientInfo{}, err
	}
	c := ClientInfo{Name: name, AdAccount: "act_" + adminAccount(account), Active: true, Token: "default"}
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockClientAdmin); err != nil {
			return err
		}
		var other string
		switch err := tx.QueryRow(ctx, `SELECT name FROM clients WHERE ltrim(meta_ad_account_id, 'act_') = $1 ORDER BY name LIMIT 1`,
			adminAccount(account)).Scan(&other); {
		case err == nil:
			return &ClientAdminError{Field: "ad_account_id", Conflict: true, Other: other,
				Msg: fmt.Sprintf("ad account %s is %s's already: two clients on one ad account would fetch and count it twice", c.AdAccount, other)}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO clients (name, meta_ad_account_id, active) VALUES ($1, $2, true) RETURNING id::text`,
			name, c.AdAccount).Scan(&c.ID); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == pgerrcode.UniqueViolation {
				return &ClientAdminError{Field: "name", Conflict: true, Other: name, Msg: fmt.Sprintf("a client is named %q already", name)}
			}
			return err
		}
		return r.storeToken(ctx, tx, c.ID, token)
	})
	if err != nil {
		return ClientInfo{}, adminError("add the client", err)
	}
	if token != "" {
		c.Token = "own, encrypted"
	}
	return c, nil
}

// SetClientToken sets the own token of the client ref names (a name or an id), encrypted, or
// removes it (token "": the client uses the default token).
func (r *Runner) SetClientToken(ctx context.Context, ref, token string) (ClientInfo, error) {
	token = strings.TrimSpace(token)
	if err := r.canStore(token); err != nil {
		return ClientInfo{}, err
	}
	return r.changeClient(ctx, "set the token", ref, func(tx pgx.Tx, id string) error { return r.storeToken(ctx, tx, id, token) })
}

// DeactivateClient deactivates the client ref names: runs of every active client leave it out.
func (r *Runner) DeactivateClient(ctx context.Context, ref string) (ClientInfo, error) {
	return r.changeClient(ctx, "deactivate the client", ref, func(tx pgx.Tx, id string) error {
		_, err := tx.Exec(ctx, `UPDATE clients SET active = false WHERE id = $1`, id)
		return err
	})
}

// changeClient finds the client ref names and changes it in one transaction, then reads it.
func (r *Runner) changeClient(ctx context.Context, what, ref string, change func(pgx.Tx, string) error) (ClientInfo, error) {
	var c ClientInfo
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockClientAdmin); err != nil {
			return err
		}
		var id string
		err := tx.QueryRow(ctx, `SELECT id::text FROM clients WHERE name = $1 OR lower(id::text) = lower($1) ORDER BY name LIMIT 1`, ref).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return &ClientAdminError{Field: "client", NotFound: true, Msg: fmt.Sprintf("client %q: no client of that name or id", ref)}
		}
		if err != nil {
			return err
		}
		if err := change(tx, id); err != nil {
			return err
		}
		var stored string
		if err := tx.QueryRow(ctx, `SELECT id::text, name, coalesce(meta_ad_account_id, ''), active, coalesce(meta_access_token, '') FROM clients WHERE id = $1`,
			id).Scan(&c.ID, &c.Name, &c.AdAccount, &c.Active, &stored); err != nil {
			return err
		}
		c.Token = tokenWord(stored)
		return nil
	})
	if err != nil {
		return ClientInfo{}, adminError(what, err)
	}
	return c, nil
}

// canStore refuses a token without a key to encrypt it.
func (r *Runner) canStore(token string) error {
	if token != "" && !r.cfg.TokenKeys.CanEncrypt() {
		return &ClientAdminError{Field: "token", Msg: tokencrypt.EnvKey + " is not set: client tokens are stored encrypted with it (openssl rand -hex 32)"}
	}
	return nil
}

// storeToken stores a client's token encrypted, or NULL for "" (the default token).
func (r *Runner) storeToken(ctx context.Context, tx pgx.Tx, id, token string) error {
	var stored *string
	if token != "" {
		enc, err := r.cfg.TokenKeys.Encrypt(id, token)
		if err != nil {
			return err
		}
		stored = &enc
	}
	_, err := tx.Exec(ctx, `UPDATE clients SET meta_access_token = $2 WHERE id = $1`, id, stored)
	return err
}

// adminError keeps a *ClientAdminError as it is and makes the others ErrCannotStart.
func adminError(what string, err error) error {
	var ae *ClientAdminError
	if errors.As(err, &ae) {
		return ae
	}
	return fmt.Errorf("%w: %s: %w", ErrCannotStart, what, err)
}
