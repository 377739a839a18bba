// Command metapipe turns Meta ads Insights into weekly per-client summaries in PostgreSQL.
// See the README for the commands, flags and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the ad accounts' time zones, whatever the machine has installed

	"github.com/metapipe/metapipe/pipeline"
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
	err := newApp().RunContext(ctx, os.Args)
	stop()
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, pipeline.ErrInterrupted), errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "metapipe:", err)
		return exitInterrupted
	case errors.Is(err, pipeline.ErrUsage):
		fmt.Fprintln(os.Stderr, "metapipe:", err)
		return exitUsage
	case errors.Is(err, pipeline.ErrCannotStart):
		fmt.Fprintln(os.Stderr, "metapipe:", err)
		return exitCannotStart
	default:
		fmt.Fprintln(os.Stderr, "metapipe:", err)
		return exitSomeFailed
	}
}
