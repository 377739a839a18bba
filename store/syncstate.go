package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SyncState is a row of client_sync_state: what successful runs have covered for a client.
// Dates are UTC midnights.
type SyncState struct {
	ClientID     string
	Platform     string     // "meta" when empty in a Request
	CoveredFrom  time.Time  // first Monday a successful run covered
	FinalThrough *time.Time // last final Sunday; nil when no week is final yet
	LastAsOf     time.Time
	LastRunID    string
}

const selectSyncStates = `
SELECT client_id::text, platform, covered_from, final_through, last_as_of, last_run_id
FROM client_sync_state
WHERE client_id = ANY ($1::uuid[]) AND platform = 'meta'`

// ReadSyncStates returns the 'meta' sync state of the given clients, keyed by client id
// (lowercase uuid text). A client never covered has no entry.
func ReadSyncStates(ctx context.Context, pool *pgxpool.Pool, clientIDs []string) (map[string]SyncState, error) {
	return readSyncStates(ctx, pool, clientIDs)
}

// querier is a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func readSyncStates(ctx context.Context, q querier, clientIDs []string) (map[string]SyncState, error) {
	ids, err := parseClientIDs(clientIDs)
	if err != nil {
		return nil, fmt.Errorf("read sync states: %w", err)
	}
	rows, err := q.Query(ctx, selectSyncStates, ids)
	if err != nil {
		return nil, fmt.Errorf("read sync states: %w", err)
	}
	out := make(map[string]SyncState, len(clientIDs))
	var s SyncState
	var final pgtype.Date
	_, err = pgx.ForEachRow(rows, []any{&s.ClientID, &s.Platform, &s.CoveredFrom, &final, &s.LastAsOf, &s.LastRunID}, func() error {
		st := s
		st.FinalThrough = nil
		if final.Valid {
			t := final.Time
			st.FinalThrough = &t
		}
		out[st.ClientID] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read sync states: %w", err)
	}
	return out, nil
}

// upsertSyncStates writes sync states that only move forward: covered_from back to the
// earliest Monday covered, final_through and last_as_of forward to the latest (GREATEST and
// LEAST ignore NULL); last_run_id names the run that set last_as_of.
const upsertSyncStates = syncStatesInsert + `
ON CONFLICT (client_id, platform) DO UPDATE SET
    covered_from  = LEAST(s.covered_from, EXCLUDED.covered_from),
    final_through = GREATEST(s.final_through, EXCLUDED.final_through),
    last_as_of    = GREATEST(s.last_as_of, EXCLUDED.last_as_of),
    last_run_id   = CASE WHEN EXCLUDED.last_as_of >= s.last_as_of THEN EXCLUDED.last_run_id ELSE s.last_run_id END,
    updated_at    = EXCLUDED.updated_at`

const syncStatesInsert = `
INSERT INTO client_sync_state AS s
    (client_id, platform, covered_from, final_through, last_as_of, last_run_id, updated_at)
SELECT client_id, platform, covered_from, final_through, last_as_of, last_run_id, now()
FROM unnest($1::uuid[], $2::text[], $3::date[], $4::date[], $5::date[], $6::text[])
    AS t(client_id, platform, covered_from, final_through, last_as_of, last_run_id)`

// replaceSyncStates is the upsert of --full, which recomputes final_through and last_as_of
// from what it fetched (so a bad final_through, in the future, comes back), but only when the
// run is not backdated: a run as of an earlier date than the stored last_as_of (an old Airflow
// {{ ds }} with --full) keeps the rows built from the later date, so the state that describes
// them stays too. A stored last_as_of after tomorrow (UTC) is impossible (no as-of after today
// is taken) and is replaced. covered_from only moves back, as in upsertSyncStates: the rows a
// narrow --full did not fetch are still in the table.
const replaceSyncStates = syncStatesInsert + `
ON CONFLICT (client_id, platform) DO UPDATE SET
    covered_from  = LEAST(s.covered_from, EXCLUDED.covered_from),
    final_through = CASE WHEN ` + notBackdated + ` THEN EXCLUDED.final_through ELSE s.final_through END,
    last_as_of    = CASE WHEN ` + notBackdated + ` THEN EXCLUDED.last_as_of ELSE s.last_as_of END,
    last_run_id   = CASE WHEN ` + notBackdated + ` THEN EXCLUDED.last_run_id ELSE s.last_run_id END,
    updated_at    = EXCLUDED.updated_at`

