package load

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
	ids, err := parseClientIDs(clientIDs)
	if err != nil {
		return nil, fmt.Errorf("read sync states: %w", err)
	}
	rows, err := pool.Query(ctx, selectSyncStates, ids)
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

const upsertSyncStates = `
INSERT INTO client_sync_state AS s
    (client_id, platform, covered_from, final_through, last_as_of, last_run_id, updated_at)
SELECT client_id, platform, covered_from, final_through, last_as_of, last_run_id, now()
FROM unnest($1::uuid[], $2::text[], $3::date[], $4::date[], $5::date[], $6::text[])
    AS t(client_id, platform, covered_from, final_through, last_as_of, last_run_id)
ON CONFLICT (client_id, platform) DO UPDATE SET
    covered_from  = EXCLUDED.covered_from,
    final_through = EXCLUDED.final_through,
    last_as_of    = EXCLUDED.last_as_of,
    last_run_id   = EXCLUDED.last_run_id,
    updated_at    = EXCLUDED.updated_at`

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
