package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/internal/records"
)

// LockScope says what a client's advisory lock guards.
type LockScope string

const (
	// ScopeLoad is held with pg_advisory_xact_lock by the load's transaction, in ascending key
	// order: two loads of one client never interleave, whoever started them. A lock of a
	// transaction holds through any pooler (the transaction keeps its server connection).
	ScopeLoad LockScope = "client"
)

// LockKey is the PostgreSQL advisory lock key of a client in a scope: FNV-64a of
// "metapipe:<scope>:" and the lowercase client uuid, as a signed 64-bit key. It is the one
// place advisory lock keys are made.
func LockKey(scope LockScope, clientID string) int64 {
	h := fnv.New64a()
	h.Write([]byte("metapipe:" + string(scope) + ":"))
	h.Write([]byte(strings.ToLower(strings.TrimSpace(clientID))))
	return int64(h.Sum64())
}

// runLockName is a client's run lock in metapipe_locks.
func runLockName(clientID string) string {
	return "run:" + strings.ToLower(strings.TrimSpace(clientID))
}

// ClientLocks are the run locks of a set of clients: lease rows of metapipe_locks, renewed
// while the run or the job lasts, released by Release, and freed by themselves within the
// lease's TTL of a holder that died (SIGKILL, a lost machine). Unlike a session advisory lock
// they hold through a pooler in transaction mode and leave nothing on a pooled connection.
type ClientLocks struct {
	*Leases
}

// LockClients takes the run lock of every client or of none, at once (it never waits for
// another holder). When another run or job holds any, it returns a [*BusyError] naming the
// clients and their holders; a database that was not migrated is [ErrMissingLocksTable];
// other errors are the database's.
func LockClients(ctx context.Context, pool *pgxpool.Pool, clients []records.Client, lease Lease) (*ClientLocks, error) {
	names := make([]string, len(clients))
	byName := make(map[string]string, len(clients))
	for i, c := range clients {
		names[i] = runLockName(c.ID)
		byName[names[i]] = c.Name
	}
	ls, held, err := takeLocks(ctx, pool, names, lease)
	if err != nil {
		return nil, fmt.Errorf("run locks: %w", err)
	}
	if ls == nil {
		be := &BusyError{}
		for _, h := range held {
			be.Clients = append(be.Clients, byName[h.Name])
			be.Holders = append(be.Holders, h)
		}
		return nil, be
	}
	return &ClientLocks{ls}, nil
}

// Release gives the locks back; a nil *ClientLocks does nothing.
func (l *ClientLocks) Release() {
	if l == nil {
		return
	}
	l.Leases.Release()
}
