package extract

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Extractor runs the report runs of clients against the Graph API and stages their rows.
type Extractor struct {
	Client         *Client
	Poll           PollConfig
	Throttle       ThrottleConfig
	PageSize       int // results per page (500)
	JobsPerAccount int // report runs in flight per ad account (10)
}

// Job is one client's extraction: the ad account, its token, the range and where to stage.
type Job struct {
	ClientID   string
	ClientName string
	Account    string // ad account id, with or without act_
	Token      Token
	Range      Range
	Dir        string // <run>/extract/<client id>
}

// KindResult is one report kind's outcome.
type KindResult struct {
	Rows    int    `json:"rows"`
	Skipped bool   `json:"skipped,omitempty"` // the file was already complete
	Error   string `json:"error,omitempty"`
}

// ClientResult is one client's outcome: the first error stops the client, not the others.
type ClientResult struct {
	ClientID string
	Kinds    map[Kind]KindResult
	Stats    StatsSnapshot
	Err      error
	Started  time.Time
	Ended    time.Time
}

// ParquetPath is where a kind's raw rows are staged.
func ParquetPath(dir string, kind Kind) string { return filepath.Join(dir, string(kind)+".parquet") }

// JobPath is where a kind's report runs are saved.
func JobPath(dir string, kind Kind) string { return filepath.Join(dir, string(kind)+".job.json") }

// Extract runs the five report kinds of one client together. A kind whose Parquet file exists
// is complete and skipped; saved report runs are polled again, not resubmitted. progress may
// be nil.
func (x *Extractor) Extract(ctx context.Context, job Job, progress ProgressFunc) ClientResult {
	res := ClientResult{ClientID: job.ClientID, Kinds: map[Kind]KindResult{}, Started: time.Now()}
	defer func() { res.Ended = time.Now() }()
	if job.Token.IsZero() {
		res.Err = &ClientError{Client: job.ClientName, Err: errors.New("no access token (set clients.meta_access_token or META_ACCESS_TOKEN)")}
		return res
	}
	if err := os.MkdirAll(job.Dir, DirMode); err != nil {
		res.Err = &ClientError{Client: job.ClientName, Err: err}
		return res
	}
	sess := x.Client.Session(job.Account, job.Token, NewThrottle(x.Throttle))
	pageSize := x.PageSize
	if pageSize <= 0 {
		pageSize = 500
	}
	slots := x.JobsPerAccount
	if slots <= 0 {
		slots = 10
	}
	sem := make(chan struct{}, slots)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, kind := range Kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kr, err := x.extractKind(ctx, sess, job, kind, pageSize, sem, progress)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				kr.Error = err.Error()
				if res.Err == nil { // the first error is the cause; the others were cancelled by it
					res.Err = &ClientError{Client: job.ClientName, Kind: kind, Err: err}
				}
				// A refused token or a report that keeps failing: stop the client's other
				// reports, they would fail the same way or be wasted.
				cancel()
			}
			res.Kinds[kind] = kr
		}()
	}
	wg.Wait()
	res.Stats = sess.Stats.Snapshot()
	return res
}

func (x *Extractor) extractKind(ctx context.Context, s *Session, job Job, kind Kind, pageSize int, sem chan struct{}, progress ProgressFunc) (KindResult, error) {
	out := ParquetPath(job.Dir, kind)
	if _, err := os.Stat(out); err == nil {
		if progress != nil {
			progress(kind, "Job Completed", 100)
		}
		return KindResult{Skipped: true}, nil
	}
	jobs, err := openJobFile(JobPath(job.Dir, kind), kind)
	if err != nil {
		return KindResult{}, err
	}
	r := &reportRunner{s: s, spec: Specs[kind], client: job.ClientName, poll: x.Poll, pageSize: pageSize,
		jobs: jobs, slots: sem, progress: progress}
	rows, err := r.fetch(ctx, job.Range)
	if err != nil {
		return KindResult{}, err
	}
	if err := WriteParquet(out, rows); err != nil {
		return KindResult{}, fmt.Errorf("stage rows: %w", err)
	}
	return KindResult{Rows: len(rows)}, nil
}
