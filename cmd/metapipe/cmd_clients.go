package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/internal/tokencrypt"
	"github.com/metapipe/metapipe/pipeline"
)

// The clients without SQL: list, add, set-token, deactivate. Tokens are read from standard
// input only (never a flag: the command line is visible to every user of the machine) and
// stored encrypted (internal/tokencrypt, METAPIPE_TOKEN_KEY).
func newClientsCommand() *cli.Command {
	client := &cli.StringFlag{Name: "client", Required: true, Usage: "the client's `NAME or ID`"}
	tokenStdin := &cli.BoolFlag{Name: "token-stdin", Usage: "read the client's own Meta access token from standard input (stored encrypted: METAPIPE_TOKEN_KEY)"}
	return &cli.Command{Name: "clients", Usage: "list, add, deactivate the clients and set their tokens (stored encrypted with METAPIPE_TOKEN_KEY)",
		Commands: []*cli.Command{
			{Name: "list", Usage: "the clients: name, id, ad account, active, and whose token each uses", Action: runClientsList},
			{Name: "add", Usage: "add a client (refused when another client has the same ad account)", Action: runClientsAdd, Flags: []cli.Flag{
				&cli.StringFlag{Name: "name", Required: true, Usage: "the client's `NAME` (unique)"},
				&cli.StringFlag{Name: "ad-account", Required: true, Usage: "its Meta ad account `ID` (act_123… or the digits)"},
				tokenStdin,
			}},
			{Name: "set-token", Usage: "set a client's own token (from standard input), or --default to use META_ACCESS_TOKEN", Action: runClientsSetToken,
				Flags: []cli.Flag{client, tokenStdin, &cli.BoolFlag{Name: "default", Usage: "remove the client's own token: it uses META_ACCESS_TOKEN"}}},
			{Name: "deactivate", Usage: "stop running a client (its rows stay; a run naming it with --client still runs it)", Action: runClientsDeactivate,
				Flags: []cli.Flag{client}},
		},
		Action: func(context.Context, *cli.Command) error {
			return fmt.Errorf("%w: clients needs a subcommand: list, add, set-token, deactivate (metapipe clients --help)", pipeline.ErrUsage)
		}}
}

// clientsDB opens the database and reads the token keys; the caller closes it.
func clientsDB(ctx context.Context, cmd *cli.Command) (*pgxpool.Pool, tokencrypt.Keys, func(), error) {
	if cmd.Args().Present() {
		return nil, tokencrypt.Keys{}, nil, fmt.Errorf("%w: clients %s takes no arguments, only flags: %q", pipeline.ErrUsage, cmd.Name, cmd.Args().Slice())
	}
	cfg, err := config(cmd)
	if err != nil {
		return nil, tokencrypt.Keys{}, nil, err
	}
	r, err := pipeline.Open(ctx, cfg)
	if err != nil {
		return nil, tokencrypt.Keys{}, nil, err
	}
	return r.Pool(), cfg.TokenKeys, r.Close, nil
}

// clientRow is a client as the clients commands show it.
type clientRow struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	AdAccount string `json:"ad_account_id"`
	Active    bool   `json:"active"`
	// Token is whose token the client runs with: "own, encrypted", "own, plain text" (stored
	// before METAPIPE_TOKEN_KEY: metapipe migrate encrypts it) or "default" (META_ACCESS_TOKEN).
	Token string `json:"token"`
	// SharesAccountWith names the other clients on the same ad account (each would be fetched
	// and counted twice).
	SharesAccountWith []string `json:"shares_account_with,omitempty"`
}

const selectClientRows = `
SELECT id::text, name, coalesce(meta_ad_account_id, ''), active, coalesce(meta_access_token, '')
FROM clients ORDER BY name, id`

