package extract

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/internal/records"
)

// Extractor runs the report runs of clients against the Graph API and stages their rows. One
// Extractor serves every client of a run; it is safe for concurrent use.
type Extractor struct {
	Client         *Client
	Poll           PollConfig
	Throttle       ThrottleConfig
	Sync           SyncConfig // how synchronous reads are bounded (the Request says which reports are read so)
	PageSize       int        // result rows per page; defaults to DefaultPageSize (500)
	JobsPerAccount int        // report runs in flight per ad account; defaults to DefaultJobsPerAccount (10)
	// InlineWait, when not 0, is the longest Extract waits for a report run between two
	// polls: a longer wait ends the kind with the run saved, and the client's result says when
	// to look again (ClientResult.Wait), so a job queue's worker is not held while Meta works.
	InlineWait time.Duration
	// Readers bounds the report runs whose results are being read at once, every client
	// together; defaults to DefaultReaders (32). A report holds its rows in memory from its first page until it is
	// staged (right after), and decoding is CPU-bound: many clients may wait for Meta's report
	// runs at once, while the reading stays bounded.
	Readers int

	readersOnce sync.Once
	readers     chan struct{}
}

// readerSlots is the semaphore of Readers, made once.
func (x *Extractor) readerSlots() chan struct{} {
	x.readersOnce.Do(func() {
		n := x.Readers
		if n <= 0 {
			n = DefaultReaders
		}
		x.readers = make(chan struct{}, n)
	})
	return x.readers
}

