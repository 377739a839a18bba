package pipeline_test

// The fault suite at the whole-pipeline level: each case runs Runner.Run against the simulator
// (with scripted faults) and a real PostgreSQL, and ends by comparing campaign_summaries with
// the simulator's truth. docs/RELIABILITY.md tabulates the cases.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// faultWeeks is the horizon of the fault cases: a quarter keeps them quick and still splits.
const faultWeeks = 13

// newWrappedEnv is newEnv with a simulator config of its own and an optional middleware in
// front of the simulator (a proxy that misbehaves, a request log).
func newWrappedEnv(t *testing.T, cfg graphsim.Config, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	return fromWorld(e2etest.New(t, pipelineWorld, e2etest.Sim(cfg), e2etest.Wrap(wrap)), cfg.Now)
}

func faultOpts() pipeline.Options {
	return weeksOpts(lastSunday, faultWeeks)
}

func (e *env) runWith(t *testing.T, cfg pipeline.Config, o pipeline.Options) (*pipeline.Report, error) {
	t.Helper()
	r, err := pipeline.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := r.Run(context.Background(), o, "")
	if err != nil && rep != nil {
		for _, c := range rep.Ledger.Clients {
			if c.Failed() {
				t.Logf("%s failed: extract %q, transform %q, load %q", c.Name, c.Extract.Error, c.Transform.Error, c.Load.Error)
			}
		}
	}
	return rep, err
}

// faultedSecond is a world of three clients whose second ad account Meta answers with faults,
// its accounts, and a config of concurrency 3.
func faultedSecond(t *testing.T, faults graphsim.Faults) (*env, []graphsim.Account, pipeline.Config) {
	t.Helper()
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, nil)
	accts := e.Sim.Accounts()
	e.Sim.SetFaults(accts[1].ID, faults)
	return e, accts, e.config(3)
}

// checkFaulted checks a fault case's clients: the second (the faulted one) failed with nothing
// loaded when the fault fails it, every other done and equal to the truth over faultWeeks.
func checkFaulted(t *testing.T, e *env, rep *pipeline.Report, fails bool) {
	t.Helper()
	for i, a := range e.Sim.Accounts() {
		xs, ls := clientStatus(rep, e.Clients[i])
		if i == 1 && fails {
			if e2etest.Rows(t, e.Pool, e.Clients[i]) != 0 || xs != pipeline.StatusFailed {
				t.Errorf("%s: extract %s, %d rows: want failed and nothing loaded", a.Name, xs, e2etest.Rows(t, e.Pool, e.Clients[i]))
			}
			continue
		}
		if xs != pipeline.StatusDone || ls != pipeline.StatusDone {
			t.Errorf("%s: extract %s, load %s", a.Name, xs, ls)
		}
		e2etest.CheckClient(t, e.Pool, e.Sim, a, e.Clients[i], lastSunday, faultWeeks)
	}
}

// clientStatus is a client's extract and load status in the ledger.
func clientStatus(rep *pipeline.Report, id string) (pipeline.Status, pipeline.Status) {
	c := rep.Ledger.Clients[id]
	if c == nil {
		return "", ""
	}
	return c.Extract.Status, c.Load.Status
}

// reqLog records every request the simulator answers, with its account, so a test can count
// the requests made while Meta had said to wait.
type reqLog struct {
	regainUnit, cooldown time.Duration

	mu      sync.Mutex
	runAcct map[string]string // report run id -> account
	events  []reqEvent
}

type reqEvent struct {
	acct              string
	arrived, answered time.Time
	status            int
	throttled         bool
	hold              time.Duration // how long Meta said to wait (throttled answers)
}

