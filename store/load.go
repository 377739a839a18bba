package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/metapipe/metapipe/internal/backoff"
	"github.com/metapipe/metapipe/internal/records"
)

// Request is one load.
type Request struct {
	// SummariesPath is transform/summaries.parquet.
	SummariesPath string
	// ClientIDs are the clients loaded: their rows in the file are merged (rows of other
	// clients are ignored) and their advisory locks are taken.
	ClientIDs []string
	// Sync is upserted into client_sync_state in the same transaction; each entry's client
	// must be in ClientIDs. Values are stored as given.
	Sync []SyncState
	// DataSource is stored in campaign_summaries.data_source of the rows written; "" is NULL.
	DataSource string
	// LockTimeout bounds every lock wait (SET LOCAL lock_timeout); defaults to DefaultLockTimeout (30 s).
	LockTimeout time.Duration
	// StatementTimeout is the load transaction's own statement_timeout and
	// idle_in_transaction_session_timeout (SET LOCAL; 0 means 10 min), whatever the role's: a
	// managed role's 5 s would cancel the COPY of a thousand clients' weeks. It ends with the
	// transaction; no other statement of metapipe needs more than a few seconds.
	StatementTimeout time.Duration
	// Ranges say which dates the file covers completely for a client, To being the as-of date
	// of its figures: a stored row of that client in that range whose week is not in the file,
	// and whose figures are not as of a later date, is deleted (the week lost all its
	// delivery). Each entry's client must be in ClientIDs; without an entry nothing is deleted.
	Ranges []ClientRange
	// RecomputeSync (metapipe run --full) stores final_through and last_as_of as given when Sync
	// is as of the stored last_as_of or later, which repairs a bad final_through; a backdated
	// --full leaves them. Otherwise final_through and last_as_of only move forward. covered_from
	// only moves back, either way.
	RecomputeSync bool
	// Replace is an explicit re-fetch (the user's word, POST /v1/clients/{id}/refetch): the
	// file's rows replace the stored ones even when those are as of a later date (Kept counts
	// none), and a stored week of Ranges missing from the file is deleted whatever its as-of.
	Replace bool

	afterRow     func(copied int64) // test hook: called after each row handed to COPY
	forceStaging bool               // set after a direct COPY met a row it did not expect
}

// ClientRange is an inclusive range of summary dates of one client.
type ClientRange struct {
	ClientID string
	From, To time.Time
}

// Result counts what a load did. Counts are of the successful attempt.
type Result struct {
	Inserted   int64 // new rows
	Updated    int64 // stored rows whose content hash differed
	Unchanged  int64 // rows of the file whose content hash equals the stored one: not copied
	Confirmed  int64 // unchanged rows found again as of a later date: only their as_of moved
	Kept       int64 // rows of the file older (by as-of) than the stored ones: the stored stay
	Copied     int64 // rows sent to the staging table (Inserted + Updated under the lock)
	Duplicates int64 // later occurrences of a key already seen in the file: dropped
	Deleted    int64 // stored rows within Ranges whose week is no longer in the file (as of a later date)

	ReadDuration  time.Duration // decoding Parquet (part of CopyDuration)
	CopyDuration  time.Duration // streaming the file through COPY, reads included
	MergeDuration time.Duration // the merge, the sync-state upsert and the commit
	Attempts      int           // 1 unless a deadlock or a lock timeout forced a retry
}

// DefaultLockTimeout is Request.LockTimeout's default: the longest a load waits for a lock.
const DefaultLockTimeout = 30 * time.Second

const (
	defaultStatementTimeout = 10 * time.Minute
	stagingTable            = "metapipe_staging"
)

// setupSettings sets the lock timeout, the transaction's statement and idle timeouts and, when
// the server was built with lz4, the TOAST compression of the staging table (it must precede
// CREATE TEMP TABLE).
const setupSettings = `
SELECT set_config('lock_timeout', $1, true),
       set_config('statement_timeout', $2, true),
       set_config('idle_in_transaction_session_timeout', $2, true),
       (SELECT set_config('default_toast_compression', 'lz4', true)
        FROM pg_settings
        WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))`

// lockClients takes the clients' advisory locks in the order of the array (ascending).
const lockClients = `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`

