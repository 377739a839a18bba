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
	o := &clientsOptions{}
	client := &cli.StringFlag{Name: "client", Required: true, Usage: "the client's `NAME or ID`", Destination: &o.client}
	tokenStdin := &cli.BoolFlag{Name: "token-stdin", Destination: &o.tokenStdin,
		Usage: "read the client's own Meta access token from standard input (stored encrypted: METAPIPE_TOKEN_KEY)"}
	return &cli.Command{Name: "clients", Usage: "list, add, deactivate the clients and set their tokens (stored encrypted with METAPIPE_TOKEN_KEY)",
		Commands: []*cli.Command{
			{Name: "list", Usage: "the clients: name, id, ad account, active, and whose token each uses", Action: runClientsList},
			{Name: "add", Usage: "add a client (refused when another client has the same ad account)", Action: o.add, Flags: []cli.Flag{
				&cli.StringFlag{Name: "name", Required: true, Usage: "the client's `NAME` (unique)", Destination: &o.name},
				&cli.StringFlag{Name: "ad-account", Required: true, Usage: "its Meta ad account `ID` (act_123… or the digits)", Destination: &o.adAccount},
				tokenStdin,
			}},
			{Name: "set-token", Usage: "set a client's own token (from standard input), or --default to use META_ACCESS_TOKEN", Action: o.setToken,
				Flags: []cli.Flag{client, tokenStdin, &cli.BoolFlag{Name: "default", Destination: &o.useDefault, Usage: "remove the client's own token: it uses META_ACCESS_TOKEN"}}},
			{Name: "deactivate", Usage: "stop running a client (its rows stay; a run naming it with --client still runs it)", Action: o.deactivate,
				Flags: []cli.Flag{client}},
		},
		Action: func(context.Context, *cli.Command) error {
			return fmt.Errorf("%w: clients needs a subcommand: list, add, set-token, deactivate (metapipe clients --help)", pipeline.ErrUsage)
		}}
}

// clientsOptions are the flags of the clients subcommands.
type clientsOptions struct {
	client, name, adAccount string
	tokenStdin, useDefault  bool
}

// clientsRunner opens the database with the token keys; the caller closes it.
func clientsRunner(ctx context.Context, cmd *cli.Command) (*pipeline.Runner, error) {
	if cmd.Args().Present() {
		return nil, fmt.Errorf("%w: clients %s takes no arguments, only flags: %q", pipeline.ErrUsage, cmd.Name, cmd.Args().Slice())
	}
	cfg, err := baseConfig(cmd)
	r, _, err := openRunner(ctx, cfg, err)
	return r, err
}

// change reads --token-stdin's token (when withToken), opens the database, does the change
// and says what was done: the one path of add, set-token and deactivate.
func (o *clientsOptions) change(ctx context.Context, cmd *cli.Command, withToken bool, name, done string,
	do func(*pipeline.Runner, string) (pipeline.ClientInfo, error)) error {
	token := ""
	if withToken && o.tokenStdin {
		t, err := readToken(cmd)
		if err != nil {
			return err
		}
		token = t
	}
	r, err := clientsRunner(ctx, cmd)
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := do(r, token)
	if err != nil {
		return err
	}
	return printClient(cmd, name, done, c)
}

func (o *clientsOptions) add(ctx context.Context, cmd *cli.Command) error {
	return o.change(ctx, cmd, true, "client_added", "added", func(r *pipeline.Runner, token string) (pipeline.ClientInfo, error) {
		return r.AddClient(ctx, o.name, o.adAccount, token)
	})
}

func (o *clientsOptions) setToken(ctx context.Context, cmd *cli.Command) error {
	if o.useDefault == o.tokenStdin {
		return fmt.Errorf("%w: set-token needs one of --token-stdin (the client's own token) and --default (META_ACCESS_TOKEN)", pipeline.ErrUsage)
	}
	return o.change(ctx, cmd, true, "client_token_set", "token set", func(r *pipeline.Runner, token string) (pipeline.ClientInfo, error) {
		return r.SetClientToken(ctx, o.client, token)
	})
}

func (o *clientsOptions) deactivate(ctx context.Context, cmd *cli.Command) error {
	return o.change(ctx, cmd, false, "client_deactivated", "deactivated (runs of every active client leave it out)",
		func(r *pipeline.Runner, _ string) (pipeline.ClientInfo, error) {
			return r.DeactivateClient(ctx, o.client)
		})
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

// printClient says what was done to c: one JSON event, or a line.
func printClient(cmd *cli.Command, name, done string, c pipeline.ClientInfo) error {
	if jsonMode(cmd) {
		event(cmd, name, false, "client", c)
		return nil
	}
	fmt.Fprintf(cmd.Root().Writer, "client %s %s: id %s, ad account %s, active %v, token %s\n", c.Name, done, c.ID, c.AdAccount, c.Active, c.Token)
	return nil
}
