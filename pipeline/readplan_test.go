package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// syncRunner is the env's runner with the command's --sync-weeks (8).
func syncRunner(t *testing.T, e *env) *pipeline.Runner {
	t.Helper()
	cfg := e.config(pipeline.ConcurrencyAuto)
	cfg.Sync = extract.SyncConfig{Weeks: extract.DefaultSyncWeeks}
	r, err := pipeline.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// The planner reads one client's year with synchronous requests in week-aligned chunks (no
// report run, the table equal to the truth, and a second plan sizes the chunks by what the
// first run loaded), and a fleet of 1,000 clients' years by report runs, with the command's
// defaults. Before issue 19 a year was always five report runs.
func TestPlannerReadsOneClientSynchronouslyAndAThousandByReportRuns(t *testing.T) {
	t.Run("1 client", func(t *testing.T) {
		e := newEnv(t, 1)
		r := syncRunner(t, e)
		rep, err := r.Run(context.Background(), opts(lastSunday), "")
		if err != nil {
			t.Fatal(err)
		}
		cp := rep.Plan.Clients[0]
		if cp.Read != pipeline.ReadSync || len(cp.SyncChunks) != len(records.Kinds) || !strings.Contains(cp.ReadWhy, "1 client,") ||
			!strings.Contains(cp.ReadWhy, "assumed") {
			t.Fatalf("plan: read %q, chunks %v, why %q; want synchronous chunks of every kind, sized by an assumption", cp.Read, cp.SyncChunks, cp.ReadWhy)
		}
		// The account-level kind has one row a week: the whole year is one chunk.
		if cp.SyncChunks[records.KindAccount] != 54 {
			t.Errorf("account kind in chunks of %d weeks, want 54", cp.SyncChunks[records.KindAccount])
		}
		c := e.Sim.Counters()
		_, planned := rep.Plan.Reads(extract.DefaultSyncWeeks)
		if c.Requests[graphsim.KindSubmit] != 0 || c.Requests[graphsim.KindPoll] != 0 || c.Requests[graphsim.KindSync] < int64(planned) || planned <= len(records.Kinds) {
			t.Errorf("requests %v, %d synchronous reads planned; want every chunk read synchronously and no report run", c.Requests, planned)
		}
		kr := rep.Ledger.Clients[cp.ID].Extract.Kinds[records.KindPlacements]
		if !kr.Sync || kr.Chunks != len(cp.Range().Chunks(cp.SyncChunks[records.KindPlacements])) || kr.ChunkFallbacks != 0 {
			t.Errorf("ledger, placements: %+v", kr)
		}
		checkTable(t, e, lastSunday)

		// Planned again (--full), the chunks follow the rows a week the first run loaded.
		o := opts(lastSunday)
		o.Full = true
		p, err := r.Plan(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		again := p.Clients[0]
		if again.Read != pipeline.ReadSync || !strings.Contains(again.ReadWhy, "latest loaded weeks") {
			t.Errorf("second plan: read %q, why %q; want synchronous chunks sized by the loaded weeks", again.Read, again.ReadWhy)
		}
	})
	t.Run("1000 clients", func(t *testing.T) {
		e := newPlanEnv(t, 1000)
		r := syncRunner(t, e)
		p, err := r.Plan(context.Background(), opts(lastSunday))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Clients) != 1000 {
			t.Fatalf("%d clients planned", len(p.Clients))
		}
		for _, cp := range p.Clients {
			if cp.Read != pipeline.ReadReportRuns || len(cp.SyncChunks) != 0 || !strings.Contains(cp.ReadWhy, "1000 clients") {
				t.Fatalf("client %s: read %q, chunks %v, why %q; want report runs for a fleet", cp.Name, cp.Read, cp.SyncChunks, cp.ReadWhy)
			}
		}
		if runs, syncs := p.Reads(extract.DefaultSyncWeeks); runs != 5000 || syncs != 0 {
			t.Errorf("reads: %d report runs, %d synchronous; want 5000 and none", runs, syncs)
		}
		// The same client planned alone, as the service's job does, but in a run of 1,000.
		o := opts(lastSunday)
		o.Clients, o.FleetSize = []string{p.Clients[0].ID}, 1000
		one, err := r.Plan(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if cp := one.Clients[0]; cp.Read != pipeline.ReadReportRuns {
			t.Errorf("one client of a fleet of 1000: read %q (%s), want report runs", cp.Read, cp.ReadWhy)
		}
	})
}

// A chunk Meta refuses as too large (code 1, "Please reduce the amount of data") falls back to
// a report run of its own range, the other chunks stay synchronous, and the table equals the
// truth.
func TestTooLargeChunkFallsBackToAReportRun(t *testing.T) {
	// At most 60 rows per synchronous answer: the year of the account-level kind (one row a
	// week) passes, chunks of the other kinds planned at 20 rows a week (250 rows) do not.
	e := newWrappedEnv(t, graphsim.Config{Accounts: 1, SyncMaxRows: 60}, nil)
	r := syncRunner(t, e)
	rep, err := r.Run(context.Background(), opts(lastSunday), "")
	if err != nil {
		t.Fatal(err)
	}
	cp := rep.Plan.Clients[0]
	if cp.Read != pipeline.ReadSync {
		t.Fatalf("plan: read %q (%s), want synchronous chunks", cp.Read, cp.ReadWhy)
	}
	c := e.Sim.Counters()
	if c.Requests[graphsim.KindSubmit] == 0 || c.Requests[graphsim.KindSync] == 0 || c.Errors == 0 {
		t.Errorf("requests %v, %d errors: want refused chunks read by report runs besides synchronous ones", c.Requests, c.Errors)
	}
	kinds := rep.Ledger.Clients[cp.ID].Extract.Kinds
	if kr := kinds[records.KindAccount]; !kr.Sync || kr.ChunkFallbacks != 0 {
		t.Errorf("account kind: %+v, want read synchronously in one chunk", kr)
	}
	fellBack := 0
	for _, k := range records.Kinds {
		if kr := kinds[k]; kr.ChunkFallbacks > 0 {
			fellBack++
			if kr.Sync || kr.Fallback != extract.FallbackTooLarge {
				t.Errorf("%s: %+v, want a fallback for a chunk too large", k, kr)
			}
		}
	}
	if fellBack == 0 {
		t.Errorf("no chunk fell back: %+v", kinds)
	}
	checkTable(t, e, lastSunday)
}

// newPlanEnv is an env of n accounts whose clients have a day of KPI rows only: enough to plan.
func newPlanEnv(t *testing.T, n int) *env {
	t.Helper()
	return fromWorld(e2etest.New(t, e2etest.Sim(graphsim.Config{Accounts: n, Seed: 11}), e2etest.Seeded(lastSunday, lastSunday)), nil)
}
