package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
)

// Status is the state of a run, of a stage, or of a client's part in a stage, in run.json.
type Status string

// The statuses.
const (
	StatusPending     Status = "pending"
	StatusRunning     Status = "running"
	StatusDone        Status = "done"
	StatusFailed      Status = "failed"
	StatusPartial     Status = "partial"     // the run: some clients failed, the others are done
	StatusSkipped     Status = "skipped"     // the stage: nothing to do
	StatusInterrupted Status = "interrupted" // cut short by SIGINT/SIGTERM: the next run resumes it
)

// Stage names a stage of a run. StageKPI is the bulk KPI read, which runs beside the extract.
type Stage string

// The stages, in the order they run.
const (
	StageExtract   Stage = "extract"
	StageKPI       Stage = "kpi"
	StageTransform Stage = "transform"
	StageLoad      Stage = "load"
)

// Stages lists the stages in order.
var Stages = []Stage{StageExtract, StageKPI, StageTransform, StageLoad}

// ParseStage reads a stage a command can run alone: extract, transform or load.
func ParseStage(s string) (Stage, error) {
	switch st := Stage(s); st {
	case StageExtract, StageTransform, StageLoad:
		return st, nil
	}
	return "", fmt.Errorf("%w: unknown stage %q (extract, transform or load)", ErrUsage, s)
}

// Ledger is run.json: per stage and per client, what happened. It never holds a token.
type Ledger struct {
	RunID    string                   `json:"run_id"`
	AsOf     records.Date             `json:"as_of"` // the plan's: --as-of, or the UTC date the run was planned
	Status   Status                   `json:"status"`
	Started  time.Time                `json:"started"`
	Updated  time.Time                `json:"updated"`
	Attempts int                      `json:"attempts"` // how many times the run was started or resumed
	Stages   map[Stage]*StageRecord   `json:"stages"`
	Clients  map[string]*ClientRecord `json:"clients"` // by client id
	Timings  Timings                  `json:"timings"`
	Rows     RowCounts                `json:"rows"`
	// Concurrency is how many clients the last extract stage that extracted any ran at once.
	Concurrency *ConcurrencyRecord `json:"concurrency,omitempty"`
	// LastAttempt is what the last attempt alone did (Rows and Timings sum every attempt).
	LastAttempt *AttemptRecord `json:"last_attempt,omitempty"`
}

// AttemptRecord is one attempt of a run: its number (1 for the first, 2 for the first resume)
// and the rows and timings of that attempt only.
type AttemptRecord struct {
	Number  int       `json:"number"`
	Rows    RowCounts `json:"rows"`
	Timings Timings   `json:"timings"`
}

// Earlier is what the attempts before the last did: the run's sums less the last attempt's
// (the zero value when the last attempt is the first, or none is recorded).
func (l *Ledger) Earlier() (RowCounts, Timings) {
	if l.LastAttempt == nil {
		return RowCounts{}, Timings{}
	}
	return l.Rows.Minus(l.LastAttempt.Rows), l.Timings.Minus(l.LastAttempt.Timings)
}

// Minus is c less d, count by count.
func (c RowCounts) Minus(d RowCounts) RowCounts {
	return RowCounts{Inserted: c.Inserted - d.Inserted, Updated: c.Updated - d.Updated, Unchanged: c.Unchanged - d.Unchanged,
		Confirmed: c.Confirmed - d.Confirmed, Kept: c.Kept - d.Kept, Deleted: c.Deleted - d.Deleted}
}

// Minus is t less u, timing by timing.
func (t Timings) Minus(u Timings) Timings {
	return Timings{Extract: t.Extract - u.Extract, JobWait: t.JobWait - u.JobWait, Paging: t.Paging - u.Paging,
		KPIQuery: t.KPIQuery - u.KPIQuery, Transform: t.Transform - u.Transform, Copy: t.Copy - u.Copy,
		Merge: t.Merge - u.Merge, Load: t.Load - u.Load, Total: t.Total - u.Total}
}