const selectStoredHashes = `
SELECT client_id, (summary_date - date '1970-01-01')::int, coalesce(content_hash, ''),
       coalesce((as_of - date '1970-01-01')::int, -2147483648)
FROM campaign_summaries
WHERE client_id = ANY ($1::uuid[]) AND summary_type = 'weekly' AND platform = 'meta'`

var (
	createStaging = `CREATE TEMP TABLE ` + stagingTable + ` ON COMMIT DROP AS SELECT ` +
		strings.Join(stagingColumns, ", ") + ` FROM campaign_summaries WITH NO DATA`
	mergeSummaries = buildMerge()
)

func buildMerge() string {
	var set strings.Builder
	for _, c := range stagingColumns {
		if c == "client_id" || c == "summary_date" {
			continue
		}
		fmt.Fprintf(&set, "    %s = EXCLUDED.%s,\n", c, c)
	}
	cols := strings.Join(stagingColumns, ", ")
	return `
WITH merged AS (
  INSERT INTO campaign_summaries AS cs (` + cols + `, summary_type, platform, data_source, last_updated)
  SELECT ` + cols + `, 'weekly', 'meta', $1::text, now()
  FROM ` + stagingTable + `
  ON CONFLICT (client_id, summary_type, summary_date, platform) DO UPDATE SET
` + set.String() + `    data_source = EXCLUDED.data_source,
    last_updated = EXCLUDED.last_updated
  WHERE cs.content_hash IS DISTINCT FROM EXCLUDED.content_hash
    AND ($2::boolean OR cs.as_of IS NULL OR cs.as_of <= EXCLUDED.as_of)
  RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged`
}

// Load merges the summaries of req.ClientIDs from req.SummariesPath into campaign_summaries
// and upserts req.Sync, all in one transaction (see the package documentation). Duplicate
// keys in the file keep their first occurrence. A deadlock or a lock timeout retries the
// whole transaction up to 4 times with backoff; any other error rolls back and is returned,
// naming the client and week where it can (*RowError, *DBError).
func Load(ctx context.Context, pool *pgxpool.Pool, req Request) (Result, error) {
	clients, err := loadedClients(req)
	if err != nil {
		return Result{}, err
	}
	req = withDefaults(req)
	var res Result
	attempts := 0
	err = backoff.Do(ctx, retryPolicy, func(ctx context.Context) error {
		for {
			attempts++
			r, err := loadOnce(ctx, pool, req, clients)
			switch {
			case err == nil:
				res = r
				return nil
			case errors.Is(err, errDirectConflict) && !req.forceStaging:
				// A row appeared that the read of stored hashes did not show (a writer without
				// the advisory lock): load again at once, the safe way, through the staging
				// table and the merge.
				req.forceStaging = true
				continue
			case retryable(err) && ctx.Err() == nil:
				return backoff.Retryable(err)
			default:
				return err
			}
		}
	})
	res.Attempts = attempts
	switch {
	case err == nil:
		return res, nil
	case retryable(err):
		return Result{}, fmt.Errorf("load: %d attempts: %w", attempts, err)
	default:
		return Result{}, fmt.Errorf("load: %w", err)
	}
}

// retryPolicy spaces the retries of a transaction that met a deadlock or a lock timeout:
// 100 ms doubling up to 2 s, ±50 %, four attempts in all.
var retryPolicy = backoff.Policy{Base: 100 * time.Millisecond, Cap: 2 * time.Second, JitterPercent: 50, MaxAttempts: 4}

// withDefaults fills the lock timeout and the sync states' platform.
func withDefaults(req Request) Request {
	if req.StatementTimeout <= 0 {
		req.StatementTimeout = defaultStatementTimeout
	}
	if req.LockTimeout <= 0 {
		req.LockTimeout = DefaultLockTimeout
	}
	req.Sync = slices.Clone(req.Sync)
	for i := range req.Sync {
		if req.Sync[i].Platform == "" {
			req.Sync[i].Platform = "meta"
		}
	}
	return req
}

