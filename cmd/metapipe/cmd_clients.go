package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

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

// clientsRunner opens the database with the token keys; the caller closes it.
func clientsRunner(ctx context.Context, cmd *cli.Command) (*pipeline.Runner, error) {
	if cmd.Args().Present() {
		return nil, fmt.Errorf("%w: clients %s takes no arguments, only flags: %q", pipeline.ErrUsage, cmd.Name, cmd.Args().Slice())
	}
	cfg, err := config(cmd)
	if err != nil {
		return nil, err
	}
	return pipeline.Open(ctx, cfg)
}

func runClientsList(ctx context.Context, cmd *cli.Command) error {
	r, err := clientsRunner(ctx, cmd)
	if err != nil {
		return err
	}
	defer r.Close()
	list, err := r.ListClients(ctx)
	if err != nil {
		return err
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

// readToken reads a token from standard input: its first line, trimmed; empty is a usage error.
func readToken(cmd *cli.Command) (string, error) {
	in := cmd.Root().Reader
	if in == nil {
		in = os.Stdin
	}
	b, err := io.ReadAll(io.LimitReader(in, 64<<10))
	if err != nil {
		return "", fmt.Errorf("%w: read the token from standard input: %w", pipeline.ErrUsage, err)
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", fmt.Errorf("%w: --token-stdin: standard input holds no token", pipeline.ErrUsage)
	}
	return tok, nil
}

// tokenOf is --token-stdin's token, or "" without the flag.
func tokenOf(cmd *cli.Command) (string, error) {
	if !cmd.Bool("token-stdin") {
		return "", nil
	}
	return readToken(cmd)
}

func runClientsAdd(ctx context.Context, cmd *cli.Command) error {
	token, err := tokenOf(cmd)
	if err != nil {
		return err
	}
	r, err := clientsRunner(ctx, cmd)
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := r.AddClient(ctx, cmd.String("name"), cmd.String("ad-account"), token)
	if err != nil {
		return err
	}
	return printClient(cmd, "client_added", "added", c)
}

func runClientsSetToken(ctx context.Context, cmd *cli.Command) error {
	if cmd.Bool("default") == cmd.Bool("token-stdin") {
		return fmt.Errorf("%w: set-token needs one of --token-stdin (the client's own token) and --default (META_ACCESS_TOKEN)", pipeline.ErrUsage)
	}
	token, err := tokenOf(cmd)
	if err != nil {
		return err
	}
	r, err := clientsRunner(ctx, cmd)
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := r.SetClientToken(ctx, cmd.String("client"), token)
	if err != nil {
		return err
	}
	return printClient(cmd, "client_token_set", "token set", c)
}

func runClientsDeactivate(ctx context.Context, cmd *cli.Command) error {
	r, err := clientsRunner(ctx, cmd)
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := r.DeactivateClient(ctx, cmd.String("client"))
	if err != nil {
		return err
	}
	return printClient(cmd, "client_deactivated", "deactivated (runs of every active client leave it out)", c)
}

// printClient says what was done to c: one JSON event, or a line.
func printClient(cmd *cli.Command, name, done string, c pipeline.ClientInfo) error {
	if jsonMode(cmd) {
		event(cmd, name, false, "client", c)
		return nil
	}
	fmt.Fprintf(cmd.Root().Writer, "client %s %s: id %s, ad account %s, active %v, token %s\n", c.Name, done, c.ID, c.AdAccount, c.Active, c.Token)
	return nil
}
