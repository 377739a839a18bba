package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/pipeline"
)

// newApp builds the command line: global flags, then one command per file (cmd_*.go).
func newApp() *cli.App {
	app := &cli.App{
		Name:  "metapipe",
		Usage: "weekly Meta ads summaries per client, from async Insights report runs into PostgreSQL",
		Description: "Environment: DATABASE_URL, META_ACCESS_TOKEN (default token), META_APP_SECRET (adds appsecret_proof),\n" +
			"META_GRAPH_URL (default " + extract.DefaultGraphURL + "), META_API_VERSION (default " + extract.DefaultAPIVersion + ").\n" +
			"Exit codes: 0 every client done, 1 some client failed (the others are loaded), 2 usage or configuration error,\n" +
			"3 could not start (database unreachable, another run holds a client).",
		Flags:           []cli.Flag{flagDatabaseURL, flagStageDir, flagLogFormat, flagVerbose},
		HideHelpCommand: true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w: %w", pipeline.ErrUsage, err)
		},
		Before: func(c *cli.Context) error {
			if f := c.String("log-format"); f != "text" && f != "json" {
				return fmt.Errorf("%w: --log-format must be text or json", pipeline.ErrUsage)
			}
			return nil
		},
		Commands: []*cli.Command{
			newMigrateCommand(), newPlanCommand(), newRunCommand(),
			newStageCommand(pipeline.StageExtract), newStageCommand(pipeline.StageTransform), newStageCommand(pipeline.StageLoad),
			newStatusCommand(), newResetStateCommand(), newSimCommand(), newDemoCommand(),
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError // a bad flag is a usage error (exit 2) everywhere
	}
	return app
}
