package load

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/internal/records"
)

// LockScope says what a client's advisory lock guards. Each scope has its own key, so a run
// that holds its clients' run locks on one connection never waits for itself when its load
// takes the load locks on another.
type LockScope string

const (
	// ScopeRun is held with pg_try_advisory_lock for the whole length of a run (or a stage
	// command): a second run on any of its clients stops at once instead of waiting.
	ScopeRun LockScope = "run"
	// ScopeLoad is held with pg_advisory_xact_lock by the load's transaction, in ascending key
	// order: two loads of one client never interleave, whoever started them.
	ScopeLoad LockScope = "client"
)

// LockKey is the PostgreSQL advisory lock key of a client in a scope: FNV-64a of
// "metapipe:<scope>:" and the lowercase client uuid, as a signed 64-bit key. It is the one
// place lock keys are made; every lock metapipe takes on a client uses it.
func LockKey(scope LockScope, clientID string) int64 {
	h := fnv.New64a()
	h.Write([]byte("metapipe:" + string(scope) + ":"))
	h.Write([]byte(strings.ToLower(strings.TrimSpace(clientID))))
	return int64(h.Sum64())
}

const (
	tryLock   = `SELECT pg_try_advisory_lock($1)`
	unlock    = `SELECT pg_advisory_unlock($1)`
	unlockAll = `SELECT pg_advisory_unlock_all()`
)

// ClientLocks are the run locks ([ScopeRun]) of a set of clients, held by one connection of the
// pool until Release.
type ClientLocks struct {
	conn *pgxpool.Conn
}

// LockClients takes the run lock of every client or of none. When another session holds any,
// it releases what it took and returns a [*BusyError] naming the clients held; other errors are
// the database's.
func LockClients(ctx context.Context, pool *pgxpool.Pool, clients []records.Client) (*ClientLocks, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire a connection for the run locks: %w", err)
	}
	sorted := slices.Clone(clients)
	slices.SortFunc(sorted, func(a, b records.Client) int {
		return cmp.Compare(LockKey(ScopeRun, a.ID), LockKey(ScopeRun, b.ID))
	})
	var held []int64
	var busy []string
	for _, c := range sorted {
		k := LockKey(ScopeRun, c.ID)
		var ok bool
		if err := conn.QueryRow(ctx, tryLock, k).Scan(&ok); err != nil {
			conn.Release()
			return nil, fmt.Errorf("run lock of client %s: %w", c.Name, err)
		}
		if ok {
			held = append(held, k)
		} else {
			busy = append(busy, c.Name)
		}
	}
	if len(busy) > 0 {
		for _, k := range held {
			_, _ = conn.Exec(context.WithoutCancel(ctx), unlock, k)
		}
		conn.Release()
		return nil, &BusyError{Clients: busy}
	}
	return &ClientLocks{conn: conn}, nil
}

// Release gives the locks back; a nil *ClientLocks does nothing.
func (l *ClientLocks) Release() {
	if l == nil {
		return
	}
	_, _ = l.conn.Exec(context.Background(), unlockAll)
	l.conn.Release()
}