// hold takes a slot of sem, or returns ctx's error.
func hold(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Request is one client's extraction: the ad account, its token, the dates and where to stage.
type Request struct {
	ClientID   string
	ClientName string // for errors and progress
	Account    string // ad account id, with or without act_
	Token      Token
	Range      Range
	Dir        records.ClientDir // <run>/extract/<client id>: the staged rows
	// Runs keeps the report runs; nil keeps them in <kind>.job.json in Dir (FileReportRuns).
	Runs ReportRunStore
	// SyncChunks, when it names a kind, reads that kind's range with synchronous requests in
	// week-aligned chunks of that many weeks, all at once (at most SyncConfig.Parallel of the
	// client's), each chunk falling back to a report run of its own range as a short range
	// does; the planner's choice for a long range of a small fleet (pipeline.ClientPlan). A
	// kind it does not name is read as SyncConfig says.
	SyncChunks map[records.Kind]int
}

// KindResult is one report kind's outcome.
type KindResult struct {
	Rows    int  `json:"rows"`
	Skipped bool `json:"skipped,omitempty"` // the file was already complete
	Waiting bool `json:"waiting,omitempty"` // a report run is not done: look again later
	Sync    bool `json:"sync,omitempty"`    // read with the synchronous request, no report run
	// Fallback says why a synchronous read gave way to report runs (FallbackTooLarge, …).
	Fallback string `json:"sync_fallback,omitempty"`
	// Chunks is how many week-aligned chunks the range was read in (Request.SyncChunks), and
	// ChunkFallbacks how many of them gave way to a report run.
	Chunks         int    `json:"sync_chunks,omitempty"`
	ChunkFallbacks int    `json:"sync_chunk_fallbacks,omitempty"`
	Error          string `json:"error,omitempty"`
}

// ClientResult is one client's outcome. Err is the first error of its report kinds (a
// [*ClientError]); it stopped the client's other kinds, never another client.
type ClientResult struct {
	ClientID string
	Kinds    map[records.Kind]KindResult
	Stats    StatsSnapshot
	Err      error
	// Wait, when not zero and Err is nil, is when the earliest of the kinds still waiting on
	// Meta should be looked at again (Extractor.InlineWait); the other kinds are staged.
	Wait    time.Time
	Started time.Time
	Ended   time.Time
}

// Extract runs the five report kinds of one client together and stages each kind's rows. A
// kind whose Parquet file exists is complete and skipped; saved report runs are polled again,
// not resubmitted. The first failing kind cancels the others (a refused token or a report that
// keeps failing would fail them the same way). progress may be nil.
func (x *Extractor) Extract(ctx context.Context, req Request, progress ProgressFunc) ClientResult {
	res := ClientResult{ClientID: req.ClientID, Kinds: map[records.Kind]KindResult{}, Started: time.Now()}
	defer func() { res.Ended = time.Now() }()
	if req.Token.IsZero() {
		res.Err = &ClientError{Client: req.ClientName, Err: errors.New("no access token (set clients.meta_access_token or META_ACCESS_TOKEN)")}
		return res
	}
	if err := os.MkdirAll(string(req.Dir), records.DirMode); err != nil {
		res.Err = &ClientError{Client: req.ClientName, Err: err}
		return res
	}
	sess := x.Client.Session(req.Account, req.Token, NewThrottle(x.Throttle))
	sess.poll = x.Poll
	pageSize := x.PageSize
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	slots := x.JobsPerAccount
	if slots <= 0 {
		slots = DefaultJobsPerAccount
	}
	sem := make(chan struct{}, slots)
	chunkSem := make(chan struct{}, x.Sync.WithDefaults().Parallel)

	kinds := make([]KindResult, len(records.Kinds))
	waits := make([]*WaitError, len(records.Kinds))
	g, gctx := errgroup.WithContext(ctx)
	for i, kind := range records.Kinds {
		g.Go(func() error {
			kr, err := x.extractKind(gctx, sess, req, kind, pageSize, sem, chunkSem, progress)
			if we, ok := asWait(err); ok {
				kinds[i], waits[i] = KindResult{Waiting: true}, we
				return nil // not a failure: the other kinds go on
			}
			if err != nil {
				kr.Error = err.Error()
				kinds[i] = kr
				return &ClientError{Client: req.ClientName, Kind: kind, Err: err}
			}
			kinds[i] = kr
			return nil
		})
	}
	res.Err = g.Wait() // the first error is the cause; the others were cancelled by it
	var wait *WaitError
	for i, kind := range records.Kinds {
		res.Kinds[kind] = kinds[i]
		wait = earlier(wait, waits[i])
	}
	if res.Err == nil && wait != nil {
		res.Wait = wait.Until
	}
	res.Stats = sess.Stats.Snapshot()
	return res
}

func (x *Extractor) extractKind(ctx context.Context, s *Session, req Request, kind records.Kind, pageSize int, sem, chunkSem chan struct{}, progress ProgressFunc) (KindResult, error) {
	out := req.Dir.Report(kind)
	if _, err := os.Stat(out); err == nil {
		if progress != nil {
			progress(Progress{Kind: kind, State: StateDone, Percent: 100, Requests: s.Stats.Requests.Load()})
		}
		return KindResult{Skipped: true}, nil
	}
	store := req.Runs
	if store == nil {
		store = &FileReportRuns{Dir: req.Dir}
	}
	runs, err := openReportRunLog(ctx, store, kind)
	if err != nil {
		return KindResult{}, err
	}
	r := &reportRunner{s: s, spec: Specs[kind], client: req.ClientName, poll: x.Poll, pageSize: pageSize,
		sync: x.Sync.WithDefaults(), runs: runs, slots: sem, readers: x.readerSlots(), progress: progress,
		inlineWait: x.InlineWait, chunkWeeks: req.SyncChunks[kind], chunkSlots: chunkSem}
	rows, synced, fallback, err := r.fetchKind(ctx, req.Range)
	if err != nil {
		return KindResult{Fallback: fallback}, err
	}
	if err := records.WriteParquet(out, rows, records.RowGroupRows); err != nil {
		return KindResult{}, fmt.Errorf("stage rows: %w", err)
	}
	r.report(StateDone, 100, 0)
	return KindResult{Rows: len(rows), Sync: synced, Fallback: fallback, Chunks: r.chunks, ChunkFallbacks: int(r.chunkFallbacks.Load())}, nil
}