// notBackdated is true when the incoming state is as of the stored last_as_of or later, or the
// stored one is impossible.
const notBackdated = `(EXCLUDED.last_as_of >= s.last_as_of OR s.last_as_of > CURRENT_DATE + 1)`

// syncArgs turns sync states into the arrays of upsertSyncStates.
func syncArgs(states []SyncState) []any {
	n := len(states)
	ids := make([]pgtype.UUID, n)
	platforms := make([]string, n)
	from := make([]pgtype.Date, n)
	final := make([]pgtype.Date, n)
	asOf := make([]pgtype.Date, n)
	runs := make([]string, n)
	for i, s := range states {
		ids[i], _ = parseUUID(s.ClientID)
		platforms[i] = s.Platform
		from[i] = pgtype.Date{Time: s.CoveredFrom, Valid: true}
		if s.FinalThrough != nil {
			final[i] = pgtype.Date{Time: *s.FinalThrough, Valid: true}
		}
		asOf[i] = pgtype.Date{Time: s.LastAsOf, Valid: true}
		runs[i] = s.LastRunID
	}
	return []any{ids, platforms, from, final, asOf, runs}
}

func parseClientIDs(clientIDs []string) ([]pgtype.UUID, error) {
	ids := make([]pgtype.UUID, len(clientIDs))
	for i, s := range clientIDs {
		u, err := parseUUID(s)
		if err != nil {
			return nil, fmt.Errorf("%w: client id %q: %w", ErrBadRequest, s, err)
		}
		ids[i] = u
	}
	return ids, nil
}

const (
	deleteSyncState = `DELETE FROM client_sync_state WHERE client_id = $1 AND platform = 'meta'`
	// unfinalFrom moves final_through back to the Sunday before $2 (a Monday), or to NULL when
	// that Sunday is before covered_from.
	unfinalFrom = `
UPDATE client_sync_state SET
    final_through = CASE WHEN $2::date - 1 < covered_from THEN NULL ELSE $2::date - 1 END,
    updated_at = now()
WHERE client_id = $1 AND platform = 'meta' AND final_through >= $2::date`
	// forgetAsOf lets any run replace the client's rows from $2 on, whatever its as-of date.
	forgetAsOf = `
UPDATE campaign_summaries SET as_of = NULL
WHERE client_id = $1 AND summary_type = 'weekly' AND platform = 'meta' AND summary_date >= $2::date
  AND as_of IS NOT NULL`
)

// ResetSyncState makes a client's weeks non-final on purpose, in one transaction under the
// client's load lock. With from nil the client's sync state is deleted: the next run backfills
// the whole horizon. With a Monday from, final_through moves back to the Sunday before it (or to
// NULL when that is before covered_from): the next run refetches from that week. Either way the
// stored rows from that week on forget their as-of date, so the next run replaces them whatever
// its own. It returns the state before and after (nil when there is none) and how many rows
// forgot their as-of date.
func ResetSyncState(ctx context.Context, pool *pgxpool.Pool, clientID string, from *time.Time) (before, after *SyncState, rows int64, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockClients, []int64{LockKey(ScopeLoad, clientID)}); err != nil {
			return fmt.Errorf("lock client %s: %w", clientID, err)
		}
		states, err := readSyncStates(ctx, tx, []string{clientID})
		if err != nil {
			return err
		}
		if s, ok := states[clientID]; ok {
			before = &s
		}
		first := time.Time{} // every row
		if from == nil {
			_, err = tx.Exec(ctx, deleteSyncState, clientID)
		} else {
			first = *from
			_, err = tx.Exec(ctx, unfinalFrom, clientID, *from)
		}
		if err != nil {
			return fmt.Errorf("reset sync state of client %s: %w", clientID, err)
		}
		ct, err := tx.Exec(ctx, forgetAsOf, clientID, first)
		if err != nil {
			return fmt.Errorf("reset as_of of client %s: %w", clientID, err)
		}
		rows = ct.RowsAffected()
		if states, err = readSyncStates(ctx, tx, []string{clientID}); err != nil {
			return err
		}
		if s, ok := states[clientID]; ok {
			after = &s
		}
		return nil
	})
	return before, after, rows, err
}