// StageRecord is one stage's outcome.
type StageRecord struct {
	Status  Status    `json:"status"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	Seconds float64   `json:"seconds"`
	Error   string    `json:"error,omitempty"`
}

// ClientRecord is one client's outcome in each stage.
type ClientRecord struct {
	Name      string           `json:"name"`
	Extract   ExtractRecord    `json:"extract"`
	Transform TransformRecord  `json:"transform"`
	Load      LoadClientRecord `json:"load"`
}

// Failed reports whether the client failed in any stage.
func (c *ClientRecord) Failed() bool {
	return c.Extract.Status == StatusFailed || c.Transform.Status == StatusFailed || c.Load.Status == StatusFailed
}

// Interrupted reports whether the client was cut short in any stage.
func (c *ClientRecord) Interrupted() bool {
	return c.Extract.Status == StatusInterrupted || c.Transform.Status == StatusInterrupted || c.Load.Status == StatusInterrupted
}

// Loaded reports whether the client's rows are in campaign_summaries.
func (c *ClientRecord) Loaded() bool { return c.Load.Status == StatusDone }

// ExtractRecord is one client's extraction.
type ExtractRecord struct {
	Status  Status                              `json:"status"`
	Started time.Time                           `json:"started,omitzero"`
	Ended   time.Time                           `json:"ended,omitzero"`
	Kinds   map[records.Kind]extract.KindResult `json:"kinds,omitempty"`
	Stats   extract.StatsSnapshot               `json:"stats"`
	Error   string                              `json:"error,omitempty"`
	// ThrottledSince is when Meta began throttling the client's ad account, with no success
	// since: set while it lasts, cleared when the client is done, kept when it failed.
	ThrottledSince time.Time `json:"throttled_since,omitzero"`
}

// TransformRecord is one client's transform.
type TransformRecord struct {
	Status   Status   `json:"status"`
	Rows     int      `json:"rows"`
	Warnings []string `json:"warnings,omitempty"`
	// NotFinal lists the weeks (Mondays, YYYY-MM-DD) whose campaign, placement or demographic
	// sums disagree with the account's totals: loaded, but never made final, so that later
	// runs fetch them again.
	NotFinal []string `json:"not_final,omitempty"`
	// Refetched lists the kinds and weeks read again in this run because their sums
	// disagreed, and whether they agreed then (RefetchRecord).
	Refetched []RefetchRecord `json:"refetched,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// LoadClientRecord is one client's part of the load.
type LoadClientRecord struct {
	Status Status `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Timings is where a run's time went, in seconds. JobWait and Paging are summed over report
// runs (they overlap in time); the others are wall time, summed over the run's attempts.
type Timings struct {
	Extract   float64 `json:"extract"`
	JobWait   float64 `json:"job_wait_seconds_summed"`
	Paging    float64 `json:"paging_seconds_summed"`
	KPIQuery  float64 `json:"kpi_query"`
	Transform float64 `json:"transform"`
	Copy      float64 `json:"copy"`
	Merge     float64 `json:"merge"`
	Load      float64 `json:"load"`
	Total     float64 `json:"total"`
}

// RowCounts is what the loads of a run did to campaign_summaries, summed over its attempts.
type RowCounts struct {
	Inserted  int64 `json:"inserted"`
	Updated   int64 `json:"updated"`   // stored rows whose content changed
	Unchanged int64 `json:"unchanged"` // rows of the run equal to the stored ones: not rewritten
	Confirmed int64 `json:"confirmed"` // of the unchanged, those whose as_of moved forward
	Kept      int64 `json:"kept"`      // rows as of a later date in the table than in the run: kept
	Deleted   int64 `json:"deleted"`   // weeks in a refetched range that lost all delivery
}

// ReadLedger reads a run directory's run.json.
func ReadLedger(dir records.RunDir) (*Ledger, error) {
	b, err := os.ReadFile(dir.Ledger())
	if err != nil {
		return nil, err
	}
	var l Ledger
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("read %s: %w", dir.Ledger(), err)
	}
	return &l, nil
}

// ledgerFile keeps run.json on disk: at every stage boundary, and at most once every
// ledgerInterval in between (a run of a thousand clients would otherwise rewrite it thousands
// of times). A write that fails leaves the ledger dirty, so the next boundary writes it again;
// flush returns the error of the last attempt, and the run returns it: no write error is lost.
type ledgerFile struct {
	path    string
	mu      sync.Mutex
	l       Ledger
	written time.Time
	dirty   bool
	err     error // of the last write attempt
}

// ledgerInterval is the least time between two writes of run.json within a stage.
const ledgerInterval = time.Second

func openLedger(dir records.RunDir, p *Plan) (*ledgerFile, error) {
	lf := &ledgerFile{path: dir.Ledger()}
	if l, err := ReadLedger(dir); err == nil {
		lf.l = *l
	} else if !os.IsNotExist(err) {
		return nil, err
	} else {
		lf.l = Ledger{RunID: p.RunID, AsOf: p.AsOf, Started: time.Now().UTC()}
	}
	if lf.l.Stages == nil {
		lf.l.Stages = map[Stage]*StageRecord{}
	}
	if lf.l.Clients == nil {
		lf.l.Clients = map[string]*ClientRecord{}
	}
	for _, c := range p.Clients {
		if lf.l.Clients[c.ID] == nil {
			lf.l.Clients[c.ID] = &ClientRecord{Name: c.Name, Extract: ExtractRecord{Status: StatusPending},
				Transform: TransformRecord{Status: StatusPending}, Load: LoadClientRecord{Status: StatusPending}}
		}
	}
	return lf, nil
}

// update changes the ledger under its lock and writes it out unless it was written less than
// ledgerInterval ago.
func (lf *ledgerFile) update(fn func(l *Ledger)) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	fn(&lf.l)
	lf.l.Updated = time.Now().UTC()
	lf.dirty = true
	if time.Since(lf.written) >= ledgerInterval {
		lf.writeLocked()
	}
}

// flush writes the ledger if it changed since it was last written, and returns the error of the
// last write attempt.
func (lf *ledgerFile) flush() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.dirty {
		lf.writeLocked()
	}
	return lf.err
}

func (lf *ledgerFile) writeLocked() {
	b, err := json.MarshalIndent(lf.l, "", "  ")
	if err == nil {
		err = records.WriteFile(lf.path, append(b, '\n'))
	}
	if err != nil {
		lf.err = fmt.Errorf("write ledger %s: %w", lf.path, err)
		return
	}
	lf.written, lf.dirty, lf.err = time.Now(), false, nil
}

// snapshot returns a deep copy of the ledger.
func (lf *ledgerFile) snapshot() Ledger {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	b, _ := json.Marshal(lf.l)
	var l Ledger
	_ = json.Unmarshal(b, &l)
	return l
}

// begin marks a stage started and returns the func that ends it: done when err is nil, else
// failed with err; skipped ends it as having had nothing to do. end returns the stage's
// seconds. Both write the ledger.
func (lf *ledgerFile) begin(stage Stage) (end func(err error) float64, skipped func()) {
	start := time.Now()
	lf.update(func(l *Ledger) { l.Stages[stage] = &StageRecord{Status: StatusRunning, Started: start.UTC()} })
	_ = lf.flush() // its error stays in lf.err until a write succeeds
	finish := func(status Status, err error) float64 {
		secs := time.Since(start).Seconds()
		lf.update(func(l *Ledger) {
			r := l.Stages[stage]
			r.Status, r.Ended, r.Seconds = status, time.Now().UTC(), secs
			if err != nil {
				r.Error = err.Error()
			}
		})
		_ = lf.flush()
		return secs
	}
	end = func(err error) float64 {
		return finish(outcome(err), err)
	}
	return end, func() { finish(StatusSkipped, nil) }
}

// outcome is the status an error ends something with: done (nil), interrupted (the run's
// context ended: context.Canceled) or failed.
func outcome(err error) Status {
	switch {
	case err == nil:
		return StatusDone
	case errors.Is(err, context.Canceled):
		return StatusInterrupted
	default:
		return StatusFailed
	}
}