// loadedClients validates the request and returns its clients by uuid.
func loadedClients(req Request) (map[[16]byte]string, error) {
	if len(req.ClientIDs) == 0 {
		return nil, ErrNoClients
	}
	clients := make(map[[16]byte]string, len(req.ClientIDs))
	for _, id := range req.ClientIDs {
		u, err := parseUUID(id)
		if err != nil {
			return nil, fmt.Errorf("%w: client id %q: %w", ErrBadRequest, id, err)
		}
		clients[u.Bytes] = uuidText(u.Bytes)
	}
	type syncKey struct {
		client   [16]byte
		platform string
	}
	seen := make(map[syncKey]bool, len(req.Sync))
	for _, s := range req.Sync {
		u, err := parseUUID(s.ClientID)
		if err != nil {
			return nil, fmt.Errorf("%w: sync state client id %q: %w", ErrBadRequest, s.ClientID, err)
		}
		if _, ok := clients[u.Bytes]; !ok {
			return nil, fmt.Errorf("%w: sync state for client %s, which is not loaded", ErrBadRequest, s.ClientID)
		}
		k := syncKey{u.Bytes, s.Platform}
		if seen[k] {
			return nil, fmt.Errorf("%w: two sync states for client %s", ErrBadRequest, s.ClientID)
		}
		seen[k] = true
	}
	for _, r := range req.Ranges {
		u, err := parseUUID(r.ClientID)
		if err != nil {
			return nil, fmt.Errorf("%w: range client id %q: %w", ErrBadRequest, r.ClientID, err)
		}
		if _, ok := clients[u.Bytes]; !ok {
			return nil, fmt.Errorf("%w: range for client %s, which is not loaded", ErrBadRequest, r.ClientID)
		}
	}
	return clients, nil
}

func loadOnce(ctx context.Context, pool *pgxpool.Pool, req Request, clients map[[16]byte]string) (res Result, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		res, err = loadTx(ctx, tx, req, clients)
		return err
	})
	return res, err
}

// LoadTx is Load within the caller's transaction, which commits or rolls back the load with
// whatever else the caller does in it (the service completes its job in the same transaction).
// It makes one attempt: a deadlock or a lock timeout is returned for the caller to retry with
// a new transaction, and a first load goes through the staging table like any other (a direct
// COPY that met an existing row would abort the caller's transaction). On error the caller
// must roll back.
func LoadTx(ctx context.Context, tx pgx.Tx, req Request) (Result, error) {
	clients, err := loadedClients(req)
	if err != nil {
		return Result{}, err
	}
	req = withDefaults(req)
	req.forceStaging = true
	res, err := loadTx(ctx, tx, req, clients)
	res.Attempts = 1
	if err != nil {
		return Result{}, fmt.Errorf("load: %w", err)
	}
	return res, nil
}

// loadTx is one attempt of a load in tx: the clients' advisory locks and stored rows, the COPY
// of the changed rows, then the merge, the as-of confirmations, the deletions and the sync
// state in one batch.
func loadTx(ctx context.Context, tx pgx.Tx, req Request, clients map[[16]byte]string) (res Result, err error) {
	file, err := openSummaries(req.SummariesPath)
	if err != nil {
		return res, fmt.Errorf("open summaries: %w", err)
	}
	defer file.Close()

	ids, keys := lockArgs(clients)
	stored, now, err := setup(ctx, tx, req.LockTimeout, req.StatementTimeout, keys, ids)
	if err != nil {
		return res, err
	}
	var dataSource *string
	if req.DataSource != "" {
		dataSource = &req.DataSource
	}
	// No stored row for these clients (a first load): every row is new, and under the
	// advisory locks nobody else inserts them, so they are copied straight into the table,
	// skipping the staging table and the merge: half the writing.
	direct := len(stored) == 0 && !req.forceStaging
	src, err := copySummaries(ctx, tx, req, file, clients, stored, direct, dataSource, now, &res)
	if err != nil {
		return res, err
	}
	mergeStart := time.Now()
	err = mergeTx(ctx, tx, req, src, stored, direct, dataSource, &res)
	res.MergeDuration = time.Since(mergeStart)
	return res, err
}

// lockArgs gives the clients' ids and their load lock keys, ascending and without repeats.
func lockArgs(clients map[[16]byte]string) ([]pgtype.UUID, []int64) {
	ids := make([]pgtype.UUID, 0, len(clients))
	keys := make([]int64, 0, len(clients))
	for b, text := range clients {
		ids = append(ids, pgtype.UUID{Bytes: b, Valid: true})
		keys = append(keys, LockKey(ScopeLoad, text))
	}
	slices.Sort(keys)
	return ids, slices.Compact(keys)
}

