package pipeline

import (
	"context"
	"fmt"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

// The pieces another driver of the stages uses (the service: one job per client; its stages
// are client.go's): reading and planning clients as a run would, and what a client's load
// writes.

// Clients reads every client, active or not; a failure is ErrCannotStart.
func (r *Runner) Clients(ctx context.Context) ([]records.Client, error) { return r.clients(ctx) }

// NamedClients reads the clients that names (names or ids) name, as Clients would give them,
// without reading the others; a failure is ErrCannotStart.
func (r *Runner) NamedClients(ctx context.Context, names []string) ([]records.Client, error) {
	named, err := store.ReadNamedClients(ctx, r.pool, names)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (has `metapipe migrate` run?)", ErrCannotStart, err)
	}
	return named, r.decryptTokens(named)
}

// PlanClients plans the clients as a run with these options would (the ad accounts read, the
// week rules applied, the read of each range chosen for a run of o.FleetSize clients, an as-of
// after today refused with ErrUsage), without a run directory.
func (r *Runner) PlanClients(ctx context.Context, clients []records.Client, o Options) (*Plan, error) {
	return r.plan(ctx, clients, o)
}

// SyncState is the client_sync_state the client's load writes, for the run runID.
func (c ClientPlan) SyncState(runID string) store.SyncState {
	st := store.SyncState{ClientID: c.ID, Platform: "meta", CoveredFrom: c.CoveredFrom.Time(),
		LastAsOf: c.Until.Time(), LastRunID: runID}
	if !c.FinalThrough.IsZero() {
		t := c.FinalThrough.Time()
		st.FinalThrough = &t
	}
	return st
}

// LoadRange is the range the client's load covers completely: a stored week in it that the
// summaries lack lost all its delivery.
func (c ClientPlan) LoadRange() store.ClientRange {
	return store.ClientRange{ClientID: c.ID, From: c.Since.Time(), To: c.Until.Time()}
}
