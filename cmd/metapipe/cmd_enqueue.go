package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// enqueueOptions are metapipe enqueue's flags: the planning ones but the lookback and the
// shard (a service run has the default lookback and every client), and --wait.
type enqueueOptions struct {
	plan planOptions
	wait bool
}

func newEnqueueCommand() *cli.Command {
	return command("enqueue", "queue a run for the service's workers and print its id (--wait: follow it, exit like run)", func(e *enqueueOptions) []cli.Flag {
		return append(e.plan.flags("lookback", "shard"),
			&cli.BoolFlag{Name: "wait", Destination: &e.wait, Usage: "follow the run to its end and exit like run: 0 done, 1 partial or failed, 130 interrupted"})
	}, runEnqueue)
}

func runEnqueue(ctx context.Context, cmd *cli.Command, e *enqueueOptions) error {
	o, err := e.plan.options()
	if err != nil {
		return err
	}
	var so serviceOptions // no flags: the defaults of a process that works no job
	svc, _, err := so.open(ctx, cmd, 0)
	if err != nil {
		return err
	}
	defer svc.Close()
	id, err := svc.Enqueue(ctx, service.RunRequest{Clients: o.Clients, AsOf: o.AsOf, Weeks: o.Weeks, Full: o.Full, Source: "enqueue"})
	var fe *service.FieldError
	var ce *service.ConflictError
	switch {
	case errors.As(err, &fe):
		return fmt.Errorf("%w: --%s: %s", pipeline.ErrUsage, flagOf(fe.Field), fe.Reason)
	case errors.As(err, &ce):
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, ce)
	case err != nil:
		return err
	}
	if jsonMode(cmd) {
		event(cmd, "run_queued", false, "run_id", id)
	} else {
		fmt.Fprintln(cmd.Root().Writer, id)
	}
	if !e.wait {
		return nil
	}
	var unreachable time.Time // since when the database has not answered; zero while it does
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: stopped following run %s (it goes on: metapipe serve shows it): %w", pipeline.ErrInterrupted, id, ctx.Err())
		case <-time.After(time.Second):
		}
		run, err := svc.Run(ctx, id)
		if err != nil && ctx.Err() == nil {
			// The run goes on without us: a database that restarts or fails over is waited
			// for (waitOutage), not taken for the run's failure.
			if unreachable.IsZero() {
				unreachable = time.Now()
			}
			if time.Since(unreachable) < waitOutage {
				logger(cmd).Warn("reading the run failed; trying again", "run", id, "err", err)
				continue
			}
			return fmt.Errorf("%w: following run %s (it goes on): the database did not answer for %s: %w",
				pipeline.ErrCannotStart, id, waitOutage, err)
		}
		if err != nil {
			continue // ctx is done: the select above says so
		}
		unreachable = time.Time{}
		if run.FinishedAt == nil {
			continue
		}
		var runErr error
		switch run.State {
		case service.RunDone:
		case service.RunInterrupted:
			runErr = fmt.Errorf("%w: run %s", pipeline.ErrInterrupted, id)
		default:
			var failed []string
			for _, c := range run.Clients {
				if c.State == service.StateFailed {
					failed = append(failed, c.Name)
				}
			}
			runErr = fmt.Errorf("%w: run %s is %s: %s", pipeline.ErrSomeFailed, id, run.State, strings.Join(failed, ", "))
		}
		return finishWaited(cmd, run, runErr)
	}
}

// waitOutage is how long enqueue --wait keeps trying while the database does not answer
// before it gives up with exit 3 (the run itself goes on).
const waitOutage = 2 * time.Minute

// flagOf is the command-line flag of an API field.
func flagOf(field string) string {
	switch field {
	case "as_of":
		return "as-of"
	case "clients":
		return "client"
	}
	return field
}