// copySummaries streams the rows that changed into the staging table (into campaign_summaries
// when direct), filling res's read and copy figures.
func copySummaries(ctx context.Context, tx pgx.Tx, req Request, file *summaryFile, clients map[[16]byte]string,
	stored map[rowKey]storedRow, direct bool, dataSource *string, now time.Time, res *Result) (*summarySource, error) {
	copyStart := time.Now()
	src := newSummarySource(ctx, file, clients, stored)
	src.afterRow, src.replace = req.afterRow, req.Replace
	if direct {
		src.direct(dataSource, now)
	}
	var err error
	if src.prime() {
		if direct {
			_, err = tx.CopyFrom(ctx, pgx.Identifier{"campaign_summaries"}, directColumns, src)
		} else {
			_, err = tx.CopyFrom(ctx, pgx.Identifier{stagingTable}, stagingColumns, src)
		}
	}
	if srcErr := src.Err(); srcErr != nil {
		err = srcErr // the reason the COPY was aborted, rather than the server's echo of it
	}
	res.ReadDuration = src.readTime
	res.CopyDuration = time.Since(copyStart)
	res.Unchanged, res.Kept, res.Duplicates, res.Copied = src.unchanged, src.kept, src.duplicates, int64(len(src.sent))
	if err != nil {
		var pgErr *pgconn.PgError
		if direct && errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
			return nil, fmt.Errorf("%w: %w", errDirectConflict, err)
		}
		return nil, copyError(err, src.sent, clients)
	}
	return src, nil
}

// mergeTx sends, in one batch, the merge of the staging table (unless direct), the as-of
// confirmations of unchanged rows, the deletion of weeks gone from the ranges and the sync
// state, filling res's row counts.
func mergeTx(ctx context.Context, tx pgx.Tx, req Request, src *summarySource, stored map[rowKey]storedRow,
	direct bool, dataSource *string, res *Result) error {
	batch := &pgx.Batch{}
	if direct {
		res.Inserted = res.Copied
	} else if res.Copied > 0 {
		batch.Queue(mergeSummaries, dataSource, req.Replace).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&res.Inserted, &res.Updated); err != nil {
				return mergeError(err)
			}
			return nil
		})
	}
	if len(src.confirm) > 0 {
		ids, days, asOf := confirmArgs(src.confirm)
		batch.Queue(confirmAsOf, ids, days, asOf).Exec(func(ct pgconn.CommandTag) error {
			res.Confirmed = ct.RowsAffected()
			return nil
		})
	}
	if gone := goneKeys(stored, src.seen, req.Ranges, req.Replace); len(gone.ids) > 0 {
		batch.Queue(deleteGone, gone.ids, gone.days).Exec(func(ct pgconn.CommandTag) error {
			res.Deleted = ct.RowsAffected()
			return nil
		})
	}
	if len(req.Sync) > 0 {
		upsert := upsertSyncStates
		if req.RecomputeSync {
			upsert = replaceSyncStates
		}
		batch.Queue(upsert, syncArgs(req.Sync)...).Exec(func(ct pgconn.CommandTag) error { return nil })
	}
	if batch.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		var dbErr *DBError
		if !errors.As(err, &dbErr) {
			err = &DBError{Step: "sync state", Constraint: constraintOf(err), Err: err}
		}
		return err
	}
	return nil
}

const deleteGone = `
DELETE FROM campaign_summaries cs
USING unnest($1::uuid[], $2::date[]) AS g(client_id, summary_date)
WHERE cs.client_id = g.client_id AND cs.summary_date = g.summary_date
  AND cs.summary_type = 'weekly' AND cs.platform = 'meta'`

type keyArrays struct {
	ids  []pgtype.UUID
	days []pgtype.Date
}

// confirmAsOf moves the as_of of unchanged rows forward, and only forward.
const confirmAsOf = `
UPDATE campaign_summaries cs SET as_of = c.as_of
FROM unnest($1::uuid[], $2::date[], $3::date[]) AS c(client_id, summary_date, as_of)
WHERE cs.client_id = c.client_id AND cs.summary_date = c.summary_date
  AND cs.summary_type = 'weekly' AND cs.platform = 'meta'
  AND (cs.as_of IS NULL OR cs.as_of < c.as_of)`

func confirmArgs(cs []confirmed) ([]pgtype.UUID, []pgtype.Date, []pgtype.Date) {
	ids := make([]pgtype.UUID, len(cs))
	days := make([]pgtype.Date, len(cs))
	asOf := make([]pgtype.Date, len(cs))
	for i, c := range cs {
		ids[i] = pgtype.UUID{Bytes: c.key.client, Valid: true}
		days[i] = pgtype.Date{Time: records.DayTime(c.key.day), Valid: true}
		asOf[i] = pgtype.Date{Time: records.DayTime(c.asOf), Valid: true}
	}
	return ids, days, asOf
}

