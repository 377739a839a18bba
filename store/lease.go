package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultLeaseTTL is how long a lock (a lease row of metapipe_locks) outlives a holder that
// stopped renewing it: killed with SIGKILL, its machine lost, its database connection gone. A
// live holder renews it every third of that.
const DefaultLeaseTTL = 30 * time.Second

// Lease says who takes a lock and for how long.
type Lease struct {
	// Holder is who holds it, as whoever finds it held is told ("metapipe run, host h pid 7").
	// "" is DefaultHolder("metapipe").
	Holder string
	// TTL is how long the lock outlives a holder that stopped renewing it (DefaultLeaseTTL
	// when 0; at least 2 s).
	TTL    time.Duration
	Logger *slog.Logger // renewals that fail; nil: discard
}

// DefaultHolder is what a process of this machine is called in metapipe_locks: what, the host
// name and the process id.
func DefaultHolder(what string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, host %s pid %d", what, host, os.Getpid())
}

func (l Lease) withDefaults() Lease {
	if l.Holder == "" {
		l.Holder = DefaultHolder("metapipe")
	}
	if l.TTL == 0 {
		l.TTL = DefaultLeaseTTL
	}
	l.TTL = max(l.TTL, 2*time.Second)
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	return l
}

// locksTable holds the locks as lease rows, one per name ("run:<client uuid>", "migrate"): the
// holder, its random token, since when and until when, and the holder's process (the pid in the
// pid namespace instance, see thisInstance). A row whose expires_at has passed is free; so is
// one whose process is gone from this very machine and pid namespace. Migrate creates it first
// of all (a migration needs it for its own lock) by the statement of migration 8, which records
// it in the schema's version: the statement is written once, in migrations/00008_locks.sql.
var locksTable = upSection("00008_locks.sql")

// upSection is what stands between "-- +goose Up" and "-- +goose Down" in the embedded
// migration file: for a migration of one statement, that statement. A file missing or without
// both markers panics when the package is initialised: every test that migrates catches it.
func upSection(file string) string {
	b, err := migrationFiles.ReadFile("migrations/" + file)
	if err != nil {
		panic(err)
	}
	_, after, ok := strings.Cut(string(b), "-- +goose Up\n")
	up, _, ok2 := strings.Cut(after, "-- +goose Down")
	if !ok || !ok2 {
		panic("store: migrations/" + file + ": no -- +goose Up and Down sections")
	}
	return up
}

const (
	// takeLeases takes every free name of $1 (sorted, so two takers never deadlock) and returns
	// those taken; a name held by a live lease is left.
	takeLeases = `
INSERT INTO metapipe_locks AS l (name, holder, token, acquired_at, expires_at, instance, pid)
SELECT n, $2::text, $3::text, now(), now() + $4::bigint * interval '1 millisecond', $5::text, $6::integer FROM unnest($1::text[]) AS n
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, token = EXCLUDED.token,
    acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at, instance = EXCLUDED.instance, pid = EXCLUDED.pid
WHERE l.expires_at < now() OR l.token = EXCLUDED.token
RETURNING name`
	heldLeases = `
SELECT name, holder, acquired_at, expires_at, token, instance, pid FROM metapipe_locks
WHERE name = ANY ($1::text[]) AND token <> $2::text AND expires_at >= now() ORDER BY name`
	renewLeases   = `UPDATE metapipe_locks SET expires_at = now() + $2::bigint * interval '1 millisecond' WHERE token = $1::text`
	releaseLeases = `DELETE FROM metapipe_locks WHERE token = $1::text`
	// freeDead frees a lock whose holder's process is gone (name, its token).
	freeDead = `DELETE FROM metapipe_locks WHERE name = $1::text AND token = $2::text`
)

// thisInstance names this machine's boot and this process's pid namespace (Linux: the boot id
// and the namespace's inode); "" elsewhere. Two processes of one instance see each other's
// pids, so one may tell that the other is gone (kill -9, a crash) and free its locks at once
// instead of waiting for their lease to expire.
var thisInstance = func() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + " " + ns
}()

// gone reports whether the holder of h was a process of this instance that no longer runs.
func gone(h Holding) bool {
	if thisInstance == "" || h.instance != thisInstance || h.pid <= 0 || h.pid == os.Getpid() {
		return false
	}
	if errors.Is(syscall.Kill(h.pid, 0), syscall.ESRCH) {
		return true
	}
	// A zombie (killed, not yet reaped by its parent) holds nothing either.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", h.pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z'
	}
	return false
}

// Holding is a lock someone holds.
type Holding struct {
	Name   string
	Holder string
	Since  time.Time
	Until  time.Time // when it frees itself unless renewed

	token    string
	instance string
	pid      int
}

func (h Holding) String() string {
	return fmt.Sprintf("%s since %s, lease until %s", h.Holder, h.Since.UTC().Format(time.TimeOnly), h.Until.UTC().Format(time.TimeOnly))
}

