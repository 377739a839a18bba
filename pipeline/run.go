package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/load"
	"github.com/metapipe/metapipe/transform"
)

// DefaultConcurrency is how many clients are extracted at once unless told otherwise: each has
// its five report runs in flight, and the time a run takes is mostly Meta's jobs, not calls.
const DefaultConcurrency = 32

// Config is everything a run needs besides the plan options.
type Config struct {
	DatabaseURL string
	Token       extract.Token // META_ACCESS_TOKEN: for clients without their own token
	GraphURL    string
	APIVersion  string
	AppSecret   string
	StageDir    string // where run directories live ("stage")
	Concurrency int    // clients extracted at once (DefaultConcurrency)

	Poll           extract.PollConfig
	Throttle       extract.ThrottleConfig
	Retry          extract.RetryConfig
	PageSize       int
	JobsPerAccount int
	LockTimeout    time.Duration
	HTTPClient     *http.Client // nil: the default transport (TLS verified)

	Logger   *slog.Logger // nil: discard
	Reporter Reporter     // nil: log lines only
}

// Runner runs commands against one database.
type Runner struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger
	rep  Reporter
}

// Open connects to the database. An unreachable database is ErrCannotStart; a malformed URL
// is ErrUsage. The error never echoes the URL's password.
func Open(ctx context.Context, cfg Config) (*Runner, error) {
	if cfg.DatabaseURL == "" {
		return nil, fmt.Errorf("%w: no database: set DATABASE_URL or --database-url", ErrUsage)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: DATABASE_URL is not a valid PostgreSQL URL", ErrUsage)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("%w: database: %v", ErrCannotStart, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: database %s:%d unreachable: %v", ErrCannotStart, pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, err)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.StageDir == "" {
		cfg.StageDir = "stage"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep := cfg.Reporter
	if rep == nil {
		rep = NewLogReporter(log)
	}
	return &Runner{cfg: cfg, pool: pool, log: log, rep: rep}, nil
}

// Close releases the database.
func (r *Runner) Close() { r.pool.Close() }

// Pool is the runner's database pool.
func (r *Runner) Pool() *pgxpool.Pool { return r.pool }

// Migrate brings the schema up to date.
func (r *Runner) Migrate(ctx context.Context) error { return load.Migrate(ctx, r.pool) }

// selected reads the clients and picks the run's.
func (r *Runner) selected(ctx context.Context, o Options) ([]load.Client, error) {
	all, err := load.ReadClients(ctx, r.pool)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (has `metapipe migrate` run?)", ErrCannotStart, err)
	}
	return SelectClients(all, o.Clients, o.Shard)
}

// Plan decides what a run with these options fetches, changing nothing.
func (r *Runner) Plan(ctx context.Context, o Options) (*Plan, error) {
	clients, err := r.selected(ctx, o)
	if err != nil {
		return nil, err
	}
	return r.plan(ctx, clients, o)
}

func (r *Runner) plan(ctx context.Context, clients []load.Client, o Options) (*Plan, error) {
	if o.Weeks < 1 {
		return nil, fmt.Errorf("%w: --weeks must be at least 1", ErrUsage)
	}
	if o.Lookback < 0 {
		return nil, fmt.Errorf("%w: --lookback must not be negative", ErrUsage)
	}
	ids := make([]string, len(clients))
	for i, c := range clients {
		ids[i] = c.ID
	}
	states, err := load.ReadSyncStates(ctx, r.pool, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCannotStart, err)
	}
	asOf := day(o.AsOf)
	p := &Plan{
		RunID: newRunID(), Created: time.Now().UTC(), AsOf: asOf.Format(time.DateOnly),
		Weeks: o.Weeks, Lookback: o.Lookback, Full: o.Full,
		HorizonStart: Monday(asOf).AddDate(0, 0, -7*(o.Weeks-1)).Format(time.DateOnly),
	}
	for _, c := range clients {
		var st *load.SyncState
		if s, ok := states[c.ID]; ok {
			st = &s
		}
		p.Clients = append(p.Clients, planClient(c, st, o))
	}
	return p, nil
}

func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// PlanPath is plan.json in a run directory.
func PlanPath(dir string) string { return filepath.Join(dir, "plan.json") }

// ReadPlan reads plan.json.
func ReadPlan(dir string) (*Plan, error) {
	b, err := os.ReadFile(PlanPath(dir))
	if err != nil {
		return nil, fmt.Errorf("%w: run directory %s: %v", ErrUsage, dir, err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUsage, PlanPath(dir), err)
	}
	return &p, nil
}

