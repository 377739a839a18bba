package extract_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/records"
)

// memRuns is a ReportRunStore in memory: what another worker would find in the database.
type memRuns struct {
	mu    sync.Mutex
	kinds map[records.Kind][]extract.ReportRunEntry
	saves int
}

func (m *memRuns) Load(_ context.Context, k records.Kind) ([]extract.ReportRunEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]extract.ReportRunEntry(nil), m.kinds[k]...), nil
}

func (m *memRuns) Save(_ context.Context, k records.Kind, e extract.ReportRunEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	for i, x := range m.kinds[k] {
		if x.Since == e.Since && x.Until == e.Until {
			m.kinds[k][i] = e
			return nil
		}
	}
	m.kinds[k] = append(m.kinds[k], e)
	return nil
}

// With an inline wait bound, an extraction does not wait for Meta: it submits the five report
// runs, saves them, and says when to look again. Extractions that follow (here in another
// folder, as another worker would) poll the saved runs and never submit again; the rows equal
// those of an extraction that waited.
func TestInlineWaitReturnsAndResumes(t *testing.T) {
	sim, url := newSim(t, graphsim.Config{Accounts: 1, JobDuration: 900 * time.Millisecond})
	a := sim.Accounts()[0]
	ref := job(t, a, a.Token, yearRange())
	if res := newExtractor(url).Extract(context.Background(), ref, nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	sim.ResetCounters()
	submitsBefore := sim.Counters().ByAccount[a.ID].ReportRuns

	x := newExtractor(url)
	x.InlineWait = 50 * time.Millisecond
	store := &memRuns{kinds: map[records.Kind][]extract.ReportRunEntry{}}
	attempts := 0
	var last extract.ClientResult
	for {
		attempts++
		j := job(t, a, a.Token, yearRange()) // a fresh folder: the staged rows of a worker are its own
		j.Runs = store
		last = x.Extract(context.Background(), j, nil)
		if last.Err != nil {
			t.Fatalf("attempt %d: %v", attempts, last.Err)
		}
		if last.Wait.IsZero() {
			sameStaged(t, j.Dir, ref.Dir, "the waiting extraction")
			break
		}
		if attempts == 1 {
			for _, k := range records.Kinds {
				if !last.Kinds[k].Waiting {
					t.Errorf("first attempt: %s is not waiting: %+v", k, last.Kinds[k])
				}
			}
		}
		if attempts > 50 {
			t.Fatal("never done")
		}
		time.Sleep(time.Until(last.Wait))
	}
	if attempts < 2 {
		t.Errorf("done in %d attempt: the inline wait was not used", attempts)
	}
	if n := sim.Counters().ByAccount[a.ID].ReportRuns - submitsBefore; n != 5 {
		t.Errorf("%d report runs submitted over %d attempts, want 5", n, attempts)
	}
	for _, k := range records.Kinds {
		for _, e := range store.kinds[k] {
			if e.Status != "completed" || e.Submitted.IsZero() || e.ProgressAt.IsZero() || e.AsyncStatus != "Job Completed" {
				t.Errorf("%s: saved %+v", k, e)
			}
		}
	}
	t.Logf("%d attempts, %d saves", attempts, store.saves)
}
