package extract

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// Report run statuses in <kind>.job.json.
const (
	runSubmitted = "submitted"
	runCompleted = "completed"
	runFailed    = "failed"
	runStuck     = "stuck"
	runExpired   = "expired"
	runSplit     = "split"
)

// ReportRunEntry is one report run (or one split range) in <kind>.job.json.
type ReportRunEntry struct {
	Since       string    `json:"since"`
	Until       string    `json:"until"`
	ReportRunID string    `json:"report_run_id,omitempty"`
	Status      string    `json:"status"`
	Updated     time.Time `json:"updated"`
	History     []string  `json:"history,omitempty"` // earlier report_run_id:status of this range
}

// ReportRunFile is the content of <kind>.job.json: every report run of one kind of one
// client, by range.
type ReportRunFile struct {
	Kind records.Kind     `json:"kind"`
	Runs []ReportRunEntry `json:"jobs"`
}

// reportRunLog keeps <kind>.job.json in step with every submit, so a crashed run polls its
// saved report runs again instead of submitting new ones.
type reportRunLog struct {
	path string
	mu   sync.Mutex
	c    ReportRunFile
}

func openReportRunLog(path string, kind records.Kind) (*reportRunLog, error) {
	j := &reportRunLog{path: path, c: ReportRunFile{Kind: kind}}
	b, err := records.ReadFileIfExists(path)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if err := json.Unmarshal(b, &j.c); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return j, nil
}

func (j *reportRunLog) find(rng Range) (ReportRunEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, u := rng.Since.Format(time.DateOnly), rng.Until.Format(time.DateOnly)
	for _, e := range j.c.Runs {
		if e.Since == s && e.Until == u {
			return e, true
		}
	}
	return ReportRunEntry{}, false
}

func (j *reportRunLog) set(rng Range, id, status string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, u := rng.Since.Format(time.DateOnly), rng.Until.Format(time.DateOnly)
	now := time.Now().UTC()
	found := false
	for i := range j.c.Runs {
		e := &j.c.Runs[i]
		if e.Since == s && e.Until == u {
			if e.ReportRunID != "" && e.ReportRunID != id {
				e.History = append(e.History, e.ReportRunID+":"+e.Status)
			}
			e.ReportRunID, e.Status, e.Updated = id, status, now
			found = true
		}
	}
	if !found {
		j.c.Runs = append(j.c.Runs, ReportRunEntry{Since: s, Until: u, ReportRunID: id, Status: status, Updated: now})
	}
	b, err := json.MarshalIndent(j.c, "", "  ")
	if err != nil {
		return err
	}
	return records.WriteFile(j.path, append(b, '\n'))
}