// Leases are locks held by this process until Release, renewed in the background. Lost is
// closed when they could not be renewed before they expired, or were taken by another holder.
type Leases struct {
	pool  *pgxpool.Pool
	token string
	lease Lease
	n     int64
	lost  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// ErrMissingLocksTable is returned when metapipe_locks does not exist: metapipe migrate has
// not run with this version.
var ErrMissingLocksTable = errors.New("no metapipe_locks table (run metapipe migrate)")

// takeLocks takes every name or none; when some are held by others it returns them (and no
// *Leases).
func takeLocks(ctx context.Context, pool *pgxpool.Pool, names []string, l Lease) (*Leases, []Holding, error) {
	ls, held, err := tryLocks(ctx, pool, names, l)
	if err != nil || ls != nil {
		return ls, held, err
	}
	// Holders of this machine whose process is gone (SIGKILL, a crash) hold nothing: free
	// their locks and try again, once.
	freed := false
	for _, h := range held {
		if gone(h) {
			if _, err := pool.Exec(ctx, freeDead, h.Name, h.token); err != nil {
				return nil, nil, err
			}
			l.withDefaults().Logger.Info("freed the lock of a process of this machine that is gone", "lock", h.Name, "holder", h.Holder)
			freed = true
		}
	}
	if !freed {
		return nil, held, nil
	}
	return tryLocks(ctx, pool, names, l)
}

// tryLocks is one attempt of takeLocks.
func tryLocks(ctx context.Context, pool *pgxpool.Pool, names []string, l Lease) (*Leases, []Holding, error) {
	l = l.withDefaults()
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	var held []Holding
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', '10s', true)`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, takeLeases, names, l.Holder, token, l.TTL.Milliseconds(), thisInstance, os.Getpid())
		if err != nil {
			return err
		}
		taken, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(taken) == len(names) {
			return nil
		}
		rows, err = tx.Query(ctx, heldLeases, names, token)
		if err != nil {
			return err
		}
		held, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Holding, error) {
			var h Holding
			err := row.Scan(&h.Name, &h.Holder, &h.Since, &h.Until, &h.token, &h.instance, &h.pid)
			return h, err
		})
		if err != nil {
			return err
		}
		if len(held) == 0 { // freed meanwhile: say so rather than report nobody
			held = []Holding{{Name: names[0], Holder: "a holder that has just released it"}}
		}
		return errHeld
	})
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, errHeld):
		return nil, held, nil
	case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UndefinedTable:
		return nil, nil, ErrMissingLocksTable
	case err != nil:
		return nil, nil, err
	}
	ls := &Leases{pool: pool, token: token, lease: l, n: int64(len(names)),
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go ls.renew()
	return ls, nil, nil
}

var errHeld = errors.New("held")

// renew renews the leases every TTL/3 until Release; when a renewal finds them taken, or none
// succeeded for a TTL, it closes lost.
func (ls *Leases) renew() {
	defer close(ls.done)
	every := ls.lease.TTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ls.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		tag, err := ls.pool.Exec(ctx, renewLeases, ls.token, ls.lease.TTL.Milliseconds())
		cancel()
		switch {
		case err == nil && tag.RowsAffected() == ls.n:
			last = time.Now()
			continue
		case err == nil:
			ls.lease.Logger.Error("lock lost: another holder took it after it expired", "holder", ls.lease.Holder)
		case time.Since(last) < ls.lease.TTL-every:
			ls.lease.Logger.Warn("renewing the lock failed; trying again", "err", err)
			continue
		default:
			ls.lease.Logger.Error("lock lost: not renewed before it expired", "err", err)
		}
		close(ls.lost)
		return
	}
}

// Lost is closed when the locks are no longer this process's.
func (ls *Leases) Lost() <-chan struct{} {
	if ls == nil {
		return nil
	}
	return ls.lost
}

// Release gives the locks back at once (or, when the database cannot be reached, within their
// TTL); a nil *Leases does nothing.
func (ls *Leases) Release() {
	if ls == nil {
		return
	}
	ls.once.Do(func() {
		close(ls.stop)
		<-ls.done
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = ls.pool.Exec(ctx, releaseLeases, ls.token)
	})
}

// ErrLockLost is the cause of a context cancelled because its locks were lost.
var ErrLockLost = errors.New("the run lock was lost (not renewed before its lease expired, or taken over)")

// Bind returns ctx cancelled, with cause ErrLockLost, if the locks are lost; stop ends the watch.
func (ls *Leases) Bind(ctx context.Context) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	quit := make(chan struct{})
	go func() {
		select {
		case <-ls.Lost():
			cancel(ErrLockLost)
		case <-quit:
		case <-ctx.Done():
		}
	}()
	return ctx, func() { close(quit); cancel(nil) }
}

// WaitError says that a lock was still held when the wait for it ended.
type WaitError struct {
	What   string // "the migration lock"
	Waited time.Duration
	Held   []Holding
}

func (e *WaitError) Error() string {
	hs := make([]string, len(e.Held))
	for i, h := range e.Held {
		hs[i] = h.String()
	}
	return fmt.Sprintf("%s is held by %s (waited %s; it frees itself once its holder stops renewing it)", e.What, strings.Join(hs, "; "), e.Waited.Round(time.Second))
}

// waitLocks takes names, waiting at most wait while others hold them, saying every 5 s whom it
// waits for.
func waitLocks(ctx context.Context, pool *pgxpool.Pool, names []string, what string, wait time.Duration, l Lease, log *slog.Logger) (*Leases, error) {
	start := time.Now()
	var said time.Time
	for {
		ls, held, err := takeLocks(ctx, pool, names, l)
		if err != nil || ls != nil {
			return ls, err
		}
		if time.Since(start) >= wait {
			return nil, &WaitError{What: what, Waited: time.Since(start), Held: held}
		}
		if time.Since(said) >= 5*time.Second {
			log.Info("waiting for "+what, "held_by", held[0].Holder, "since", held[0].Since, "lease_until", held[0].Until, "waiting_at_most", wait)
			said = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
