package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/pipeline"
)

// newApp builds the command line: the global flags, then one command per file (cmd_*.go).
// The global flags are persistent (urfave/cli v3): accepted before or after the command, and
// listed by every command's --help under GLOBAL OPTIONS.
func newApp() *cli.Command {
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version, the commit and the Go version", HideDefault: true, Local: true}
	cli.VersionPrinter = func(cmd *cli.Command) { fmt.Fprintln(cmd.Root().Writer, "metapipe "+cmd.Root().Version) }
	app := &cli.Command{
		Name:    "metapipe",
		Usage:   "weekly Meta ads summaries per client, from Insights (report runs, or synchronous reads for short ranges) into PostgreSQL",
		Version: versionString(),
		Description: "Environment: DATABASE_URL, META_ACCESS_TOKEN (default token), META_APP_SECRET (adds appsecret_proof),\n" +
			"META_GRAPH_URL (default " + extract.DefaultGraphURL + "), META_API_VERSION (default " + extract.DefaultAPIVersion + "),\n" +
			"METAPIPE_STAGE_DIR (default of --stage-dir), METAPIPE_API_TOKEN (serve: the API's bearer token),\n" +
			"METAPIPE_WEBHOOK_URL, METAPIPE_SLACK_WEBHOOK_URL, METAPIPE_WEBHOOK_SECRET, METAPIPE_NOTIFY_FAILURES,\n" +
			"METAPIPE_NOTIFY_THROTTLE (notifications: README, \"Notifications\"), METAPIPE_TOKEN_KEY and\n" +
			"METAPIPE_TOKEN_KEY_PREVIOUS (the clients' encrypted tokens: README, \"Clients and their tokens\").\n" +
			"Global options go before or after the command. Exit codes: 0 every client done, 1 some client failed\n" +
			"(the others are loaded), 2 usage or configuration error, 3 could not start (database or Graph API\n" +
			"unreachable, another run holds a client), 130 interrupted (SIGINT/SIGTERM; the next run resumes it).",
		Flags: globalFlags(),
		Commands: []*cli.Command{
			newMigrateCommand(), newPlanCommand(), newRunCommand(),
			newStageCommand(pipeline.StageExtract), newStageCommand(pipeline.StageTransform), newStageCommand(pipeline.StageLoad),
			newStatusCommand(), newResetStateCommand(), newWorkerCommand(), newServeCommand(), newEnqueueCommand(),
			newSimCommand(), newDemoCommand(), newNotifyCommand(), newClientsCommand(),
		},
		// Reached only without a command, or with one that does not exist.
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Present() {
				return fmt.Errorf("%w: unknown command %q; the commands are %s (metapipe --help)",
					pipeline.ErrUsage, cmd.Args().First(), strings.Join(commandNames(cmd), ", "))
			}
			return cli.ShowRootCommandHelp(cmd)
		},
	}
	// A bad flag or flag value is a usage error (exit 2) everywhere, reported once by main.
	onUsage := func(_ context.Context, _ *cli.Command, err error, _ bool) error {
		return fmt.Errorf("%w: %w", pipeline.ErrUsage, err)
	}
	app.OnUsageError = onUsage
	for _, c := range app.Commands {
		c.OnUsageError = onUsage
		c.Action = noArgs(c.Action)
		for _, sub := range c.Commands { // clients, notify
			sub.OnUsageError = onUsage
		}
	}
	return app
}

// noArgs refuses words after a command that takes none (`metapipe run stage/x` for
// `--run stage/x`): a usage error, rather than a run that ignores them.
func noArgs(action cli.ActionFunc) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		if cmd.Args().Present() {
			return fmt.Errorf("%w: %s takes no arguments, only flags: %q (metapipe %s --help)", pipeline.ErrUsage, cmd.Name, cmd.Args().Slice(), cmd.Name)
		}
		return action(ctx, cmd)
	}
}

// commandNames lists the visible commands, in the order of the help.
func commandNames(cmd *cli.Command) []string {
	var names []string
	for _, c := range cmd.VisibleCommands() {
		names = append(names, c.Name)
	}
	return names
}
