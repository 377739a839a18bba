// Command metapipe turns Meta ads Insights into weekly per-client summaries in PostgreSQL.
// See the README for the commands, flags and exit codes.
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the ad accounts' time zones, whatever the machine has installed

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// Exit codes (docs/DESIGN.md, "Exit codes"; the README lists them too).
const (
	exitOK          = 0
	exitSomeFailed  = 1
	exitUsage       = 2
	exitCannotStart = 3
	exitInterrupted = 130 // 128 + SIGINT, as shells report a command stopped by Ctrl-C
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app := newApp()
	err := app.Run(ctx, os.Args)
	stop()
	code := exitCode(err)
	reportError(app, os.Stderr, err, code)
	os.Exit(code)
}

// exitCode maps the error a command returned to the process's exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errNotFinished):
		return exitNotFinished
	case errors.Is(err, pipeline.ErrInterrupted), errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, pipeline.ErrUsage), errors.As(err, new(*service.ConfigError)):
		return exitUsage
	case errors.Is(err, pipeline.ErrCannotStart), errors.As(err, new(*service.StartError)):
		return exitCannotStart
	default:
		return exitSomeFailed
	}
}