type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len() < 4096 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}
func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (l *reqLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := reqEvent{arrived: time.Now()}
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		rw := &recordingWriter{ResponseWriter: w}
		defer func() {
			ev.answered, ev.status = time.Now(), rw.status
			l.mu.Lock()
			defer l.mu.Unlock()
			if len(segs) >= 2 {
				if strings.HasPrefix(segs[1], "act_") {
					ev.acct = strings.TrimPrefix(segs[1], "act_")
					var sub struct {
						ID json.Number `json:"report_run_id"`
					}
					if json.Unmarshal(rw.body.Bytes(), &sub) == nil && sub.ID != "" {
						l.runAcct[sub.ID.String()] = ev.acct
					}
				} else {
					ev.acct = l.runAcct[segs[1]]
				}
			}
			var env struct {
				Error *struct {
					Code int `json:"code"`
				} `json:"error"`
			}
			if rw.status >= 400 && json.Unmarshal(rw.body.Bytes(), &env) == nil && env.Error != nil &&
				extract.ClassOf(&extract.GraphError{Code: env.Error.Code}) == extract.ClassThrottled {
				ev.throttled = true
				u, _ := extract.ParseUsage(w.Header(), l.regainUnit)
				ev.hold = u.Regain
				if ev.hold == 0 {
					ev.hold = l.cooldown
				}
			}
			l.events = append(l.events, ev)
		}()
		next.ServeHTTP(rw, r)
	})
}

// throttleFigures are what the log says about the throttled answers.
type throttleFigures struct {
	requests, throttled int
	inFlight            int           // requests that reached the server within inFlightSlack after a throttled answer: sent before the client could know
	whileThrottled      int           // requests that reached the server later, while Meta had said to wait: sent while throttled
	maxRecover          time.Duration // longest time from a throttled answer to the account's next success
}

// inFlightSlack is how late a request the client sent before it read a throttled answer may
// reach the server (loopback, race detector on).
const inFlightSlack = 20 * time.Millisecond

func (l *reqLog) figures() throttleFigures {
	l.mu.Lock()
	defer l.mu.Unlock()
	var f throttleFigures
	f.requests = len(l.events)
	for i, ev := range l.events {
		if !ev.throttled {
			continue
		}
		f.throttled++
		until := ev.answered.Add(ev.hold)
		var next time.Time
		for j, o := range l.events {
			if j == i || o.acct != ev.acct {
				continue
			}
			switch {
			case o.arrived.Before(ev.answered) || !o.arrived.Before(until):
			case o.arrived.Sub(ev.answered) < inFlightSlack:
				f.inFlight++
			default:
				f.whileThrottled++
			}
			if o.status == http.StatusOK && o.answered.After(ev.answered) && (next.IsZero() || o.answered.Before(next)) {
				next = o.answered
			}
		}
		if !next.IsZero() {
			f.maxRecover = max(f.maxRecover, next.Sub(ev.answered))
		}
	}
	return f
}

// Throttling storms: half the calls of two accounts answer 80004 (with a regain time) or 17
// (without), and a small call budget keeps the usage headers near 100 % for all three. The run
// waits rather than hammers: few requests reach Meta while it has said to wait, and the table
// equals the truth.
func TestFaultThrottleStorm(t *testing.T) {
	const regainUnit, cooldown = 100 * time.Millisecond, 100 * time.Millisecond
	log := &reqLog{regainUnit: regainUnit, cooldown: cooldown, runAcct: map[string]string{}}
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3, EnforceBudget: true, CallBudget: 20, UsageWindow: time.Second}, log.wrap)
	accts := e.Sim.Accounts()
	e.Sim.SetFaults(accts[0].ID, graphsim.Faults{ThrottleEvery: 2, ThrottleCode: 80004, RegainMinutes: 1})
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ThrottleEvery: 2, ThrottleCode: 17})
	cfg := e.config(3)
	cfg.Throttle = extract.ThrottleConfig{Cooldown: cooldown, RegainUnit: regainUnit}
	start := time.Now()
	rep, err := e.runWith(t, cfg, faultOpts())
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	n := e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, faultWeeks)
	f := log.figures()
	c := e.Sim.Counters()
	if c.Throttled < 10 || int(c.Throttled) != f.throttled {
		t.Errorf("%d throttled answers (log %d): the storm did not blow", c.Throttled, f.throttled)
	}
	// The account's report kinds call concurrently, so the calls released together after a
	// hold land with the throttled one (in flight), and under the race detector a call that
	// passed the throttle just before may reach the server tens of milliseconds later.
	// Hammering (retrying on the 5 ms backoff) would put ~20 requests in every 100 ms hold;
	// waiting puts fewer than one.
	if f.whileThrottled >= f.throttled {
		t.Errorf("%d requests reached the server while throttled (%d throttled answers): not waiting", f.whileThrottled, f.throttled)
	}
	var waited time.Duration
	for _, id := range e.Clients {
		waited += rep.Ledger.Clients[id].Extract.Stats.ThrottleWait
	}
	if waited < time.Duration(f.throttled)*cooldown/4 {
		t.Errorf("waited %s in total over %d throttled answers", waited, f.throttled)
	}
	t.Logf("throttle storm: %d rows right, %d requests, %d throttled answers, %d requests sent while throttled (+%d already in flight), "+
		"longest recovery %s (hold %s), throttle wait %s (summed over clients), run %s",
		n, f.requests, f.throttled, f.whileThrottled, f.inFlight, f.maxRecover.Round(time.Millisecond), regainUnit,
		waited.Round(time.Millisecond), took.Round(time.Millisecond))
}

