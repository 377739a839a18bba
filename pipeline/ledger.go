package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/metapipe/metapipe/extract"
)

// Status values in the ledger.
const (
	StatusPending = "pending"
	StatusRunning = "running"
	StatusDone    = "done"
	StatusFailed  = "failed"
	StatusPartial = "partial" // some clients failed, the others are done
	StatusSkipped = "skipped" // already complete from an earlier attempt
)

// Ledger is run.json: per stage and per client, what happened. It never holds a token.
type Ledger struct {
	RunID    string                   `json:"run_id"`
	AsOf     string                   `json:"as_of"`
	Status   string                   `json:"status"`
	Started  time.Time                `json:"started"`
	Updated  time.Time                `json:"updated"`
	Attempts int                      `json:"attempts"` // how many times the run was started or resumed
	Stages   map[string]*StageRecord  `json:"stages"`
	Clients  map[string]*ClientRecord `json:"clients"`
	Timings  Timings                  `json:"timings"`
}

// StageRecord is one stage's outcome.
type StageRecord struct {
	Status  string    `json:"status"`
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

// ExtractRecord is one client's extraction.
type ExtractRecord struct {
	Status  string                              `json:"status"`
	Started time.Time                           `json:"started,omitzero"`
	Ended   time.Time                           `json:"ended,omitzero"`
	Kinds   map[extract.Kind]extract.KindResult `json:"kinds,omitempty"`
	Stats   extract.StatsSnapshot               `json:"stats"`
	Error   string                              `json:"error,omitempty"`
}

// TransformRecord is one client's transform.
type TransformRecord struct {
	Status   string   `json:"status"`
	Rows     int      `json:"rows"`
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// LoadClientRecord is one client's part of the load.
type LoadClientRecord struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Timings is the breakdown printed at the end of a run, in seconds. JobWait and Paging are
// summed over clients (they overlap in time); the others are wall time.
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

	Inserted  int64 `json:"inserted"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	Deleted   int64 `json:"deleted"` // weeks in a refetched range that lost all delivery
}

// ledgerFile keeps run.json on disk: at every stage boundary, and at most once a second in
// between (a run of a thousand clients would otherwise rewrite it thousands of times).
type ledgerFile struct {
	path    string
	mu      sync.Mutex
	l       Ledger
	written time.Time
	dirty   bool
}

// ledgerInterval is the least time between two writes of run.json within a stage.
const ledgerInterval = time.Second

// LedgerPath is run.json in a run directory.
func LedgerPath(dir string) string { return filepath.Join(dir, "run.json") }

// ReadLedger reads run.json.
func ReadLedger(dir string) (*Ledger, error) {
	b, err := os.ReadFile(LedgerPath(dir))
	if err != nil {
		return nil, err
	}
	var l Ledger
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("read %s: %w", LedgerPath(dir), err)
	}
	return &l, nil
}

func openLedger(dir string, p *Plan) (*ledgerFile, error) {
	lf := &ledgerFile{path: LedgerPath(dir)}
	if l, err := ReadLedger(dir); err == nil {
		lf.l = *l
	} else if !os.IsNotExist(err) {
		return nil, err
	} else {
		lf.l = Ledger{RunID: p.RunID, AsOf: p.AsOf, Started: time.Now().UTC()}
	}
	if lf.l.Stages == nil {
		lf.l.Stages = map[string]*StageRecord{}
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
func (lf *ledgerFile) update(fn func(l *Ledger)) error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	fn(&lf.l)
	lf.l.Updated = time.Now().UTC()
	lf.dirty = true
	if time.Since(lf.written) < ledgerInterval {
		return nil
	}
	return lf.writeLocked()
}

// flush writes the ledger if it changed since it was last written.
func (lf *ledgerFile) flush() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if !lf.dirty {
		return nil
	}
	return lf.writeLocked()
}

func (lf *ledgerFile) writeLocked() error {
	b, err := json.MarshalIndent(lf.l, "", "  ")
	if err != nil {
		return err
	}
	if err := extract.WriteFileAtomic(lf.path, append(b, '\n')); err != nil {
		return err
	}
	lf.written, lf.dirty = time.Now(), false
	return nil
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

// stage marks a stage started and returns a func that ends it.
func (lf *ledgerFile) stage(name string) func(status string, err error) float64 {
	start := time.Now()
	_ = lf.update(func(l *Ledger) {
		l.Stages[name] = &StageRecord{Status: StatusRunning, Started: start.UTC()}
	})
	_ = lf.flush()
	return func(status string, err error) float64 {
		secs := time.Since(start).Seconds()
		_ = lf.update(func(l *Ledger) {
			r := l.Stages[name]
			r.Status, r.Ended, r.Seconds = status, time.Now().UTC(), secs
			if err != nil {
				r.Error = err.Error()
			}
		})
		_ = lf.flush()
		return secs
	}
}
