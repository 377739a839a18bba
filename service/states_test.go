package service

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/store"
)

// TestClientStatesMatchCheck: the CHECK constraint of service_run_clients.state, as the
// migrations leave it, allows exactly the states of clientStates, and the column's default
// is StateQueued. A state added on one side only fails here.
func TestClientStatesMatchCheck(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	if err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var checks []string
	rows, err := pool.Query(ctx, `
SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
WHERE k.conrelid = 'service_run_clients'::regclass AND k.contype = 'c' AND a.attname = 'state'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			t.Fatal(err)
		}
		checks = append(checks, def)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(checks) != 1 {
		t.Fatalf("CHECK constraints on service_run_clients.state: %q, want one", checks)
	}
	var inCheck []string
	for _, m := range regexp.MustCompile(`'([^']*)'::text`).FindAllStringSubmatch(checks[0], -1) {
		inCheck = append(inCheck, m[1])
	}
	var inGo []string
	for _, s := range ClientStates() {
		inGo = append(inGo, string(s))
	}
	slices.Sort(inCheck)
	slices.Sort(inGo)
	if !slices.Equal(inCheck, inGo) {
		t.Errorf("the CHECK constraint allows %q (%s); clientStates holds %q", inCheck, checks[0], inGo)
	}
	var def string
	if err := pool.QueryRow(ctx, `SELECT column_default FROM information_schema.columns
WHERE table_name = 'service_run_clients' AND column_name = 'state'`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if want := "'" + string(StateQueued) + "'::text"; def != want {
		t.Errorf("service_run_clients.state defaults to %s, want %s", def, want)
	}
}

// TestOverStates: the states over are those a client leaves only by a retry from River's UI.
func TestOverStates(t *testing.T) {
	if want := []string{"done", "failed", "interrupted"}; !slices.Equal(overStates, want) {
		t.Errorf("overStates = %q, want %q", overStates, want)
	}
	for _, s := range []ClientState{StateQueued, StatePlanning, StateExtracting, StateWaiting, StateLoading, "unknown"} {
		if s.Over() {
			t.Errorf("%s is over", s)
		}
	}
}

// TestRunStateOf derives a run's state from its clients' as the runs' pages, the metrics and
// the run_finished event show it.
func TestRunStateOf(t *testing.T) {
	for _, c := range []struct {
		clients map[ClientState]int
		want    RunState
	}{
		{map[ClientState]int{}, RunQueued},
		{map[ClientState]int{StateQueued: 3}, RunQueued},
		{map[ClientState]int{StateQueued: 2, StateDone: 1}, RunRunning},
		{map[ClientState]int{StateWaiting: 1}, RunRunning},
		{map[ClientState]int{StateDone: 2, StateLoading: 1}, RunRunning},
		{map[ClientState]int{StateDone: 3}, RunDone},
		{map[ClientState]int{StateDone: 2, StateFailed: 1}, RunPartial},
		{map[ClientState]int{StateFailed: 3}, RunFailed},
		{map[ClientState]int{StateDone: 2, StateInterrupted: 1}, RunInterrupted},
		{map[ClientState]int{StateFailed: 1, StateInterrupted: 1}, RunInterrupted},
	} {
		got := runStateOf(c.clients)
		if got != c.want {
			t.Errorf("runStateOf(%v) = %s, want %s", c.clients, got, c.want)
		}
		if got.Over() != (c.want != RunQueued && c.want != RunRunning) {
			t.Errorf("%s.Over() = %v", got, got.Over())
		}
	}
}
