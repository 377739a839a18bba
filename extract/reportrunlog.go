package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// Report run statuses in the report-run log.
const (
	runSubmitted = "submitted"
	runCompleted = "completed"
	runFailed    = "failed"
	runStuck     = "stuck"
	runExpired   = "expired"
	runSplit     = "split"
)

// ReportRunEntry is one report run (or one split range) of a report kind of a client, as the
// report-run log keeps it.
type ReportRunEntry struct {
	Since       records.Date `json:"since"` // the range
	Until       records.Date `json:"until"`
	ReportRunID string       `json:"report_run_id,omitempty"`
	Status      string       `json:"status"` // submitted, completed, failed, stuck, expired, split
	Updated     time.Time    `json:"updated"`
	History     []string     `json:"history,omitempty"` // earlier report_run_id:status of this range

	// What the polls saw, so that a run polled again after a snooze or a crash is judged from
	// its submit and its last progress, not from the resume.
	Submitted   time.Time `json:"submitted,omitzero"`     // when the run was submitted
	AsyncStatus string    `json:"async_status,omitempty"` // Meta's async_status at the last change
	Percent     int       `json:"percent,omitempty"`      // Meta's async_percent_completion then
	ProgressAt  time.Time `json:"progress_at,omitzero"`   // when the status or percent last changed
}

// ReportRunStore keeps the report runs of one client, by kind, so that an extraction resumed
// after a crash, or taken over by another worker, polls them instead of submitting again. The
// default keeps <kind>.job.json in the client's folder ([FileReportRuns]); the service keeps
// them in PostgreSQL. Save must be durable when it returns: the run's id is saved before
// anything else is done with it.
type ReportRunStore interface {
	// Load returns every entry of a kind (none when nothing was saved).
	Load(ctx context.Context, kind records.Kind) ([]ReportRunEntry, error)
	// Save writes one entry of a kind, replacing the entry of the same range.
	Save(ctx context.Context, kind records.Kind, e ReportRunEntry) error
}

// ReportRunFile is the content of <kind>.job.json: every report run of one kind of one
// client, by range.
type ReportRunFile struct {
	Kind records.Kind     `json:"kind"`
	Runs []ReportRunEntry `json:"jobs"`
}

// FileReportRuns keeps a client's report runs in <kind>.job.json files in its folder, each
// rewritten atomically at every save.
type FileReportRuns struct {
	Dir records.ClientDir
	mu  sync.Mutex
}

// Load reads <kind>.job.json.
func (f *FileReportRuns) Load(_ context.Context, kind records.Kind) ([]ReportRunEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.read(kind)
	return c.Runs, err
}

func (f *FileReportRuns) read(kind records.Kind) (ReportRunFile, error) {
	c := ReportRunFile{Kind: kind}
	path := f.Dir.ReportRuns(kind)
	b, err := records.ReadFileIfExists(path)
	if err != nil || b == nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

// Save rewrites <kind>.job.json with the entry.
func (f *FileReportRuns) Save(_ context.Context, kind records.Kind, e ReportRunEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.read(kind)
	if err != nil {
		return err
	}
	found := false
	for i := range c.Runs {
		if c.Runs[i].Since == e.Since && c.Runs[i].Until == e.Until {
			c.Runs[i], found = e, true
		}
	}
	if !found {
		c.Runs = append(c.Runs, e)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return records.WriteFile(f.Dir.ReportRuns(kind), append(b, '\n'))
}

// reportRunLog is one kind's report runs in memory, saved through the store at every change,
// so a crashed run polls its saved report runs again instead of submitting new ones. Saves
// are not cancelled with the extraction: a report run Meta accepted must be recorded.
type reportRunLog struct {
	store ReportRunStore
	kind  records.Kind
	ctx   context.Context // for saves: the extraction's values, without its cancellation
	mu    sync.Mutex
	runs  []ReportRunEntry
}

func openReportRunLog(ctx context.Context, store ReportRunStore, kind records.Kind) (*reportRunLog, error) {
	runs, err := store.Load(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("read the saved report runs of %s: %w", kind, err)
	}
	return &reportRunLog{store: store, kind: kind, ctx: context.WithoutCancel(ctx), runs: runs}, nil
}

func (j *reportRunLog) find(rng Range) (ReportRunEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, u := records.DateOf(rng.Since), records.DateOf(rng.Until)
	for _, e := range j.runs {
		if e.Since == s && e.Until == u {
			return e, true
		}
	}
	return ReportRunEntry{}, false
}

func (j *reportRunLog) set(rng Range, id, status string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, u := records.DateOf(rng.Since), records.DateOf(rng.Until)
	e := ReportRunEntry{Since: s, Until: u}
	i := -1
	for k := range j.runs {
		if j.runs[k].Since == s && j.runs[k].Until == u {
			e, i = j.runs[k], k
		}
	}
	now := time.Now().UTC()
	if e.ReportRunID != id {
		if e.ReportRunID != "" {
			e.History = append(e.History, e.ReportRunID+":"+e.Status)
		}
		e.Submitted, e.AsyncStatus, e.Percent, e.ProgressAt = time.Time{}, "", 0, time.Time{}
		if id != "" {
			e.Submitted, e.ProgressAt = now, now
		}
	}
	e.ReportRunID, e.Status, e.Updated = id, status, now
	return j.saveLocked(e, i)
}

// progress records what a poll of the range's run saw, when it changed.
func (j *reportRunLog) progress(rng Range, status string, percent int, at time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, u := records.DateOf(rng.Since), records.DateOf(rng.Until)
	for i, e := range j.runs {
		if e.Since == s && e.Until == u {
			e.AsyncStatus, e.Percent, e.ProgressAt, e.Updated = status, percent, at.UTC(), time.Now().UTC()
			return j.saveLocked(e, i)
		}
	}
	return nil
}

// saveLocked saves e through the store and keeps it at index i (-1: a new range).
func (j *reportRunLog) saveLocked(e ReportRunEntry, i int) error {
	if err := j.store.Save(j.ctx, j.kind, e); err != nil {
		return fmt.Errorf("save report run %s of %s: %w", e.ReportRunID, j.kind, err)
	}
	if i < 0 {
		j.runs = append(j.runs, e)
	} else {
		j.runs[i] = e
	}
	return nil
}
