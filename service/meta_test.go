package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/service"
)

// Meta at its worst through the service (issue 17): a deprecated API version fails every
// client's job at once (attempt 1), saying what to change; weeks whose campaign sums disagree
// with the account's totals are loaded but not made final.
func TestServiceMetaAtItsWorst(t *testing.T) {
	ctx := context.Background()
	t.Run("a deprecated API version", func(t *testing.T) {
		e := newEnv(t, graphsim.Config{Accounts: 2, OldestVersion: "v24.0", NewestVersion: "v27.0"})
		cfg := e.config("worker", 2)
		cfg.Pipeline.APIVersion = "v22.0"
		s := start(t, openWith(t, cfg))
		id, err := s.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 6})
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, s, id, time.Minute)
		for _, c := range r.Clients {
			if c.State != "failed" || c.Attempt != 1 || !strings.Contains(c.Error, "META_API_VERSION v22.0") || !strings.Contains(c.Error, "v27.0") {
				t.Errorf("client %+v: want failed on attempt 1, naming META_API_VERSION v22.0 and v27.0", c)
			}
		}
	})
	t.Run("weeks whose sums disagree stay open", func(t *testing.T) {
		e := doneWithFault(t, graphsim.Faults{ShortCampaigns: true})
		final := func(id string) *time.Time {
			var f *time.Time
			if err := e.Pool.QueryRow(ctx, `SELECT final_through FROM client_sync_state WHERE client_id = $1`, id).Scan(&f); err != nil {
				t.Fatal(err)
			}
			return f
		}
		agree, short := final(e.Clients[0]), final(e.Clients[1])
		if agree == nil || short != nil && !short.Before(*agree) {
			t.Errorf("final through %v for the agreeing client, %v for the short one: want the short one held back", agree, short)
		}
	})
	t.Run("weeks whose sums disagree only at first: read again, final", func(t *testing.T) {
		e := doneWithFault(t, graphsim.Faults{ShortCampaignsFirstRead: true})
		e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, 13)
		var agree, short *time.Time
		if err := e.Pool.QueryRow(ctx, `SELECT (SELECT final_through FROM client_sync_state WHERE client_id = $1),
			(SELECT final_through FROM client_sync_state WHERE client_id = $2)`, e.Clients[0], e.Clients[1]).Scan(&agree, &short); err != nil {
			t.Fatal(err)
		}
		if agree == nil || short == nil || !short.Equal(*agree) {
			t.Errorf("final through %v for the client read again, %v for the other: want the same", short, agree)
		}
	})
}

// doneWithFault is a world of two clients, Meta answering the second's ad account with faults,
// after a service run of 13 weeks as of lastSunday that ended done.
func doneWithFault(t *testing.T, faults graphsim.Faults) *env {
	t.Helper()
	e := newEnv(t, graphsim.Config{Accounts: 2})
	e.Sim.SetFaults(e.Sim.Accounts()[1].ID, faults)
	s := start(t, e.open(t, "worker", 2))
	id, err := s.Enqueue(context.Background(), service.RunRequest{AsOf: lastSunday, Weeks: 13})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, s, id, time.Minute); r.State != "done" {
		t.Fatalf("run %+v", r)
	}
	return e
}
