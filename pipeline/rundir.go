package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// ReadPlan reads a run directory's plan.json. A missing or malformed plan is ErrUsage (the
// directory named is not a run directory).
func ReadPlan(dir records.RunDir) (*Plan, error) {
	b, err := os.ReadFile(dir.Plan())
	if err != nil {
		return nil, fmt.Errorf("%w: run directory %s: %w", ErrUsage, dir, err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUsage, dir.Plan(), err)
	}
	return &p, nil
}

func writePlan(dir records.RunDir, p *Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return records.WriteFile(dir.Plan(), append(b, '\n'))
}

// resumeKey is what a run shares with the run directory it resumes: the same as-of date, given
// alike (an explicit --as-of is one date for every account, none is each account's today), the
// same horizon, lookback and --full, and the same clients (ids sorted). A run with other flags
// is another run: resuming it would fetch what was not asked for.
type resumeKey struct {
	asOf      records.Date
	asOfGiven bool
	weeks     int
	lookback  int
	full      bool
	ids       []string
}

func (k resumeKey) matches(p *Plan) bool {
	return p.AsOf == k.asOf && p.AsOfGiven == k.asOfGiven && p.Weeks == k.weeks && p.Lookback == k.lookback &&
		p.Full == k.full && slices.Equal(p.ClientIDs(), k.ids)
}

// findResumable returns the newest run directory in stageDir of the same run (resumeKey) that
// is not done, or "": a failed, partial or interrupted run is resumed, so a retry fetches only
// what is missing.
func findResumable(stageDir string, key resumeKey) records.RunDir {
	return lastRunBy(stageDir, func(dir records.RunDir, p *Plan) (time.Time, bool) {
		if !key.matches(p) {
			return time.Time{}, false
		}
		if l, err := ReadLedger(dir); err == nil && l.Status == StatusDone {
			return time.Time{}, false
		}
		return p.Created, true
	})
}

// LatestRun returns the run directory under stageDir whose plan was created last, or "". Run
// ids start with a UTC timestamp to the second, so two runs of the same second are told apart
// by their plans' creation times, not by their names.
func LatestRun(stageDir string) records.RunDir {
	return lastRunBy(stageDir, func(_ records.RunDir, p *Plan) (time.Time, bool) { return p.Created, true })
}

// NewestRun returns the run directory under stageDir that was worked last, or "": the one
// whose ledger was updated last (a run resumed and finished after another was planned is the
// newer), a directory without a ledger yet by its plan's creation.
func NewestRun(stageDir string) records.RunDir {
	return lastRunBy(stageDir, func(dir records.RunDir, p *Plan) (time.Time, bool) {
		if l, err := ReadLedger(dir); err == nil && l.Updated.After(p.Created) {
			return l.Updated, true
		}
		return p.Created, true
	})
}

// lastRunBy returns the run directory under stageDir (one with a readable plan, its name not
// starting with ".") whose time, as when tells it, is the latest among those when accepts (ok);
// ties go to the greater name. "" when there is none.
func lastRunBy(stageDir string, when func(records.RunDir, *Plan) (t time.Time, ok bool)) records.RunDir {
	entries, err := os.ReadDir(stageDir)
	if err != nil {
		return ""
	}
	var best records.RunDir
	var bestTime time.Time
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := records.RunDir(filepath.Join(stageDir, e.Name()))
		p, err := ReadPlan(dir)
		if err != nil {
			continue
		}
		if t, ok := when(dir, p); ok && (best == "" || t.After(bestTime) || t.Equal(bestTime) && dir > best) {
			best, bestTime = dir, t
		}
	}
	return best
}