func writePlan(dir string, p *Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return extract.WriteFileAtomic(PlanPath(dir), append(b, '\n'))
}

// findResumable returns the newest unfinished run directory in stageDir with the same as-of
// date and clients, or "".
func findResumable(stageDir string, asOf string, ids []string) string {
	entries, err := os.ReadDir(stageDir)
	if err != nil {
		return ""
	}
	var best string
	var bestTime time.Time
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(stageDir, e.Name())
		p, err := ReadPlan(dir)
		if err != nil || p.AsOf != asOf || !slices.Equal(p.ClientIDs(), ids) {
			continue
		}
		if l, err := ReadLedger(dir); err == nil && (l.Status == StatusDone || l.Status == StatusPartial) {
			continue
		}
		if best == "" || p.Created.After(bestTime) {
			best, bestTime = dir, p.Created
		}
	}
	return best
}

// runLockKey is the session-level advisory lock a run holds per client: distinct from the
// load's transaction-level key, so a run's own load never waits on its own session.
func runLockKey(clientID string) int64 {
	h := fnv.New64a()
	h.Write([]byte("metapipe:run:" + strings.ToLower(clientID)))
	return int64(h.Sum64())
}

// clientLocks holds the session advisory locks of a run's clients on one connection.
type clientLocks struct {
	conn *pgxpool.Conn
}

// lockClients takes every client's run lock or none: when another run holds any, it releases
// what it took and names the clients held.
func (r *Runner) lockClients(ctx context.Context, clients []load.Client) (*clientLocks, error) {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: database: %v", ErrCannotStart, err)
	}
	sorted := slices.Clone(clients)
	sort.Slice(sorted, func(i, j int) bool { return runLockKey(sorted[i].ID) < runLockKey(sorted[j].ID) })
	var held []int64
	var busy []string
	for _, c := range sorted {
		k := runLockKey(c.ID)
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", k).Scan(&ok); err != nil {
			conn.Release()
			return nil, fmt.Errorf("%w: advisory lock: %v", ErrCannotStart, err)
		}
		if ok {
			held = append(held, k)
		} else {
			busy = append(busy, c.Name)
		}
	}
	if len(busy) > 0 {
		for _, k := range held {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", k)
		}
		conn.Release()
		return nil, fmt.Errorf("%w: another run holds client(s) %s", ErrCannotStart, strings.Join(busy, ", "))
	}
	return &clientLocks{conn: conn}, nil
}

func (l *clientLocks) release() {
	if l == nil {
		return
	}
	_, _ = l.conn.Exec(context.Background(), "SELECT pg_advisory_unlock_all()")
	l.conn.Release()
}

// Report is what a run or stage leaves for the caller to print.
type Report struct {
	Dir    string
	Plan   *Plan
	Ledger Ledger
}

// Run plans, extracts, transforms and loads, resuming an unfinished run of the same as-of date
// and clients. It returns ErrSomeFailed when some client failed and the others were loaded.
func (r *Runner) Run(ctx context.Context, o Options, runDir string) (*Report, error) {
	clients, err := r.selected(ctx, o)
	if err != nil {
		return nil, err
	}
	if len(clients) == 0 {
		return nil, fmt.Errorf("%w: no clients to run (no active client in the clients table, or none in this shard)", ErrUsage)
	}
	if r.cfg.Token.IsZero() && !slices.ContainsFunc(clients, func(c load.Client) bool { return c.Token != "" }) {
		// Nothing could be fetched: a configuration error, not a failure of every client.
		return nil, fmt.Errorf("%w: no access token: set META_ACCESS_TOKEN (or clients.meta_access_token)", ErrUsage)
	}
	locks, err := r.lockClients(ctx, clients)
	if err != nil {
		return nil, err
	}
	defer locks.release()

	var plan *Plan
	ids := make([]string, len(clients))
	for i, c := range clients {
		ids[i] = c.ID
	}
	sort.Strings(ids)
	if runDir == "" {
		runDir = findResumable(r.cfg.StageDir, day(o.AsOf).Format(time.DateOnly), ids)
		if runDir != "" {
			r.log.Info("resuming unfinished run", "dir", runDir)
		}
	}
	if runDir != "" {
		if plan, err = ReadPlan(runDir); err != nil {
			return nil, err
		}
		removeTempFiles(runDir)
	} else {
		if plan, err = r.plan(ctx, clients, o); err != nil {
			return nil, err
		}
		runDir = filepath.Join(r.cfg.StageDir, plan.RunID)
		if err := os.MkdirAll(runDir, extract.DirMode); err != nil {
			return nil, fmt.Errorf("%w: stage dir: %v", ErrCannotStart, err)
		}
		if err := writePlan(runDir, plan); err != nil {
			return nil, fmt.Errorf("%w: write plan: %v", ErrCannotStart, err)
		}
	}
	return r.runStages(ctx, runDir, plan, clients, true, true, true)
}

