package store

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoClients is returned by Load when the request names no client.
var ErrNoClients = errors.New("load: no clients in the request")

// ErrBadRequest is wrapped by errors about the request itself (a malformed client id, a sync
// state for a client that is not loaded, a duplicate sync state).
var ErrBadRequest = errors.New("load: bad request")

// RowError is a summary row that cannot be loaded: it names the client, the week and the
// field. It stops the load before anything is written.
type RowError struct {
	ClientID string
	Week     time.Time // the summary_date, a Monday if the row is right
	Field    string    // the parquet column, e.g. "kpi_days"
	Reason   string
	Err      error // the underlying error, if any
}

func (e *RowError) Error() string {
	msg := fmt.Sprintf("summary row client %s week %s field %s: %s",
		e.ClientID, e.Week.Format(time.DateOnly), e.Field, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *RowError) Unwrap() error { return e.Err }

// DBError is a failure reported by PostgreSQL during a load step, with the server's detail
// (which names the offending key for unique and foreign-key violations) and, when the step
// could tell, the client and week of the row involved.
type DBError struct {
	Step       string // "lock", "read hashes", "copy", "merge", "sync state"
	ClientID   string // "" when unknown
	Week       time.Time
	Constraint string
	Err        error // a *pgconn.PgError or a connection error
}

func (e *DBError) Error() string {
	msg := e.Step
	if e.ClientID != "" {
		msg += " (client " + e.ClientID
		if !e.Week.IsZero() {
			msg += " week " + e.Week.Format(time.DateOnly)
		}
		msg += ")"
	}
	if e.Constraint != "" {
		msg += " constraint " + e.Constraint
	}
	msg += ": " + e.Err.Error()
	var pgErr *pgconn.PgError
	if errors.As(e.Err, &pgErr) && pgErr.Detail != "" {
		msg += " (" + truncate(pgErr.Detail, 300) + ")"
	}
	return msg
}

func (e *DBError) Unwrap() error { return e.Err }

// BusyError says that another run holds some of the clients' run locks; nothing was locked.
type BusyError struct {
	Clients []string  // names of the clients held elsewhere
	Holders []Holding // their holders, in the same order
}

func (e *BusyError) Error() string {
	parts := make([]string, len(e.Clients))
	for i, c := range e.Clients {
		parts[i] = c
		if i < len(e.Holders) {
			parts[i] += " (held by " + e.Holders[i].String() + ")"
		}
	}
	return "another run holds client(s) " + strings.Join(parts, ", ")
}

// errDirectConflict: a COPY straight into campaign_summaries met a key that was not there when
// the stored hashes were read; the load is retried through the staging table.
var errDirectConflict = errors.New("direct copy met an existing row")

// retryable reports whether err is a deadlock or a lock timeout, after which the whole
// transaction is retried.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == pgerrcode.DeadlockDetected || pgErr.Code == pgerrcode.LockNotAvailable
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