// Report runs that fail, stick or are too large: each client ends either with the truth or
// failed (the others done), never with a half-loaded table.
func TestFaultReportRuns(t *testing.T) {
	cases := []struct {
		name   string
		faults graphsim.Faults
		fails  bool
		check  func(t *testing.T, c graphsim.AccountCounters)
	}{
		{"fails once: resubmitted", graphsim.Faults{FailJobs: 1}, false, func(t *testing.T, c graphsim.AccountCounters) {
			if c.ReportRuns != 6 {
				t.Errorf("%d report runs, want 6 (one resubmitted)", c.ReportRuns)
			}
		}},
		{"fails always: the client fails, the others are done", graphsim.Faults{FailJobs: -1}, true, nil},
		{"stuck in Job Running: resubmitted after the timeout", graphsim.Faults{StuckJobs: 1}, false, func(t *testing.T, c graphsim.AccountCounters) {
			if c.ReportRuns != 6 {
				t.Errorf("%d report runs, want 6 (the stuck one resubmitted)", c.ReportRuns)
			}
		}},
		{"too large: split until it passes", graphsim.Faults{TooLargeOverWeeks: 4}, false, func(t *testing.T, c graphsim.AccountCounters) {
			// 13 weeks -> 6 + 7 -> 3 + 3 + 3 + 4: four ranges per kind, each at most 4 weeks.
			if c.ReportRuns != 5*4 {
				t.Errorf("%d report runs, want 20 (4 ranges per kind)", c.ReportRuns)
			}
		}},
		{"Job Running at 100 %", graphsim.Faults{RunningAt100: true}, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, accts, cfg := faultedSecond(t, tc.faults)
			cfg.Poll.StallTimeout, cfg.Poll.MaxRunTime = time.Second, 3*time.Second
			rep, err := e.runWith(t, cfg, faultOpts())
			checkFaulted(t, e, rep, tc.fails)
			if tc.fails {
				if !errors.Is(err, pipeline.ErrSomeFailed) || !strings.Contains(err.Error(), accts[1].Name) {
					t.Errorf("err = %v, want ErrSomeFailed naming %s", err, accts[1].Name)
				}
				msg := rep.Ledger.Clients[e.Clients[1]].Extract.Error
				if !strings.Contains(msg, accts[1].Name) || !strings.Contains(msg, "report ") || !strings.Contains(msg, "Job Failed") {
					t.Errorf("ledger error %q does not name the client, the report and the status", msg)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, e.Sim.Counters().ByAccount[accts[1].ID])
			}
		})
	}
}