// Stage runs one stage of an existing run directory ("extract", "transform" or "load").
func (r *Runner) Stage(ctx context.Context, runDir, stage string) (*Report, error) {
	plan, err := ReadPlan(runDir)
	if err != nil {
		return nil, err
	}
	var clients []load.Client
	if stage != "transform" {
		all, err := load.ReadClients(ctx, r.pool)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCannotStart, err)
		}
		byID := map[string]load.Client{}
		for _, c := range all {
			byID[c.ID] = c
		}
		for _, cp := range plan.Clients {
			if c, ok := byID[cp.ID]; ok {
				clients = append(clients, c)
			} else {
				clients = append(clients, load.Client{ID: cp.ID, Name: cp.Name, AdAccountID: cp.Account})
			}
		}
		locks, err := r.lockClients(ctx, clients)
		if err != nil {
			return nil, err
		}
		defer locks.release()
	}
	return r.runStages(ctx, runDir, plan, clients, stage == "extract", stage == "transform", stage == "load")
}

// TransformDir runs the transform stage of a run directory: files in, files out, no database.
func TransformDir(ctx context.Context, dir string, log *slog.Logger) (*Report, error) {
	plan, err := ReadPlan(dir)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{log: log, rep: NewLogReporter(log)}
	return r.runStages(ctx, dir, plan, nil, false, true, false)
}

func (r *Runner) runStages(ctx context.Context, dir string, plan *Plan, clients []load.Client, doExtract, doTransform, doLoad bool) (*Report, error) {
	lf, err := openLedger(dir, plan)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCannotStart, err)
	}
	start := time.Now()
	_ = lf.update(func(l *Ledger) { l.Status = StatusRunning; l.Attempts++ })
	_ = lf.flush()
	r.log.Info("run", "dir", dir, "as_of", plan.AsOf, "clients", len(plan.Clients))

	var stageErr error
	if doExtract && stageErr == nil {
		stageErr = r.extractStage(ctx, dir, plan, clients, lf)
	}
	if doTransform && stageErr == nil {
		stageErr = r.transformStage(ctx, dir, plan, lf)
	}
	if doLoad && stageErr == nil {
		stageErr = r.loadStage(ctx, dir, plan, lf)
	}
	r.rep.Close()

	var failed []string
	_ = lf.update(func(l *Ledger) {
		l.Timings.Total += time.Since(start).Seconds()
		for _, c := range plan.Clients {
			cr := l.Clients[c.ID]
			if cr.Extract.Status == StatusFailed || cr.Transform.Status == StatusFailed || cr.Load.Status == StatusFailed {
				failed = append(failed, c.Name)
			}
		}
		switch {
		case stageErr != nil:
			l.Status = StatusFailed
		case !doLoad:
			l.Status = StatusRunning // a single stage leaves the run open for the next one
		case len(failed) > 0:
			l.Status = StatusPartial
		default:
			l.Status = StatusDone
		}
	})
	if err := lf.flush(); err != nil && stageErr == nil {
		stageErr = fmt.Errorf("write ledger: %w", err)
	}
	rep := &Report{Dir: dir, Plan: plan, Ledger: lf.snapshot()}
	if stageErr != nil {
		if errors.Is(stageErr, context.Canceled) {
			return rep, fmt.Errorf("interrupted; rerun to resume %s: %w", dir, stageErr)
		}
		return rep, stageErr
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrSomeFailed, strings.Join(failed, ", "))
	}
	return rep, nil
}

// tokenFor returns the client's own token or the default one.
func (r *Runner) tokenFor(c load.Client) extract.Token {
	if c.Token != "" {
		return extract.NewToken(c.Token)
	}
	return r.cfg.Token
}

