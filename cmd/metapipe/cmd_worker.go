package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/service"
)

func newWorkerCommand() *cli.Command {
	return command("worker", "work the service's River jobs until SIGTERM (any number of workers, on any number of machines)", (*serviceOptions).flags, runWorker)
}

func runWorker(ctx context.Context, cmd *cli.Command, o *serviceOptions) error {
	metrics, err := listenMetrics(o.metricsAddr)
	if err != nil {
		return err
	}
	defer metrics.close()
	svc, cfg, err := o.open(ctx, cmd, o.concurrency)
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