func runClientsList(ctx context.Context, cmd *cli.Command) error {
	pool, _, closeDB, err := clientsDB(ctx, cmd)
	if err != nil {
		return err
	}
	defer closeDB()
	rows, err := pool.Query(ctx, selectClientRows)
	if err != nil {
		return fmt.Errorf("%w: read clients: %w", pipeline.ErrCannotStart, err)
	}
	var list []clientRow
	byAccount := map[string][]string{}
	var c clientRow
	var stored string
	if _, err := pgx.ForEachRow(rows, []any{&c.ID, &c.Name, &c.AdAccount, &c.Active, &stored}, func() error {
		switch {
		case stored == "":
			c.Token = "default"
		case tokencrypt.Encrypted(stored):
			c.Token = "own, encrypted"
		default:
			c.Token = "own, plain text"
		}
		list = append(list, c)
		if a := accountDigits(c.AdAccount); a != "" {
			byAccount[a] = append(byAccount[a], c.Name)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("%w: read clients: %w", pipeline.ErrCannotStart, err)
	}
	for i := range list {
		for _, n := range byAccount[accountDigits(list[i].AdAccount)] {
			if n != list[i].Name {
				list[i].SharesAccountWith = append(list[i].SharesAccountWith, n)
			}
		}
	}
	if jsonMode(cmd) {
		event(cmd, "clients", false, "clients", list)
		return nil
	}
	tw := tabwriter.NewWriter(cmd.Root().Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tAD ACCOUNT\tACTIVE\tTOKEN\tNOTE")
	for _, c := range list {
		note := ""
		if len(c.SharesAccountWith) > 0 {
			note = "same ad account as " + strings.Join(c.SharesAccountWith, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", c.Name, c.ID, c.AdAccount, c.Active, c.Token, note)
	}
	return tw.Flush()
}

var adAccountID = regexp.MustCompile(`^(act_)?[0-9]{1,20}$`)

// accountDigits is an ad account id without act_.
func accountDigits(id string) string { return strings.TrimPrefix(strings.TrimSpace(id), "act_") }

// readToken reads a token from standard input: its first line, trimmed; empty is a usage error.
func readToken(cmd *cli.Command) (string, error) {
	b, err := io.ReadAll(io.LimitReader(cmdStdin(cmd), 64<<10))
	if err != nil {
		return "", fmt.Errorf("%w: read the token from standard input: %w", pipeline.ErrUsage, err)
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", fmt.Errorf("%w: --token-stdin: standard input holds no token", pipeline.ErrUsage)
	}
	return tok, nil
}

// cmdStdin is the command's standard input.
func cmdStdin(cmd *cli.Command) io.Reader {
	if r := cmd.Root().Reader; r != nil {
		return r
	}
	return os.Stdin
}

// lockClients serializes the clients commands' checks and writes (two adds of the same ad
// account at once).
const lockClients = `SELECT pg_advisory_xact_lock(7165300412)`

func runClientsAdd(ctx context.Context, cmd *cli.Command) error {
	name, account := strings.TrimSpace(cmd.String("name")), strings.TrimSpace(cmd.String("ad-account"))
	if name == "" {
		return fmt.Errorf("%w: --name is empty", pipeline.ErrUsage)
	}
	if !adAccountID.MatchString(account) {
		return fmt.Errorf("%w: --ad-account %q: want act_ and digits, or the digits", pipeline.ErrUsage, account)
	}
	var token string
	if cmd.Bool("token-stdin") {
		var err error
		if token, err = readToken(cmd); err != nil {
			return err
		}
	}
	pool, keys, closeDB, err := clientsDB(ctx, cmd)
	if err != nil {
		return err
	}
	defer closeDB()
	if token != "" && !keys.CanEncrypt() {
		return fmt.Errorf("%w: %s is not set: client tokens are stored encrypted with it (openssl rand -hex 32)", pipeline.ErrUsage, tokencrypt.EnvKey)
	}
	var id string
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockClients); err != nil {
			return err
		}
		var other string
		switch err := tx.QueryRow(ctx, `SELECT name FROM clients WHERE ltrim(meta_ad_account_id, 'act_') = $1 ORDER BY name LIMIT 1`,
			accountDigits(account)).Scan(&other); {
		case err == nil:
			return fmt.Errorf("%w: ad account act_%s is %s's already: two clients on one ad account would fetch and count it twice",
				pipeline.ErrUsage, accountDigits(account), other)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO clients (name, meta_ad_account_id, active) VALUES ($1, $2, true) RETURNING id::text`,
			name, "act_"+accountDigits(account)).Scan(&id); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == pgerrcode.UniqueViolation {
				return fmt.Errorf("%w: a client is named %q already", pipeline.ErrUsage, name)
			}
			return err
		}
		return setToken(ctx, tx, keys, id, token)
	})
	if err != nil {
		return clientsError("add the client", err)
	}
	if jsonMode(cmd) {
		event(cmd, "client_added", false, "id", id, "name", name, "ad_account_id", "act_"+accountDigits(account), "own_token", token != "")
		return nil
	}
	fmt.Fprintf(cmd.Root().Writer, "client %s added: id %s, ad account act_%s, %s\n", name, id, accountDigits(account), tokenWord(token))
	return nil
}

func tokenWord(token string) string {
	if token == "" {
		return "the default token (META_ACCESS_TOKEN)"
	}
	return "its own token (encrypted)"
}

// setToken stores a client's token encrypted, or NULL for "" (the default token).
func setToken(ctx context.Context, tx pgx.Tx, keys tokencrypt.Keys, id, token string) error {
	var stored *string
	if token != "" {
		enc, err := keys.Encrypt(id, token)
		if err != nil {
			return fmt.Errorf("%w: %w", pipeline.ErrUsage, err)
		}
		stored = &enc
	}
	_, err := tx.Exec(ctx, `UPDATE clients SET meta_access_token = $2 WHERE id = $1`, id, stored)
	return err
}

// clientsError keeps usage errors as they are and makes the others ErrCannotStart.
func clientsError(what string, err error) error {
	if errors.Is(err, pipeline.ErrUsage) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", pipeline.ErrCannotStart, what, err)
}

// findClient is the id and name of the client a name or an id names (ErrUsage otherwise).
func findClient(ctx context.Context, tx pgx.Tx, ref string) (id, name string, err error) {
	err = tx.QueryRow(ctx, `SELECT id::text, name FROM clients WHERE name = $1 OR lower(id::text) = lower($1) ORDER BY name LIMIT 1`, ref).Scan(&id, &name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("%w: --client %q: no client of that name or id (metapipe clients list)", pipeline.ErrUsage, ref)
	}
	return id, name, err
}

func runClientsSetToken(ctx context.Context, cmd *cli.Command) error {
	if cmd.Bool("default") == cmd.Bool("token-stdin") {
		return fmt.Errorf("%w: set-token needs one of --token-stdin (the client's own token) and --default (META_ACCESS_TOKEN)", pipeline.ErrUsage)
	}
	var token string
	if cmd.Bool("token-stdin") {
		var err error
		if token, err = readToken(cmd); err != nil {
			return err
		}
	}
	pool, keys, closeDB, err := clientsDB(ctx, cmd)
	if err != nil {
		return err
	}
	defer closeDB()
	if token != "" && !keys.CanEncrypt() {
		return fmt.Errorf("%w: %s is not set: client tokens are stored encrypted with it (openssl rand -hex 32)", pipeline.ErrUsage, tokencrypt.EnvKey)
	}
	var name string
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var id string
		var err error
		if id, name, err = findClient(ctx, tx, cmd.String("client")); err != nil {
			return err
		}
		return setToken(ctx, tx, keys, id, token)
	})
	if err != nil {
		return clientsError("set the token", err)
	}
	if jsonMode(cmd) {
		event(cmd, "client_token_set", false, "name", name, "own_token", token != "")
		return nil
	}
	fmt.Fprintf(cmd.Root().Writer, "client %s now uses %s\n", name, tokenWord(token))
	return nil
}

func runClientsDeactivate(ctx context.Context, cmd *cli.Command) error {
	pool, _, closeDB, err := clientsDB(ctx, cmd)
	if err != nil {
		return err
	}
	defer closeDB()
	var name string
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var id string
		var err error
		if id, name, err = findClient(ctx, tx, cmd.String("client")); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE clients SET active = false WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return clientsError("deactivate the client", err)
	}
	if jsonMode(cmd) {
		event(cmd, "client_deactivated", false, "name", name)
		return nil
	}
	fmt.Fprintf(cmd.Root().Writer, "client %s deactivated: runs of every active client leave it out\n", name)
	return nil
}
