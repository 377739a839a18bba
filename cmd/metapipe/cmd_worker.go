package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// serviceFlags are the flags of a process that works jobs (worker, serve --worker).
func serviceFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "id", Usage: "this worker's River client id, what river_job.attempted_by shows (default host name and process id)"},
		&cli.IntFlag{Name: "concurrency", Value: 4, Validator: between(1, maxConcurrency), Usage: "jobs (clients) worked at once"},
		&cli.DurationFlag{Name: "rescue-after", Value: 5 * time.Minute, Validator: between(10*time.Second, 24*time.Hour),
			Usage: "how long a job of a dead worker waits before another worker takes it; longer than a client's attempt (its result pages read, transformed and loaded)"},
		&cli.StringFlag{Name: "schedule", Usage: "a cron spec (\"15 6 * * *\", \"CRON_TZ=Europe/Warsaw 15 6 * * *\"): the workers queue the daily run of every active client themselves, once a day"},
		&cli.DurationFlag{Name: "inline-wait", Value: 5 * time.Second, Validator: between(100*time.Millisecond, time.Minute),
			Usage: "the longest a job waits for Meta (a poll, a throttle) before it snoozes and frees the worker"},
		&cli.IntFlag{Name: "max-attempts", Value: 6, Validator: between(1, service.MaxAttemptsCeiling),
			Usage: "attempts of a failing client, in every job this process works whoever queued it (serve, enqueue, the schedule); snoozes do not count"},
		metricsAddrFlag(),
	}, pacingFlags()...)
}

// pacingFlags are the extract flags a worker takes besides its own --concurrency.
func pacingFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range extractFlags() {
		if f.Names()[0] != "concurrency" {
			out = append(out, f)
		}
	}
	return out
}

func newWorkerCommand() *cli.Command {
	return &cli.Command{Name: "worker", Usage: "work the service's River jobs until SIGTERM (any number of workers, on any number of machines)",
		Flags: serviceFlags(), Action: runWorker}
}

// serviceConfig reads a service process's flags. concurrency 0 makes a process that works no
// job.
func serviceConfig(cmd *cli.Command, concurrency int) (service.Config, error) {
	pc, err := config(cmd)
	if err != nil {
		return service.Config{}, err
	}
	pc.Concurrency, pc.Reporter, pc.Logger = pipeline.ConcurrencyAuto, nil, logger(cmd)
	notify, err := notifyConfig()
	if err != nil {
		return service.Config{}, err
	}
	return service.Config{Notify: notify, Pipeline: pc, ID: cmd.String("id"), Concurrency: concurrency, RescueAfter: cmd.Duration("rescue-after"),
		Schedule: cmd.String("schedule"), InlineWait: cmd.Duration("inline-wait"), MaxAttempts: cmd.Int("max-attempts"),
		Logger: pc.Logger}, nil
}

// openService opens the service of a process's flags (serviceConfig); the caller closes it.
func openService(ctx context.Context, cmd *cli.Command, concurrency int) (*service.Service, service.Config, error) {
	cfg, err := serviceConfig(cmd, concurrency)
	if err != nil {
		return nil, cfg, err
	}
	svc, err := service.Open(ctx, cfg)
	return svc, cfg, err
}

func runWorker(ctx context.Context, cmd *cli.Command) error {
	metrics, err := listenMetrics(cmd)
	if err != nil {
		return err
	}
	defer metrics.close()
	svc, cfg, err := openService(ctx, cmd, cmd.Int("concurrency"))
	if err != nil {
		return err
	}
	defer svc.Close()
	metrics.serve(cmd, svc)
	if err := svc.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done() // SIGINT or SIGTERM
	return stopWorker(svc, cfg.Logger.Info)
}

// stopWorker hands the running jobs back to the queue at once and waits for them at most 20 s:
// a graceful stop is exit 0.
func stopWorker(svc *service.Service, info func(string, ...any)) error {
	info("stopping: running jobs go back to the queue")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := svc.Stop(sctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}
