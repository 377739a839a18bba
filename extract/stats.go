package extract

import (
	"sync/atomic"
	"time"
)

// CallKind names a request for the counters.
type CallKind string

const (
	CallSubmit  CallKind = "submit"
	CallPoll    CallKind = "poll"
	CallResults CallKind = "results"
	CallSync    CallKind = "sync"    // a synchronous Insights read (a page of it)
	CallAccount CallKind = "account" // the ad account's fields
)

// Stats counts one client's requests and waits. Safe for concurrent use.
type Stats struct {
	Submits, Polls, Pages, Requests atomic.Int64
	Syncs, SyncFallbacks            atomic.Int64 // synchronous requests; synchronous reads that fell back to report runs
	Retries, Throttled, Lagged      atomic.Int64
	NotReady                        atomic.Int64 // "not ready" answers on completed report runs' results, waited out
	SmallerPages                    atomic.Int64 // result pages Meta refused as too large, asked again smaller
	PagingEnded                     atomic.Int64 // reads ended on an empty page with a next link or a repeated cursor
	ThrottleWait, JobWait, Paging   atomic.Int64 // nanoseconds
	Rows                            atomic.Int64
}

// StatsSnapshot is Stats as plain values, for the ledger.
type StatsSnapshot struct {
	Requests     int64         `json:"requests"`
	Submits      int64         `json:"submits"`
	Polls        int64         `json:"polls"`
	Pages        int64         `json:"pages"`
	Syncs        int64         `json:"syncs"`          // synchronous Insights requests (pages)
	Fallbacks    int64         `json:"sync_fallbacks"` // synchronous reads that gave way to report runs
	Retries      int64         `json:"retries"`
	Throttled    int64         `json:"throttled"`
	Lagged       int64         `json:"lagged"`                  // answers that denied a report run while Meta caught up, retried
	NotReady     int64         `json:"not_ready,omitempty"`     // "not ready" answers after "Job Completed", waited out
	SmallerPages int64         `json:"smaller_pages,omitempty"` // pages refused as too large, asked again at half the size
	PagingEnded  int64         `json:"paging_ended,omitempty"`  // reads ended on an empty page that had a next link, or a repeated cursor
	ThrottleWait time.Duration `json:"throttle_wait_ns"`
	JobWait      time.Duration `json:"job_wait_ns"`
	Paging       time.Duration `json:"paging_ns"`
	Rows         int64         `json:"rows"`
}

// Snapshot reads the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		Requests: s.Requests.Load(), Submits: s.Submits.Load(), Polls: s.Polls.Load(), Pages: s.Pages.Load(),
		Syncs: s.Syncs.Load(), Fallbacks: s.SyncFallbacks.Load(),
		Retries: s.Retries.Load(), Throttled: s.Throttled.Load(), Lagged: s.Lagged.Load(),
		NotReady: s.NotReady.Load(), SmallerPages: s.SmallerPages.Load(), PagingEnded: s.PagingEnded.Load(),
		ThrottleWait: time.Duration(s.ThrottleWait.Load()), JobWait: time.Duration(s.JobWait.Load()),
		Paging: time.Duration(s.Paging.Load()), Rows: s.Rows.Load(),
	}
}

// Add is the sum of two snapshots, field by field (a client's first read and its refetches).
func (s StatsSnapshot) Add(o StatsSnapshot) StatsSnapshot {
	return StatsSnapshot{
		Requests: s.Requests + o.Requests, Submits: s.Submits + o.Submits, Polls: s.Polls + o.Polls, Pages: s.Pages + o.Pages,
		Syncs: s.Syncs + o.Syncs, Fallbacks: s.Fallbacks + o.Fallbacks,
		Retries: s.Retries + o.Retries, Throttled: s.Throttled + o.Throttled, Lagged: s.Lagged + o.Lagged,
		NotReady: s.NotReady + o.NotReady, SmallerPages: s.SmallerPages + o.SmallerPages, PagingEnded: s.PagingEnded + o.PagingEnded,
		ThrottleWait: s.ThrottleWait + o.ThrottleWait, JobWait: s.JobWait + o.JobWait,
		Paging: s.Paging + o.Paging, Rows: s.Rows + o.Rows,
	}
}