// Report runs are judged by progress, not by a stopwatch. Times scaled down by 100: a 45-second
// run whose percent keeps rising loads under a 20-second job timeout (polls 0.2 s doubling to
// 3 s; it used to end "report run stuck (Job Running at 66% after 30s)"); a run that stalls is
// resubmitted once, then its client fails with a message saying it stalled and for how long.
func TestFaultProgress(t *testing.T) {
	poll := extract.PollConfig{First: 20 * time.Millisecond, Max: 300 * time.Millisecond,
		StallTimeout: 200 * time.Millisecond, MaxRunTime: 36 * time.Second}
	t.Run("a 45 s run that keeps progressing under a 20 s job timeout loads", func(t *testing.T) {
		t.Parallel()
		e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, nil)
		accts := e.Sim.Accounts()
		e.Sim.SetFaults(accts[1].ID, graphsim.Faults{JobDuration: 450 * time.Millisecond})
		cfg := e.config(3)
		cfg.Poll = poll
		rep, err := e.runWith(t, cfg, faultOpts())
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range accts {
			xs, ls := clientStatus(rep, e.Clients[i])
			if xs != pipeline.StatusDone || ls != pipeline.StatusDone {
				t.Errorf("%s: extract %s, load %s", a.Name, xs, ls)
			}
			e2etest.CheckClient(t, e.Pool, e.Sim, a, e.Clients[i], lastSunday, faultWeeks)
		}
		c := e.Sim.Counters().ByAccount[accts[1].ID]
		if c.ReportRuns != 5 {
			t.Errorf("%d report runs, want 5: none resubmitted", c.ReportRuns)
		}
		// The runs outlived the job timeout: the test shows what it means to show.
		st := rep.Ledger.Clients[e.Clients[1]].Extract.Stats
		if st.JobWait < 5*poll.StallTimeout {
			t.Errorf("the five runs waited %s in all, want more than 5 × the job timeout", st.JobWait)
		}
		t.Logf("the slow client's five runs waited %s in all (job timeout %s), %d polls", st.JobWait.Round(time.Millisecond), poll.StallTimeout, st.Polls)
	})
	t.Run("a run that stalls is resubmitted once, then the client fails", func(t *testing.T) {
		t.Parallel()
		e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, nil)
		accts := e.Sim.Accounts()
		e.Sim.SetFaults(accts[1].ID, graphsim.Faults{JobDuration: 450 * time.Millisecond, StuckJobs: -1})
		cfg := e.config(3)
		cfg.Poll = poll
		rep, err := e.runWith(t, cfg, faultOpts())
		if !errors.Is(err, pipeline.ErrSomeFailed) || !strings.Contains(err.Error(), accts[1].Name) {
			t.Errorf("err = %v, want ErrSomeFailed naming %s", err, accts[1].Name)
		}
		for i, a := range accts {
			xs, _ := clientStatus(rep, e.Clients[i])
			if i == 1 {
				if e2etest.Rows(t, e.Pool, e.Clients[i]) != 0 || xs != pipeline.StatusFailed {
					t.Errorf("%s: extract %s, %d rows: want failed and nothing loaded", a.Name, xs, e2etest.Rows(t, e.Pool, e.Clients[i]))
				}
				continue
			}
			e2etest.CheckClient(t, e.Pool, e.Sim, a, e.Clients[i], lastSunday, faultWeeks)
		}
		msg := rep.Ledger.Clients[e.Clients[1]].Extract.Error
		m := regexp.MustCompile(`report run (\d+) stalled: no progress for (\S+) \("Job Running" at \d+%, waited [^)]+\); resubmitted once after report run (\d+) stalled`).FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("ledger error %q does not say the run stalled, for how long, and that it was resubmitted once", msg)
		}
		if d, err := time.ParseDuration(m[2]); err != nil || d <= poll.StallTimeout {
			t.Errorf("stalled for %s, want more than the job timeout %s", d, poll.StallTimeout)
		}
		if m[1] == m[3] {
			t.Errorf("the same report run %s twice: not resubmitted", m[1])
		}
		t.Logf("ledger: %s", msg)
		// Only the resubmit: per kind at most two runs.
		if n := e.Sim.Counters().ByAccount[accts[1].ID].ReportRuns; n < 6 || n > 10 {
			t.Errorf("%d report runs, want 6 to 10 (one resubmit per kind at most)", n)
		}
	})
}