// goneKeys are the stored rows within the ranges whose key is not in the file and whose
// figures are not as of a later date than the range's end (the run's as-of): the run saw
// those weeks lose all delivery.
func goneKeys(stored map[rowKey]storedRow, seen map[rowKey]struct{}, ranges []ClientRange, replace bool) keyArrays {
	var out keyArrays
	if len(ranges) == 0 {
		return out
	}
	byClient := make(map[[16]byte][]ClientRange, len(ranges))
	for _, r := range ranges {
		if u, err := parseUUID(r.ClientID); err == nil {
			byClient[u.Bytes] = append(byClient[u.Bytes], r)
		}
	}
	for key, st := range stored {
		if _, ok := seen[key]; ok {
			continue
		}
		week := records.DayTime(key.day)
		for _, r := range byClient[key.client] {
			if !week.Before(r.From) && !week.After(r.To) && (replace || st.asOf <= records.DayNumber(r.To)) {
				out.ids = append(out.ids, pgtype.UUID{Bytes: key.client, Valid: true})
				out.days = append(out.days, pgtype.Date{Time: week, Valid: true})
				break
			}
		}
	}
	return out
}

// setup runs, in one round trip: the settings, the advisory locks, the staging table, the
// read of the stored hashes and the transaction's now() (last_updated of the rows written).
func setup(ctx context.Context, tx pgx.Tx, lockTimeout, statementTimeout time.Duration, keys []int64, ids []pgtype.UUID) (map[rowKey]storedRow, time.Time, error) {
	stored := make(map[rowKey]storedRow)
	var now time.Time
	batch := &pgx.Batch{}
	batch.Queue(`SELECT now()`).QueryRow(func(row pgx.Row) error { return row.Scan(&now) })
	batch.Queue(setupSettings, strconv.FormatInt(lockTimeout.Milliseconds(), 10)+"ms",
		strconv.FormatInt(statementTimeout.Milliseconds(), 10)+"ms").Exec(func(pgconn.CommandTag) error { return nil })
	batch.Queue(lockClients, keys).Exec(func(pgconn.CommandTag) error { return nil })
	batch.Queue(createStaging).Exec(func(pgconn.CommandTag) error { return nil })
	batch.Queue(selectStoredHashes, ids).Query(func(rows pgx.Rows) error {
		var id pgtype.UUID
		var day, asOf int32
		var hash string
		_, err := pgx.ForEachRow(rows, []any{&id, &day, &hash, &asOf}, func() error {
			stored[rowKey{client: id.Bytes, day: day}] = storedRow{hash: hash, asOf: asOf}
			return nil
		})
		return err
	})
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, now, &DBError{Step: "lock and read hashes", Err: err}
	}
	return stored, now, nil
}

// copyWhere finds the line number in a COPY error context ("COPY t, line 12, column x: …").
var copyWhere = regexp.MustCompile(`COPY \S+, line (\d+)`)

// copyError names the row a COPY error is about, when the server says which line.
func copyError(err error, sent []rowKey, clients map[[16]byte]string) error {
	var rowErr *RowError
	if errors.As(err, &rowErr) {
		return err
	}
	e := &DBError{Step: "copy", Constraint: constraintOf(err), Err: err}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if m := copyWhere.FindStringSubmatch(pgErr.Where); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(sent) {
				e.ClientID = clients[sent[n-1].client]
				e.Week = records.DayTime(sent[n-1].day)
			}
		}
	}
	return e
}

var (
	detailUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	detailDate = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`)
)

// mergeError names the client and week of a constraint violation when the server's detail
// shows them ("Failing row contains (id, client_id, summary_type, summary_date, …)" or
// "Key (client_id)=(…) is not present in table "clients"").
func mergeError(err error) error {
	e := &DBError{Step: "merge", Constraint: constraintOf(err), Err: err}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		e.ClientID = detailUUID.FindString(pgErr.Detail)
		if d := detailDate.FindString(pgErr.Detail); d != "" {
			e.Week, _ = time.Parse(time.DateOnly, d)
		}
	}
	return e
}

func constraintOf(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}
