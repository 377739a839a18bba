package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/internal/tokencrypt"
)

// decryptTokens replaces each client's stored token (encrypted, or plain text from before)
// by the token. An encrypted token the keys cannot open is ErrUsage naming the client and
// METAPIPE_TOKEN_KEY, never a value.
func (r *Runner) decryptTokens(clients []records.Client) error {
	for i := range clients {
		t, err := r.cfg.TokenKeys.Decrypt(clients[i].ID, clients[i].Token)
		if err != nil {
			return fmt.Errorf("%w: client %s: %w", ErrUsage, clients[i], err)
		}
		clients[i].Token = t
	}
	return nil
}

// TokenCounts are the clients' own tokens by how they are stored.
type TokenCounts struct {
	Encrypted int // under the current key (after EncryptTokens: every one)
	Plain     int // in plain text (none after EncryptTokens)
	Other     int // under METAPIPE_TOKEN_KEY_PREVIOUS or a key not given
}

// EncryptTokens encrypts, in one transaction, every client's own token that is not yet under
// the current key (METAPIPE_TOKEN_KEY): those in plain text, and those under the previous key
// (METAPIPE_TOKEN_KEY_PREVIOUS) during a rotation. Without a current key it changes nothing.
// It returns how many it encrypted and how the tokens are stored now.
func (r *Runner) EncryptTokens(ctx context.Context) (int, TokenCounts, error) {
	var n int
	var counts TokenCounts
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text, name, meta_access_token FROM clients
			WHERE coalesce(meta_access_token, '') <> '' ORDER BY name, id FOR UPDATE`)
		if err != nil {
			return err
		}
		type row struct{ ID, Name, Stored string }
		all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			return err
		}
		n, counts = 0, TokenCounts{}
		for _, c := range all {
			switch {
			case r.cfg.TokenKeys.Current(c.Stored):
				counts.Encrypted++
				continue
			case !r.cfg.TokenKeys.CanEncrypt() && tokencrypt.Encrypted(c.Stored):
				counts.Other++
				continue
			case !r.cfg.TokenKeys.CanEncrypt():
				counts.Plain++
				continue
			}
			tok, err := r.cfg.TokenKeys.Decrypt(c.ID, c.Stored)
			if errors.Is(err, tokencrypt.ErrNoKey) {
				counts.Other++
				continue
			}
			if err != nil {
				return fmt.Errorf("client %s (%s): %w", c.Name, c.ID, err)
			}
			enc, err := r.cfg.TokenKeys.Encrypt(c.ID, tok)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE clients SET meta_access_token = $2 WHERE id = $1`, c.ID, enc); err != nil {
				return err
			}
			n++
			counts.Encrypted++
		}
		return nil
	})
	if err != nil {
		return 0, TokenCounts{}, fmt.Errorf("encrypt tokens: %w", err)
	}
	return n, counts, nil
}