func (r *Runner) extractor() *extract.Extractor {
	cl := extract.NewClient(r.cfg.GraphURL, r.cfg.APIVersion, r.cfg.AppSecret)
	if r.cfg.HTTPClient != nil {
		cl.HTTP = r.cfg.HTTPClient
	}
	cl.Retry = r.cfg.Retry
	return &extract.Extractor{Client: cl, Poll: r.cfg.Poll, Throttle: r.cfg.Throttle, PageSize: r.cfg.PageSize, JobsPerAccount: r.cfg.JobsPerAccount}
}

// KPIPath is the staged bulk KPI read.
func KPIPath(dir string) string { return filepath.Join(dir, "extract", "kpi.parquet") }

// ClientDir is a client's staged raw rows.
func ClientDir(dir, clientID string) string { return filepath.Join(dir, "extract", clientID) }

func (r *Runner) extractStage(ctx context.Context, dir string, plan *Plan, clients []load.Client, lf *ledgerFile) error {
	end := lf.stage("extract")
	byID := map[string]load.Client{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	x := r.extractor()
	snap := lf.snapshot()
	var mu sync.Mutex
	var jobWait, paging time.Duration

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.kpiStage(gctx, dir, plan, lf) })
	clientGroup := new(errgroup.Group)
	clientGroup.SetLimit(r.cfg.Concurrency)
	for _, cp := range plan.Clients {
		c := byID[cp.ID]
		if snap.Clients[cp.ID].Extract.Status == StatusDone && allStaged(ClientDir(dir, cp.ID)) {
			continue
		}
		clientGroup.Go(func() error {
			if gctx.Err() != nil {
				return nil
			}
			_ = lf.update(func(l *Ledger) {
				l.Clients[cp.ID].Extract = ExtractRecord{Status: StatusRunning, Started: time.Now().UTC()}
			})
			r.rep.ClientStarted(cp.ID, cp.Name)
			var res extract.ClientResult
			if err := ValidateAccount(c); err != nil {
				res = extract.ClientResult{ClientID: cp.ID, Err: err, Started: time.Now(), Ended: time.Now()}
			} else {
				job := extract.Job{ClientID: cp.ID, ClientName: cp.Name, Account: cp.Account, Token: r.tokenFor(c),
					Range: cp.Range(), Dir: ClientDir(dir, cp.ID)}
				res = x.Extract(gctx, job, func(kind extract.Kind, status string, pct int) {
					r.rep.KindProgress(cp.ID, string(kind), status, pct)
				})
			}
			mu.Lock()
			jobWait += res.Stats.JobWait
			paging += res.Stats.Paging
			mu.Unlock()
			r.rep.ClientDone(cp.ID, res.Err)
			_ = lf.update(func(l *Ledger) {
				rec := &l.Clients[cp.ID].Extract
				rec.Ended, rec.Kinds, rec.Stats = res.Ended.UTC(), res.Kinds, res.Stats
				rec.Status = StatusDone
				if res.Err != nil {
					rec.Status, rec.Error = StatusFailed, res.Err.Error()
				}
			})
			if res.Err != nil {
				r.log.Error("extract failed", "client", cp.Name, "err", res.Err)
			} else {
				r.log.Info("extracted", "client", cp.Name, "requests", res.Stats.Requests, "submits", res.Stats.Submits,
					"polls", res.Stats.Polls, "pages", res.Stats.Pages, "rows", res.Stats.Rows)
			}
			return nil
		})
	}
	_ = clientGroup.Wait()
	err := g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	status := StatusDone
	if err != nil {
		status = StatusFailed
	}
	secs := end(status, err)
	_ = lf.update(func(l *Ledger) {
		l.Timings.Extract = secs
		l.Timings.JobWait += jobWait.Seconds()
		l.Timings.Paging += paging.Seconds()
	})
	return err
}

func allStaged(dir string) bool {
	for _, k := range extract.Kinds {
		if _, err := os.Stat(extract.ParquetPath(dir, k)); err != nil {
			return false
		}
	}
	return true
}

func (r *Runner) kpiStage(ctx context.Context, dir string, plan *Plan, lf *ledgerFile) error {
	path := KPIPath(dir)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	end := lf.stage("kpi")
	from, to := plan.KPIRange()
	n, err := extract.ReadKPI(ctx, r.pool, plan.ClientIDs(), from, to, path)
	status := StatusDone
	if err != nil {
		status = StatusFailed
	}
	secs := end(status, err)
	_ = lf.update(func(l *Ledger) { l.Timings.KPIQuery = secs })
	r.log.Info("kpi read", "rows", n, "from", from.Format(time.DateOnly), "to", to.Format(time.DateOnly), "seconds", secs)
	return err
}

