package extract_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/records"
)

// asOf is the last Sunday up to today: the simulator has data up to its clock (now), and
// refuses ranges older than 37 months, so the tests follow the calendar.
var asOf = e2etest.LastSunday

func newSim(t *testing.T, cfg graphsim.Config) (*graphsim.Simulator, string) {
	t.Helper()
	if cfg.JobDuration == 0 {
		cfg.JobDuration = 150 * time.Millisecond
	}
	sim := graphsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

// newExtractor has test-sized waits: the simulator's jobs take 150 ms.
func newExtractor(url string) *extract.Extractor {
	c := extract.NewClient(url, "v25.0", "")
	c.Retry = extract.RetryConfig{Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond, Timeout: 10 * time.Second, RunLag: 10 * time.Second}
	return &extract.Extractor{
		Client:   c,
		Poll:     extract.PollConfig{First: 120 * time.Millisecond, Max: 400 * time.Millisecond, StallTimeout: time.Second, MaxRunTime: 5 * time.Second},
		Throttle: extract.ThrottleConfig{Cooldown: 30 * time.Millisecond, RegainUnit: 20 * time.Millisecond},
		PageSize: 500,
	}
}

// yearRange is the 54-week horizon ending at asOf.
func yearRange() extract.Range {
	since := asOf.AddDate(0, 0, -6-7*53) // asOf is a Sunday: its Monday is 6 days before
	return extract.Range{Since: since, Until: asOf}
}

func job(t *testing.T, a graphsim.Account, token string, rng extract.Range) extract.Request {
	return extract.Request{ClientID: "client-" + a.ID, ClientName: a.Name, Account: "act_" + a.ID,
		Token: extract.NewToken(token), Range: rng, Dir: records.ClientDir(t.TempDir())}
}

// crashAfterPolls extracts j from the simulator at url and cancels the extraction once every
// report kind's run is submitted and polled once, as a crash after the submits does; the
// extraction must end cancelled.
func crashAfterPolls(t *testing.T, url string, j extract.Request) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	var mu sync.Mutex
	polled := map[records.Kind]bool{}
	res := newExtractor(url).Extract(ctx, j, func(p extract.Progress) {
		if !strings.HasPrefix(p.State, "Job ") {
			return // not a poll
		}
		mu.Lock()
		polled[p.Kind] = true
		n := len(polled)
		mu.Unlock()
		if n == len(records.Kinds) {
			once.Do(cancel)
		}
	})
	if !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("first attempt: err = %v, want cancelled", res.Err)
	}
}

// faultedYear is a simulator of one ad account answering it with faults, its URL, the account,
// and a job reading its year.
func faultedYear(t *testing.T, faults graphsim.Faults) (*graphsim.Simulator, string, graphsim.Account, extract.Request) {
	t.Helper()
	sim, url := newSim(t, graphsim.Config{Accounts: 1})
	a := sim.Accounts()[0]
	sim.SetFaults(a.ID, faults)
	return sim, url, a, job(t, a, a.Token, yearRange())
}

// sameStaged checks that every report kind's staged rows in dir equal those in ref (the
// reference extraction, named by what).
func sameStaged(t *testing.T, dir, ref records.ClientDir, what string) {
	t.Helper()
	for _, k := range records.Kinds {
		got, want := readRows(t, dir, k), readRows(t, ref, k)
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%s: %d rows differ from %s's %d", k, len(got), what, len(want))
		}
	}
}