// Meta's lag on a report run's own endpoints (docs/META_API.md, "Errors", rules R1 and R2): an
// error naming the run on the first poll of every new run, or between its pages, or a field that
// "wasn't there while creating the report run", is retried on the same request: nothing is
// resubmitted or split, the client is loaded, and the table is the simulator's truth. A run
// that Meta never finds is resubmitted once; lost every time, that client alone fails.
func TestFaultRunLag(t *testing.T) {
	cases := []struct {
		name   string
		faults graphsim.Faults
		runs   int64 // report runs of the lagging account; 0: do not check
		fails  bool
	}{
		{"an error naming the run on the first poll of every new run", graphsim.Faults{LagPolls: 1}, 5, false},
		{"errors naming the run between pages", graphsim.Faults{LagPages: 3}, 5, false},
		{"a field that wasn't there while creating the report run", graphsim.Faults{MissingFieldPages: 3}, 5, false},
		{"the first run is never found: resubmitted once", graphsim.Faults{LostRuns: 1}, 6, false},
		{"no run is ever found: the client fails", graphsim.Faults{LostRuns: -1}, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, accts, cfg := faultedSecond(t, tc.faults)
			// A bound the lag that clears never reaches, however slow the machine; a short one
			// for the lost runs, so that the test is quick.
			cfg.Retry.RunLag = 10 * time.Second
			if tc.faults.LostRuns != 0 {
				cfg.Retry.RunLag = 300 * time.Millisecond
			}
			cfg.PageSize = 50 // several pages per report run, for the page faults
			rep, err := e.runWith(t, cfg, faultOpts())
			checkFaulted(t, e, rep, tc.fails)
			c := e.Sim.Counters().ByAccount[accts[1].ID]
			if c.Lagged == 0 {
				t.Error("the fault never fired")
			}
			t.Logf("%d denials answered, %d report runs, %d requests for the lagging client", c.Lagged, c.ReportRuns,
				rep.Ledger.Clients[e.Clients[1]].Extract.Stats.Requests)
			if tc.runs != 0 && c.ReportRuns != tc.runs {
				t.Errorf("%d report runs, want %d", c.ReportRuns, tc.runs)
			}
			if !tc.fails {
				if err != nil {
					t.Fatal(err)
				}
				if n := rep.Ledger.Clients[e.Clients[1]].Extract.Stats.Lagged; n == 0 {
					t.Error("the ledger counts no lagged answer")
				}
				return
			}
			if !errors.Is(err, pipeline.ErrSomeFailed) {
				t.Errorf("err = %v, want ErrSomeFailed", err)
			}
			msg := rep.Ledger.Clients[e.Clients[1]].Extract.Error
			if !strings.Contains(msg, "report run unknown to Meta") || !strings.Contains(msg, "resubmitted") {
				t.Errorf("ledger error %q does not say the run stayed unknown after a resubmit", msg)
			}
		})
	}
}

