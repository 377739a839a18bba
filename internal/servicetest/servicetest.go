// Package servicetest holds what the service's and the API's end-to-end tests share on top of
// e2etest: a world whose database also has River's tables, and the configuration of a test
// service process against the simulator (quick polls, retries and throttling). It imports
// service, so tests inside package service cannot use it; service_test, api_test can.
package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// RiverSchema is River's own tables, as `metapipe migrate` makes them (service.MigrateRiver).
func RiverSchema(ctx context.Context, w *e2etest.World) error {
	_, err := service.MigrateRiver(ctx, w.Pool, nil)
	return err
}

// New is an e2etest world of a service test: seed 5, report runs that finish in 600 ms,
// the database layer's schema and River's; opts (e2etest.Sim, e2etest.Wrap, …) say what
// differs.
func New(t testing.TB, opts ...e2etest.Option) *e2etest.World {
	t.Helper()
	return e2etest.New(t, append([]e2etest.Option{
		e2etest.SimDefaults(graphsim.Config{Seed: 5, JobDuration: 600 * time.Millisecond}),
		e2etest.Migrate(e2etest.Schema, RiverSchema),
	}, opts...)...)
}

// Config is the configuration of a service process id on w working concurrency jobs at once
// (0: one that queues and reads runs but works no job): report runs unless a test says
// otherwise, polls of 150-400 ms, retries from 5 ms, the throttle's cooldown 50 ms; a job
// rescued after 20 s, waited for inline 100 ms, tried 3 times.
func Config(w *e2etest.World, id string, concurrency int) service.Config {
	return service.Config{
		Pipeline: pipeline.Config{DatabaseURL: w.DBURL, GraphURL: w.URL, Token: extract.NewToken(graphsim.DemoToken), StageDir: w.Stage,
			Sync:     extract.SyncConfig{Weeks: extract.SyncNever},
			Poll:     extract.PollConfig{First: 150 * time.Millisecond, Max: 400 * time.Millisecond},
			Retry:    extract.RetryConfig{Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond},
			Throttle: extract.ThrottleConfig{Cooldown: 50 * time.Millisecond, RegainUnit: 20 * time.Millisecond}},
		ID: id, Concurrency: concurrency, RescueAfter: 20 * time.Second, InlineWait: 100 * time.Millisecond, MaxAttempts: 3,
	}
}
