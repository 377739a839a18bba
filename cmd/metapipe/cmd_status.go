package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// exitNotFinished is status --exit-code's code for a run not over yet (pending or running):
// EX_TEMPFAIL, "try again later", of sysexits.h.
const exitNotFinished = 75

// errNotFinished is a run that status --exit-code finds not over yet.
var errNotFinished = errors.New("not finished")

// statusOptions are metapipe status's flags.
type statusOptions struct {
	run            string
	json, exitCode bool
}

func newStatusCommand() *cli.Command {
	return command("status", "print a run's ledger (default the newest run: the one worked last)", func(o *statusOptions) []cli.Flag {
		return []cli.Flag{flagRun(false, &o.run), flagJSON(&o.json),
			&cli.BoolFlag{Name: "exit-code", Destination: &o.exitCode, Usage: "exit as the run ended: 0 done, 1 partial or failed, 130 interrupted, 75 not finished yet"}}
	}, runStatus)
}

func runStatus(_ context.Context, cmd *cli.Command, o *statusOptions) error {
	dir := records.RunDir(o.run)
	which := "the run given (--run)"
	if dir == "" {
		dir = pipeline.NewestRun(globals.stageDir)
		if dir == "" {
			return fmt.Errorf("%w: no run directory in %s", pipeline.ErrUsage, globals.stageDir)
		}
		which = "the newest run in " + globals.stageDir + " (the one worked last; --run DIR for another)"
	}
	l, err := pipeline.ReadLedger(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrUsage, err)
	}
	finished := l.Status != pipeline.StatusRunning && l.Status != pipeline.StatusPending
	switch {
	case jsonMode(cmd):
		event(cmd, "status", false, "dir", string(dir), "which", which, "finished", finished, "ledger", l)
	case o.json:
		if err := writeJSON(cmd.Root().Writer, l); err != nil {
			return err
		}
	default:
		w := cmd.Root().Writer
		if finished {
			fmt.Fprintf(w, "%s: finished %s, last worked %s\n", which, l.Status, l.Updated.Format("2006-01-02T15:04:05Z07:00"))
		} else {
			fmt.Fprintf(w, "%s: not finished (%s), last worked %s\n", which, l.Status, l.Updated.Format("2006-01-02T15:04:05Z07:00"))
		}
		printLedger(w, dir, l)
	}
	if !o.exitCode {
		return nil
	}
	return statusExit(l)
}

// statusExit is the error whose exit code follows the run's state, for status --exit-code;
// main has printed the ledger already, so the message is short.
func statusExit(l *pipeline.Ledger) error {
	switch l.Status {
	case pipeline.StatusDone:
		return nil
	case pipeline.StatusInterrupted:
		return fmt.Errorf("run %s: %w", l.RunID, pipeline.ErrInterrupted)
	case pipeline.StatusPartial, pipeline.StatusFailed:
		return fmt.Errorf("run %s is %s: %w", l.RunID, l.Status, pipeline.ErrSomeFailed)
	}
	return fmt.Errorf("run %s is %s: %w", l.RunID, l.Status, errNotFinished)
}