// HTTP 500 every fifth call of one account, results pages cut mid-body for another, and a
// proxy answering HTML 503 pages to every call for 150 ms (half of what the scaled-down retries
// tolerate, 20 ms doubling to 200 ms over 6 attempts): retried, the table is right.
func TestFaultServerErrorsAndResets(t *testing.T) {
	var mu sync.Mutex
	var burstStart time.Time
	var seen, burst int
	proxy := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen++
			if seen == 20 {
				burstStart = time.Now()
			}
			inBurst := !burstStart.IsZero() && time.Since(burstStart) < 150*time.Millisecond
			if inBurst {
				burst++
			}
			mu.Unlock()
			if inBurst {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("<html><body><h1>503 Service Unavailable</h1>upstream overloaded</body></html>"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, proxy)
	accts := e.Sim.Accounts()
	e.Sim.SetFaults(accts[0].ID, graphsim.Faults{ServerErrorEvery: 5})
	e.Sim.SetFaults(accts[1].ID, graphsim.Faults{ResetEvery: 2})
	cfg := e.config(3)
	cfg.Retry = extract.RetryConfig{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond}
	rep, err := e.runWith(t, cfg, faultOpts())
	if err != nil {
		for _, c := range rep.Ledger.Clients {
			t.Log(c.Name, c.Extract.Error)
		}
		t.Fatal(err)
	}
	n := e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, faultWeeks)
	c := e.Sim.Counters()
	var retries int64
	for _, id := range e.Clients {
		retries += rep.Ledger.Clients[id].Extract.Stats.Retries
	}
	if c.ServerErrors == 0 || c.Resets == 0 || burst == 0 {
		t.Errorf("500s %d, resets %d, burst answers %d: a fault did not fire", c.ServerErrors, c.Resets, burst)
	}
	if retries < c.ServerErrors+c.Resets+int64(burst) {
		t.Errorf("%d retries for %d failed answers", retries, c.ServerErrors+c.Resets+int64(burst))
	}
	t.Logf("500s %d, resets %d, HTML 503 burst %d answers; %d retries; %d rows right", c.ServerErrors, c.Resets, burst, retries, n)
}

// An expired token for one client: that client fails with 190 at once (nothing retried), the
// others are loaded and right, and the token is in no error.
func TestFaultExpiredToken(t *testing.T) {
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, nil)
	accts := e.Sim.Accounts()
	if _, err := e.Pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, e.Clients[2]); err != nil {
		t.Fatal(err)
	}
	rep, err := e.runWith(t, e.config(3), faultOpts())
	if !errors.Is(err, pipeline.ErrSomeFailed) || !strings.Contains(err.Error(), accts[2].Name) {
		t.Fatalf("err = %v, want ErrSomeFailed naming %s", err, accts[2].Name)
	}
	msg := rep.Ledger.Clients[e.Clients[2]].Extract.Error
	if !strings.Contains(msg, "190") || strings.Contains(msg, graphsim.ExpiredToken) || strings.Contains(err.Error(), graphsim.ExpiredToken) {
		t.Errorf("ledger error %q: want code 190 and no token", msg)
	}
	if n := e.Sim.Counters().ByAccount[accts[2].ID].Requests[graphsim.KindSubmit]; n > 5 {
		t.Errorf("%d submits with an expired token, want at most one per kind", n)
	}
	if e2etest.Rows(t, e.Pool, e.Clients[2]) != 0 {
		t.Error("rows loaded for the refused client")
	}
	for i := range 2 {
		e2etest.CheckClient(t, e.Pool, e.Sim, accts[i], e.Clients[i], lastSunday, faultWeeks)
	}
}

