package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/service"
)

// A run keeps the lookback it was queued with (service_runs.lookback): the worker plans the
// client with it, not with the default of the binary that works the job. Here the stored
// lookback is 7 days, so the run's sync state is final through the Sunday two weeks before
// the as-of Sunday (pipeline.DefaultLookback, 28 days, would make it five weeks before).
func TestWorkerPlansWithTheRunsLookback(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	ctx := context.Background()
	queue := e.open(t, "queue", 0)
	id, err := queue.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 8, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE service_runs SET lookback = 7 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	w := start(t, e.open(t, "worker", 1))
	if r := waitRun(t, w, id, 2*time.Minute); r.State != "done" {
		t.Fatalf("run: %+v", r)
	}
	var final time.Time
	if err := e.pool.QueryRow(ctx, `SELECT final_through FROM client_sync_state`).Scan(&final); err != nil {
		t.Fatal(err)
	}
	if want := lastSunday.AddDate(0, 0, -14); !final.Equal(want) {
		t.Errorf("final through %s, want %s (as of %s, lookback 7 days)", final.Format(time.DateOnly), want.Format(time.DateOnly), lastSunday.Format(time.DateOnly))
	}
}
