package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

// Reset is what ResetState did to one client.
type Reset struct {
	Client        records.Client
	From          *time.Time       // the Monday the weeks are non-final from; nil: every week
	Before, After *store.SyncState // nil when there is none
	RowsReset     int64            // stored rows that forgot their as-of date
}

// ResetState makes the named clients' weeks non-final on purpose (metapipe reset-state), from
// the week of from on, or every week when from is zero: the next run refetches them and replaces
// the stored rows whatever its as-of date. It holds the clients' run locks (another run holding
// one is ErrCannotStart) and changes each client in one transaction. An unknown client is
// ErrUsage.
func (r *Runner) ResetState(ctx context.Context, names []string, from time.Time) ([]Reset, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: reset-state needs --client", ErrUsage)
	}
	all, err := r.clients(ctx)
	if err != nil {
		return nil, err
	}
	clients, err := SelectClients(all, names, Shard{})
	if err != nil {
		return nil, err
	}
	ctx, release, err := r.lock(ctx, clients) // ctx ends if the run's locks are lost
	if err != nil {
		return nil, err
	}
	defer release()
	var fromMonday *time.Time
	if !from.IsZero() {
		m := Monday(from)
		fromMonday = &m
	}
	var out []Reset
	for _, c := range clients {
		before, after, n, err := store.ResetSyncState(ctx, r.pool, c.ID, fromMonday)
		if err != nil {
			return out, fmt.Errorf("%w: %w", ErrCannotStart, err)
		}
		out = append(out, Reset{Client: c, From: fromMonday, Before: before, After: after, RowsReset: n})
		r.log.Info("sync state reset", "client", c.Name, "from", from.Format(time.DateOnly), "rows", n)
	}
	return out, nil
}