// The database connection killed in the middle of the load (its merge waits on a table lock
// the test holds, after the COPY): the transaction rolls back, the tables are exactly as they
// were, and a rerun resumes from the staged files and completes.
func TestFaultConnectionKilledMidLoad(t *testing.T) {
	e := newWrappedEnv(t, graphsim.Config{Accounts: 3}, nil)
	ctx := context.Background()
	asOf1 := lastSunday.AddDate(0, 0, -14)
	o1 := weeksOpts(asOf1, 8)
	if _, err := e.runWith(t, e.config(3), o1); err != nil {
		t.Fatal(err)
	}
	e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, asOf1, 8)
	before := e2etest.TableText(t, e.Pool)

	lock, err := e.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `LOCK TABLE campaign_summaries IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	o2 := faultOpts()
	done := make(chan error, 1)
	go func() { _, err := e.runWith(t, e.config(3), o2); done <- err }()
	var pid int32
	deadline := time.Now().Add(60 * time.Second)
	for pid == 0 {
		err := e.Pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO campaign_summaries%'`).Scan(&pid)
		if err != nil && time.Now().After(deadline) {
			lock.Rollback(ctx)
			t.Fatalf("the load never reached its merge: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var copied int
	_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND xact_start IS NOT NULL`, pid).Scan(&copied)
	if _, err := e.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	_ = lock.Rollback(ctx)
	err = <-done
	killErr := err
	if killErr == nil {
		t.Fatal("the run whose connection was killed reported success")
	}
	if after := e2etest.TableText(t, e.Pool); after != before {
		t.Errorf("a killed load changed the tables")
	}
	submits := e.Sim.Counters().Requests[graphsim.KindSubmit]

	rep, err := e.runWith(t, e.config(3), o2)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if rep.Ledger.Attempts != 2 {
		t.Errorf("the rerun did not resume the killed run (attempts %d)", rep.Ledger.Attempts)
	}
	if n := e.Sim.Counters().Requests[graphsim.KindSubmit] - submits; n != 0 {
		t.Errorf("the rerun submitted %d report runs, want 0 (all staged)", n)
	}
	n := e2etest.CheckTable(t, e.Pool, e.Sim, e.Clients, lastSunday, faultWeeks)
	t.Logf("load killed with pg_terminate_backend in its merge (error: %v); tables unchanged; rerun loaded %d rows right", killErr, n)
}

// A client whose name is SQL round-trips: every statement is parameterized.
func TestClientNameIsNotSQL(t *testing.T) {
	e := newWrappedEnv(t, graphsim.Config{Accounts: 2}, nil)
	const name = `O'Brien; DROP TABLE clients;--`
	if _, err := e.Pool.Exec(context.Background(), `UPDATE clients SET name = $1 WHERE id = $2`, name, e.Clients[0]); err != nil {
		t.Fatal(err)
	}
	o := opts(lastSunday)
	o.Weeks, o.Clients = 6, []string{name}
	rep, err := e.runWith(t, e.config(2), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Plan.Clients) != 1 || rep.Plan.Clients[0].Name != name {
		t.Fatalf("plan %+v", rep.Plan.Clients)
	}
	e2etest.CheckClient(t, e.Pool, e.Sim, e.Sim.Accounts()[0], e.Clients[0], lastSunday, 6)
	var names []string
	rows, err := e.Pool.Query(context.Background(), `SELECT name FROM clients ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		names = append(names, s)
	}
	if len(names) != 2 || !slices.Contains(names, name) {
		t.Errorf("clients after the run: %q", names)
	}
}

// TLS verification is always on: the default client refuses a self-signed certificate (and
// sends nothing); the same server with its certificate trusted works.
func TestTLSVerifiedByDefault(t *testing.T) {
	sim := graphsim.New(graphsim.Config{Accounts: 1, JobDuration: 50 * time.Millisecond})
	srv := httptest.NewUnstartedServer(sim)
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	a := sim.Accounts()[0]
	job := func() extract.Request {
		return extract.Request{ClientID: "c", ClientName: a.Name, Account: a.ID, Token: extract.NewToken(a.Token),
			Range: extract.Range{Since: e2etest.Monday(lastSunday), Until: lastSunday}, Dir: records.ClientDir(t.TempDir())}
	}
	cl := extract.NewClient(srv.URL, "", "")
	cl.Retry = extract.RetryConfig{Base: time.Millisecond, Cap: 2 * time.Millisecond}
	x := &extract.Extractor{Client: cl, Poll: extract.PollConfig{First: 20 * time.Millisecond}}
	res := x.Extract(context.Background(), job(), nil)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", res.Err)
	}
	if n := sim.Counters().Requests; len(n) != 0 {
		t.Errorf("requests reached the server over unverified TLS: %v", n)
	}
	cl.HTTP = srv.Client() // trusts the test certificate
	if res := x.Extract(context.Background(), job(), nil); res.Err != nil {
		t.Fatalf("with the certificate trusted: %v", res.Err)
	}
	if tr, ok := http.DefaultTransport.(*http.Transport); !ok || (tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify) {
		t.Error("the default transport skips TLS verification")
	}
}