// SummariesPath is the transform's output.
func SummariesPath(dir string) string { return filepath.Join(dir, "transform", "summaries.parquet") }

func (r *Runner) transformStage(ctx context.Context, dir string, plan *Plan, lf *ledgerFile) error {
	snap := lf.snapshot()
	var in transform.Input
	for _, cp := range plan.Clients {
		if snap.Clients[cp.ID].Extract.Status == StatusDone {
			in.Clients = append(in.Clients, transform.ClientInput{ClientID: cp.ID, Dir: ClientDir(dir, cp.ID)})
		}
	}
	in.KPIPath, in.OutPath = KPIPath(dir), SummariesPath(dir)
	end := lf.stage("transform")
	res, err := transform.Run(ctx, in)
	status := StatusDone
	if err != nil {
		status = StatusFailed
	}
	secs := end(status, err)
	warnings := map[string][]string{}
	for _, w := range res.Warnings {
		warnings[w.ClientID] = append(warnings[w.ClientID], w.String())
	}
	_ = lf.update(func(l *Ledger) {
		l.Timings.Transform = secs
		for _, c := range in.Clients {
			rec := &l.Clients[c.ClientID].Transform
			pc, ok := res.PerClient[c.ClientID]
			switch {
			case err != nil:
				*rec = TransformRecord{Status: StatusFailed, Error: err.Error()}
			case !ok:
				*rec = TransformRecord{Status: StatusFailed, Error: "not transformed"}
			case pc.Err != nil:
				*rec = TransformRecord{Status: StatusFailed, Error: pc.Err.Error()}
			default:
				*rec = TransformRecord{Status: StatusDone, Rows: pc.Rows, Warnings: warnings[c.ClientID]}
			}
		}
	})
	for _, w := range res.Warnings {
		r.log.Warn("transform check", "client", w.ClientID, "week", w.Week.Format(time.DateOnly), "check", w.Check, "detail", w.Detail)
	}
	return err
}

func (r *Runner) loadStage(ctx context.Context, dir string, plan *Plan, lf *ledgerFile) error {
	snap := lf.snapshot()
	req := load.Request{SummariesPath: SummariesPath(dir), DataSource: "metapipe " + plan.RunID, LockTimeout: r.cfg.LockTimeout}
	for _, cp := range plan.Clients {
		if snap.Clients[cp.ID].Transform.Status != StatusDone {
			continue
		}
		req.ClientIDs = append(req.ClientIDs, cp.ID)
		st := load.SyncState{ClientID: cp.ID, Platform: "meta", CoveredFrom: mustDate(cp.CoveredFrom),
			LastAsOf: mustDate(plan.AsOf), LastRunID: plan.RunID}
		if cp.FinalThrough != "" {
			t := mustDate(cp.FinalThrough)
			st.FinalThrough = &t
		}
		req.Sync = append(req.Sync, st)
		// The whole fetched range is in the file: a stored week in it that is not (it lost
		// all delivery) goes.
		req.Ranges = append(req.Ranges, load.ClientRange{ClientID: cp.ID, From: mustDate(cp.Since), To: mustDate(cp.Until)})
	}
	if len(req.ClientIDs) == 0 {
		end := lf.stage("load")
		end(StatusSkipped, nil)
		return nil
	}
	end := lf.stage("load")
	res, err := load.Load(ctx, r.pool, req)
	status := StatusDone
	if err != nil {
		status = StatusFailed
	}
	secs := end(status, err)
	_ = lf.update(func(l *Ledger) {
		l.Timings.Load = secs
		l.Timings.Copy = res.CopyDuration.Seconds()
		l.Timings.Merge = res.MergeDuration.Seconds()
		l.Timings.Inserted, l.Timings.Updated, l.Timings.Unchanged, l.Timings.Deleted = res.Inserted, res.Updated, res.Unchanged, res.Deleted
		for _, id := range req.ClientIDs {
			rec := &l.Clients[id].Load
			*rec = LoadClientRecord{Status: status}
			if err != nil {
				rec.Error = err.Error()
			}
		}
	})
	if err != nil {
		r.log.Error("load failed", "err", err)
		return err
	}
	r.log.Info("loaded", "inserted", res.Inserted, "updated", res.Updated, "unchanged", res.Unchanged, "deleted", res.Deleted, "seconds", secs)
	return nil
}
