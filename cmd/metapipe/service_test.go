package main

// The service as it runs on a machine: metapipe sim, serve and workers, each a process of the
// built binary, on one PostgreSQL.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/pgtest"
)

// heldJob is a job a worker holds (River's state running, the worker last in attempted_by).
type heldJob struct {
	job    int64
	client string
	tries  int // len(attempted_by): River's fetches of the job so far
}

// heldBy lists the run's jobs that workers hold now, by worker; with saved, only jobs whose
// client's five report runs are saved in service_report_runs.
func (w *world) heldBy(t *testing.T, run string, saved bool) map[string][]heldJob {
	t.Helper()
	rows, err := w.Pool.Query(context.Background(), `
SELECT j.attempted_by[array_upper(j.attempted_by, 1)], j.id, c.client_id::text, array_length(j.attempted_by, 1)
FROM river_job j JOIN service_run_clients c ON c.job_id = j.id
WHERE c.run_id = $1 AND j.state = 'running'
  AND (NOT $2 OR (SELECT count(*) FROM service_report_runs r WHERE r.run_id = c.run_id AND r.client_id = c.client_id) = 5)`, run, saved)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]heldJob{}
	for rows.Next() {
		var by string
		var h heldJob
		if err := rows.Scan(&by, &h.job, &h.client, &h.tries); err != nil {
			t.Fatal(err)
		}
		out[by] = append(out[by], h)
	}
	return out
}

// fetchedBy is the job's attempted_by: the River client ids that fetched it, oldest first.
func (w *world) fetchedBy(t *testing.T, job int64) []string {
	t.Helper()
	var by []string
	if err := w.Pool.QueryRow(context.Background(), `SELECT attempted_by FROM river_job WHERE id = $1`, job).Scan(&by); err != nil {
		t.Fatal(err)
	}
	return by
}

// reportRunIDs are the report runs saved for the run: client, kind and range → Meta's id.
func (w *world) reportRunIDs(t *testing.T, run string) map[string]string {
	t.Helper()
	return w.textMap(t, `
SELECT client_id::text || ' ' || kind || ' ' || since || '..' || until, entry->>'report_run_id'
FROM service_report_runs WHERE run_id = $1`, run)
}

// The test of the service: PostgreSQL, the simulator with 15-second report runs, serve,
// three workers (--concurrency 2 --rescue-after 20s), a nine-client run queued over HTTP. One
// worker is killed with SIGKILL while it holds jobs whose report runs are saved: its jobs are
// rescued once the delay has passed and show attempt 2; the run ends done within a few
// minutes; the table equals the simulator's truth; every report run saved before the kill is
// the one used (the simulator served no other submit for those clients than those the kill cut
// short before they were saved, and exactly five for every other). Then a worker stopped with
// SIGTERM while it holds a job exits 0 within seconds, and the job is taken by the other worker
// at once, well before the rescue delay, and finishes without spending an attempt or
// submitting again.
func TestServiceSurvivesKilledAndStoppedWorkers(t *testing.T) {
	const rescueAfter = 20 * time.Second
	w := newSimWorld(t, graphsim.Config{Seed: 12, Accounts: 9, JobDuration: 15 * time.Second})
	serve := w.start(t, "serve", serveEnv, "serve", "--addr", "127.0.0.1:0")
	base := serve.event(t, "serving", 30*time.Second)["url"].(string)
	workers := map[string]*proc{}
	// The workers of this file's tests (and database_test.go's) run with --sync-budget 0: they
	// exercise report runs (saved, resumed, rescued), by which the planner no longer reads a
	// small run's long range.
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("worker-%d", i)
		workers[id] = w.start(t, id, nil, "--stage-dir", t.TempDir(), "worker", "--id", id, "--sync-budget", "0", "--concurrency", "2",
			"--rescue-after", rescueAfter.String(), "--poll-max", "8s")
	}
	for _, p := range workers {
		p.event(t, "working jobs", 30*time.Second)
	}
	queue := func(body string) (string, time.Time) {
		t.Helper()
		code, b := httpCall(t, "POST", base+"/v1/runs", apiToken, body)
		var a struct {
			RunID string `json:"run_id"`
		}
		if err := json.Unmarshal(b, &a); err != nil || code != http.StatusAccepted {
			t.Fatalf("POST /v1/runs: %d %s", code, b)
		}
		return a.RunID, time.Now()
	}
	run, queued := queue(fmt.Sprintf(`{"as_of": %q, "weeks": %d}`, lastSunday.Format(time.DateOnly), relWeeks))

	// SIGKILL a worker while it holds a job whose report runs are saved.
	var victim string
	for victim == "" {
		for by := range w.heldBy(t, run, true) {
			victim = by
		}
		if time.Since(queued) > time.Minute {
			t.Fatal("no worker ever held a job with its report runs saved")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, _ := workers[victim].stop(t, syscall.SIGKILL, 10*time.Second); code != -1 {
		t.Fatalf("%s killed: exit %d", victim, code)
	}
	killed := time.Now()
	saved := w.reportRunIDs(t, run)
	rescued := w.heldBy(t, run, false)[victim] // River still says running, by the dead worker
	if len(rescued) == 0 {
		t.Fatalf("%s held no job when it died", victim)
	}
	savedOf := map[string]int{}
	for k := range saved {
		savedOf[strings.Fields(k)[0]]++
	}
	t.Logf("%s killed %s after the run was queued, holding %d job(s) (report runs saved: %d of its clients', %d in all)",
		victim, killed.Sub(queued).Round(time.Millisecond), len(rescued), savedOf[rescued[0].client], len(saved))

	// The run ends done within a few minutes; the dead worker's jobs are rescued.
	var rescueDelay time.Duration
	var r apiRun
	for {
		if rescueDelay == 0 {
			for _, h := range rescued {
				if by := w.fetchedBy(t, h.job); len(by) > h.tries && rescueDelay == 0 {
					rescueDelay = time.Since(killed)
					t.Logf("job %d rescued: attempted_by %v", h.job, by)
				}
			}
		}
		if r = getRun(t, base, apiToken, run); r.FinishedAt != nil {
			break
		}
		if time.Since(queued) > 3*time.Minute {
			t.Fatalf("run not over 3 minutes after it was queued: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("run %s %s %s after it was queued; the dead worker's jobs taken again %s after the kill (--rescue-after %s)",
		run, r.State, time.Since(queued).Round(time.Second), rescueDelay.Round(time.Second), rescueAfter)
	if r.State != "done" || len(r.Clients) != 9 {
		t.Fatalf("run: %+v", r)
	}
	if rescueDelay < rescueAfter {
		t.Errorf("taken again %s after the kill, before the rescue delay (%s)", rescueDelay, rescueAfter)
	}
	for _, c := range r.Clients {
		wasRescued := slices.ContainsFunc(rescued, func(h heldJob) bool { return h.client == c.ClientID })
		want := 1
		if wasRescued {
			want = 2
		}
		if c.State != "done" || c.Attempt != want || c.ReportsDone != 5 || c.Error != "" ||
			c.Rows.Inserted == 0 || c.Rows.Updated != 0 {
			// A killed attempt loaded nothing (the load commits with the job): the rescue inserts every row.
			t.Errorf("client %s (rescued %v): %+v, want done on attempt %d, rows inserted and none updated", c.Name, wasRescued, c, want)
		}
	}
	for i, a := range w.Sim.Accounts() {
		e2etest.CheckClient(t, w.Pool, w.Sim, a, w.Clients[i], lastSunday, relWeeks)
	}
	after := w.reportRunIDs(t, run)
	for k, id := range saved {
		if after[k] != id {
			t.Errorf("report run %s: %s saved before the kill, %s after: submitted again", k, id, after[k])
		}
	}
	if len(after) != 9*5 {
		t.Errorf("%d report runs saved, want 45", len(after))
	}
	counters := w.simCounters(t)
	for i, a := range w.Sim.Accounts() {
		n, most := counters.ByAccount[a.ID].ReportRuns, int64(5)
		if slices.ContainsFunc(rescued, func(h heldJob) bool { return h.client == w.Clients[i] }) {
			most = int64(10 - savedOf[w.Clients[i]]) // a submit the kill cut short before it was saved is made again
		}
		if n < 5 || n > most {
			t.Errorf("%s: the simulator served %d submits, want 5..%d", a.Name, n, most)
		}
	}

	// SIGTERM: a one-client run, full so that its weeks are fetched by report runs again (a rerun
	// of the lookback alone is a synchronous read: --sync-weeks); the worker holding its job
	// (report runs saved) is stopped; the other worker, idle, takes the job at once.
	one, queuedOne := queue(fmt.Sprintf(`{"clients": [%q], "as_of": %q, "weeks": %d, "full": true}`, w.Clients[0], lastSunday.Format(time.DateOnly), relWeeks))
	var stopped, left string
	var handed heldJob
	for stopped == "" {
		for by, jobs := range w.heldBy(t, one, true) {
			stopped, handed = by, jobs[0]
		}
		if time.Since(queuedOne) > time.Minute {
			t.Fatal("no worker ever held the one-client run's job with its report runs saved")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for id := range workers {
		if id != victim && id != stopped {
			left = id
		}
	}
	before := w.simCounters(t).ByAccount[w.Sim.Accounts()[0].ID].ReportRuns
	termed := time.Now()
	code, took := workers[stopped].stop(t, syscall.SIGTERM, 30*time.Second)
	if code != 0 || took > 10*time.Second {
		t.Errorf("%s after SIGTERM: exit %d after %s, want 0 within seconds", stopped, code, took)
	}
	var handoff time.Duration
	for handoff == 0 {
		by := w.fetchedBy(t, handed.job)
		if len(by) > handed.tries && by[len(by)-1] == left {
			handoff = time.Since(termed)
		}
		if time.Since(termed) > rescueAfter {
			t.Fatalf("the stopped worker's job %d not taken by %s within the rescue delay: attempted_by %v", handed.job, left, by)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%s stopped by SIGTERM: exit %d after %s; its job taken by %s %s after the signal",
		stopped, code, took.Round(time.Millisecond), left, handoff.Round(time.Millisecond))
	// Handed back, not rescued: River's rescuer would have recorded "Stuck job rescued by
	// JobRescuer" in the job's errors (the loop above bounds the hand-off by the rescue delay;
	// its length under load is no test of it).
	var jobErrors string
	if err := w.Pool.QueryRow(context.Background(), `SELECT coalesce(errors::text, '') FROM river_job WHERE id = $1`, handed.job).Scan(&jobErrors); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(jobErrors, "JobRescuer") {
		t.Errorf("the stopped worker's job %d was rescued, not handed back at SIGTERM (taken %s after the signal): errors %s", handed.job, handoff, jobErrors)
	}
	for r = getRun(t, base, apiToken, one); r.FinishedAt == nil; r = getRun(t, base, apiToken, one) {
		if time.Since(termed) > 2*time.Minute {
			t.Fatalf("the one-client run not over: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c := r.Clients[0]; r.State != "done" || c.Attempt != 1 {
		t.Errorf("the one-client run: %+v, want done on attempt 1 (a stop spends no attempt)", r)
	}
	if n := w.simCounters(t).ByAccount[w.Sim.Accounts()[0].ID].ReportRuns; n != before {
		t.Errorf("%d report runs submitted after SIGTERM, want 0", n-before)
	}

	if t.Failed() {
		rows, _ := w.Pool.Query(context.Background(), `SELECT j.id, cl.name, j.state, j.attempt, j.attempted_by, j.errors::text
			FROM river_job j JOIN service_run_clients c ON c.job_id = j.id JOIN clients cl ON cl.id = c.client_id ORDER BY j.id`)
		for rows.Next() {
			var id int64
			var name, state, errs string
			var attempt int
			var by []string
			_ = rows.Scan(&id, &name, &state, &attempt, &by, &errs)
			t.Logf("job %d %s: %s attempt %d by %v errors %s", id, name, state, attempt, by, errs)
		}
		rows.Close()
	}
	for _, p := range []*proc{workers[left], serve} {
		if code, took := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
			t.Errorf("%s after SIGTERM: exit %d after %s", p.name, code, took)
		}
	}
}

// serve refuses to listen beyond loopback without METAPIPE_API_TOKEN: exit 2 naming the
// variable, before it touches the database; on loopback it needs none, and with the token it
// listens anywhere.
func TestServeNeedsATokenBeyondLoopback(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 1, Seed: 3})
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.10:8080", "metapipe.example:8080"} {
		res := w.run(t, []string{"DATABASE_URL=postgres://u:pw@127.0.0.1:1/x?connect_timeout=1"}, "serve", "--addr", addr)
		if res.code != 2 || !strings.Contains(res.stderr, "METAPIPE_API_TOKEN") || !strings.Contains(res.stderr, "loopback") {
			t.Errorf("serve --addr %s without a token: exit %d, want 2 naming METAPIPE_API_TOKEN:\n%s", addr, res.code, res.stderr)
		}
	}
	// A container platform's PORT, without --addr, is 0.0.0.0:$PORT: beyond loopback too.
	if res := w.run(t, []string{"DATABASE_URL=postgres://u:pw@127.0.0.1:1/x?connect_timeout=1", "PORT=18093"}, "serve"); res.code != 2 ||
		!strings.Contains(res.stderr, "0.0.0.0:18093") || !strings.Contains(res.stderr, "METAPIPE_API_TOKEN") {
		t.Errorf("serve with PORT=18093 and no --addr, no token: exit %d, want 2 naming 0.0.0.0:18093:\n%s", res.code, res.stderr)
	}
	// --schedule on a serve that works no job would never queue anything: refused.
	if res := w.run(t, []string{"DATABASE_URL=postgres://u:pw@127.0.0.1:1/x?connect_timeout=1"}, "serve", "--schedule", "15 6 * * *"); res.code != 2 ||
		!strings.Contains(res.stderr, "--schedule needs --worker") {
		t.Errorf("serve --schedule without --worker: exit %d, want 2:\n%s", res.code, res.stderr)
	}
	for _, weak := range []string{"short-tok-99", "    ", " " + apiToken} {
		res := w.run(t, []string{"DATABASE_URL=postgres://u:pw@127.0.0.1:1/x?connect_timeout=1", "METAPIPE_API_TOKEN=" + weak},
			"serve", "--addr", "127.0.0.1:0")
		if res.code != 2 || !strings.Contains(res.stderr, "METAPIPE_API_TOKEN is too weak") ||
			(strings.TrimSpace(weak) != "" && strings.Contains(res.stderr, strings.TrimSpace(weak))) {
			t.Errorf("serve with METAPIPE_API_TOKEN %q: exit %d, want 2 saying it is too weak, without it:\n%s", weak, res.code, res.stderr)
		}
	}
	for _, tc := range []struct {
		addr string
		env  []string
	}{{"127.0.0.1:0", nil}, {"localhost:0", nil}, {"[::1]:0", nil}, {"0.0.0.0:0", serveEnv}, {"", append([]string{"PORT=0"}, serveEnv...)}} {
		args := []string{"serve", "--addr", tc.addr}
		if tc.addr == "" {
			args = args[:1] // PORT=0: 0.0.0.0 on a free port
		}
		p := w.start(t, "serve "+tc.addr, tc.env, args...)
		url := p.event(t, "serving", 30*time.Second)["url"].(string)
		if code, body := httpCall(t, "GET", strings.Replace(url, "0.0.0.0", "127.0.0.1", 1)+"/healthz", "", ""); code != http.StatusOK {
			t.Errorf("serve --addr %s: /healthz %d %s", tc.addr, code, body)
		}
		if code, _ := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
			t.Errorf("serve --addr %s: exit %d after SIGTERM", tc.addr, code)
		}
	}
}

// A worker's --metrics-addr: beyond loopback without METAPIPE_API_TOKEN it is exit 2 before
// the database is touched; on loopback it serves /metrics without a token; elsewhere, with the
// token, scrapes must send it.
func TestWorkerMetricsAddr(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 1, Seed: 3})
	res := w.run(t, []string{"DATABASE_URL=postgres://u:pw@127.0.0.1:1/x?connect_timeout=1"}, "worker", "--metrics-addr", "0.0.0.0:0")
	if res.code != 2 || !strings.Contains(res.stderr, "METAPIPE_API_TOKEN") || !strings.Contains(res.stderr, "--metrics-addr") {
		t.Errorf("worker --metrics-addr 0.0.0.0:0 without a token: exit %d, want 2 naming METAPIPE_API_TOKEN:\n%s", res.code, res.stderr)
	}
	for _, tc := range []struct {
		addr string
		env  []string
	}{{"127.0.0.1:0", nil}, {"0.0.0.0:0", serveEnv}} {
		p := w.start(t, "worker "+tc.addr, tc.env, "worker", "--metrics-addr", tc.addr)
		url := strings.Replace(p.event(t, "serving metrics", 30*time.Second)["url"].(string), "0.0.0.0", "127.0.0.1", 1)
		code, body := httpCall(t, "GET", url, "", "")
		if tc.env == nil && (code != http.StatusOK || !strings.Contains(string(body), `metapipe_clients{state="never_run"} 1`)) {
			t.Errorf("%s: /metrics %d, want 200 with the client never run:\n%.300s", tc.addr, code, body)
		}
		if tc.env != nil {
			if code != http.StatusUnauthorized {
				t.Errorf("%s: /metrics without the token %d, want 401", tc.addr, code)
			}
			if code, body := httpCall(t, "GET", url, apiToken, ""); code != http.StatusOK || !strings.Contains(string(body), "metapipe_river_jobs") {
				t.Errorf("%s: /metrics with the token %d:\n%.300s", tc.addr, code, body)
			}
		}
		if code, _ := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
			t.Errorf("worker %s: exit %d after SIGTERM", tc.addr, code)
		}
	}
}

// enqueue prints the run's id and, with --wait, follows it and exits like run: 0 done, 1
// partial or failed, 2 a usage error, 3 the same clients and as-of date already queued or
// running (naming that run), 130 a run interrupted (its job cancelled in River's UI) or the
// wait itself interrupted (SIGINT), the run going on.
func TestEnqueueExitCodes(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 3, Seed: 4, JobDuration: 300 * time.Millisecond})
	names := make([]string, 3)
	for i, a := range w.Sim.Accounts() {
		names[i] = "Demo " + a.Name
	}
	ctx := context.Background()
	if _, err := w.Pool.Exec(ctx, `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, w.Clients[1]); err != nil {
		t.Fatal(err)
	}
	worker := w.start(t, "worker", nil, "worker", "--sync-budget", "0", "--concurrency", "2", "--inline-wait", "100ms", "--poll-first", "150ms", "--poll-max", "400ms")
	worker.event(t, "working jobs", 30*time.Second)
	asOf := lastSunday.Format(time.DateOnly)
	enqueue := func(args ...string) result {
		t.Helper()
		return w.run(t, nil, append([]string{"enqueue", "--as-of", asOf, "--weeks", "4"}, args...)...)
	}
	// The last event is run_finished in run's shape: status, exit code, the clients that failed
	// by name; the service's view of the run beside them.
	finished := func(res result) map[string]any {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		var m map[string]any
		if json.Unmarshal([]byte(lines[len(lines)-1]), &m) == nil && m["msg"] == "run_finished" {
			run, _ := m["run"].(map[string]any)
			clients, _ := m["clients"].(map[string]any)
			if run == nil || m["status"] != run["state"] || m["exit_code"] != float64(res.code) || clients == nil {
				t.Errorf("run_finished %v: want run's shape (status, exit_code %d, clients)", m, res.code)
				return run
			}
			var failed []string
			for _, c := range run["clients"].([]any) {
				if c := c.(map[string]any); c["state"] == "failed" {
					failed = append(failed, c["name"].(string))
				}
			}
			if got := fmt.Sprint(clients["failed_names"]); got != fmt.Sprint(failed) || clients["failed"] != float64(len(failed)) {
				t.Errorf("run_finished clients %v, want failed_names %v", clients, failed)
			}
			if res.code != 0 && !strings.Contains(fmt.Sprint(m["error"]), fmt.Sprint(strings.Join(failed, ", "))) {
				t.Errorf("run_finished error %v does not name %v", m["error"], failed)
			}
			return run
		}
		t.Fatalf("no run_finished event (exit %d):\n%s%s", res.code, res.stdout, res.stderr)
		return nil
	}
	for _, tc := range []struct {
		name    string
		clients []string
		code    int
		state   string
	}{
		{"all done", []string{names[0]}, 0, "done"},
		{"the only client's token refused", []string{names[1]}, 1, "failed"},
		{"one of two refused", []string{names[1], names[2]}, 1, "partial"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--wait"}
			for _, c := range tc.clients {
				args = append(args, "--client", c)
			}
			res := enqueue(args...)
			run := finished(res)
			if res.code != tc.code || run["state"] != tc.state {
				t.Errorf("exit %d, state %v; want %d and %s:\n%s", res.code, run["state"], tc.code, tc.state, res.stderr)
			}
			// Each client's rows counted apart, as run's: a first load inserts every row.
			for _, c := range run["clients"].([]any) {
				c := c.(map[string]any)
				rows, _ := c["rows"].(map[string]any)
				var n int64
				_ = w.Pool.QueryRow(ctx, `SELECT count(*) FROM campaign_summaries WHERE client_id = $1`, c["client_id"]).Scan(&n)
				want := map[string]any{"inserted": float64(n), "updated": 0.0, "unchanged": 0.0, "confirmed": 0.0, "kept": 0.0, "deleted": 0.0}
				if !maps.Equal(rows, want) || (c["state"] == "done") != (n > 0) {
					t.Errorf("client %v: rows %v, want %v", c["name"], c["rows"], want)
				}
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		say  string
	}{
		{"bad as-of", []string{"--as-of", "yesterday"}, "--as-of"},
		{"future as-of", []string{"--as-of", time.Now().AddDate(0, 0, 3).Format(time.DateOnly)}, "--as-of"},
		{"unknown client", []string{"--client", "Nobody"}, "Nobody"},
		{"weeks out of range", []string{"--weeks", "500"}, "weeks: allowed range 1 to 160"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := enqueue(append(tc.args, "--wait")...); res.code != 2 || !strings.Contains(res.stderr, tc.say) {
				t.Errorf("exit %d, want 2 naming %s:\n%s", res.code, tc.say, res.stderr)
			}
		})
	}

	// Without a worker, runs stay queued.
	if code, took := worker.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("worker after SIGTERM: exit %d after %s", code, took)
	}
	t.Run("the same run queued twice", func(t *testing.T) {
		first := enqueue("--client", names[2], "--as-of", lastSunday.AddDate(0, 0, -7).Format(time.DateOnly))
		var ev map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(first.stdout)), &ev); first.code != 0 || err != nil || ev["msg"] != "run_queued" {
			t.Fatalf("first: exit %d\n%s%s", first.code, first.stdout, first.stderr)
		}
		again := enqueue("--client", w.Clients[2], "--as-of", lastSunday.AddDate(0, 0, -7).Format(time.DateOnly))
		if again.code != 3 || !strings.Contains(again.stderr, ev["run_id"].(string)) {
			t.Errorf("again: exit %d, want 3 naming %v:\n%s", again.code, ev["run_id"], again.stderr)
		}
	})
	t.Run("the wait interrupted", func(t *testing.T) {
		p := w.start(t, "enqueue --wait", nil, "enqueue", "--wait", "--client", names[0], "--as-of", lastSunday.AddDate(0, 0, -14).Format(time.DateOnly))
		id := p.event(t, "run_queued", 30*time.Second)["run_id"].(string)
		code, _ := p.stop(t, syscall.SIGINT, 30*time.Second)
		if code != 130 || !strings.Contains(p.err.String(), "it goes on") || !strings.Contains(p.err.String(), id) {
			t.Errorf("exit %d, want 130 saying run %s goes on:\n%s", code, id, p.err.String())
		}
		if r := w.count(t, `SELECT count(*) FROM service_run_clients WHERE run_id = $1 AND state = 'queued'`, id); r != 1 {
			t.Errorf("the run after the wait was interrupted: %d clients queued, want 1", r)
		}
	})
	t.Run("the run interrupted in River's UI", func(t *testing.T) {
		serve := w.start(t, "serve", serveEnv, "serve", "--addr", "127.0.0.1:0")
		base := serve.event(t, "serving", 30*time.Second)["url"].(string)
		p := w.start(t, "enqueue --wait", nil, "enqueue", "--wait", "--client", names[0], "--as-of", lastSunday.AddDate(0, 0, -21).Format(time.DateOnly))
		id := p.event(t, "run_queued", 30*time.Second)["run_id"].(string)
		job := w.count(t, `SELECT job_id FROM service_run_clients WHERE run_id = $1`, id)
		if code, body := httpCall(t, "POST", base+"/riverui/api/jobs/cancel", apiToken, fmt.Sprintf(`{"ids": ["%d"]}`, job)); code != http.StatusOK {
			t.Fatalf("cancel: %d %s", code, body)
		}
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Fatal("enqueue --wait still runs 30 s after its run's job was cancelled")
		}
		var ee *exec.ExitError
		if !errors.As(p.exit, &ee) || ee.ExitCode() != 130 {
			t.Errorf("exit %v, want 130:\n%s", p.exit, p.err.String())
		}
		if run := finished(result{stdout: p.out.String(), code: 130}); run["state"] != "interrupted" {
			t.Errorf("state %v, want interrupted", run["state"])
		}
	})
}

// The service's processes with recognisable secrets (the default Meta token, a client's own,
// one Meta answers with an error that echoes it, the database password, the API token): none
// of them appears in serve's or enqueue's output (debug level), in any answer of the API, the
// pages or River's UI, or in River's jobs and the service's tables.
func TestServiceSecretsNeverLeak(t *testing.T) {
	w, dbURL := secretWorld(t)
	ctx := context.Background()
	env := []string{"DATABASE_URL=" + dbURL, "META_ACCESS_TOKEN=" + envToken, "METAPIPE_API_TOKEN=" + apiToken}
	serve := w.start(t, "serve", env, "--verbose", "serve", "--worker", "--addr", "127.0.0.1:0", "--inline-wait", "100ms",
		"--poll-first", "150ms", "--poll-max", "400ms", "--page-size", "25")
	base := serve.event(t, "serving", 30*time.Second)["url"].(string)
	enq := w.start(t, "enqueue", env, "--verbose", "enqueue", "--wait", "--as-of", lastSunday.Format(time.DateOnly), "--weeks", "13", "--full")
	id := enq.event(t, "run_queued", 30*time.Second)["run_id"].(string)
	select {
	case <-enq.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("enqueue --wait not over after 2 minutes")
	}
	var out strings.Builder
	add := func(what string, b []byte) { out.WriteString("\n== " + what + "\n" + string(b)) }
	for _, path := range []string{"/v1/runs/" + id, "/v1/runs", "/runs", "/runs/" + id, "/login",
		"/riverui/api/jobs?state=completed", "/riverui/api/jobs?state=cancelled", "/riverui/api/jobs?state=discarded",
		"/riverui/api/jobs?state=available", "/riverui/api/jobs?state=retryable", "/riverui/api/queues"} {
		code, body := httpCall(t, "GET", base+path, apiToken, "")
		if code != http.StatusOK {
			t.Errorf("GET %s: %d", path, code)
		}
		add(path, body)
	}
	code, body := httpCall(t, "POST", base+"/v1/runs", apiToken, `{"clients": ["Nobody"]}`)
	add("POST /v1/runs", body)
	if code != http.StatusBadRequest {
		t.Errorf("POST an unknown client: %d", code)
	}
	for _, j := range []int{1, 2, 3} {
		_, body := httpCall(t, "GET", fmt.Sprintf("%s/riverui/api/jobs/%d", base, j), apiToken, "")
		add("job", body)
	}
	if code, _ := serve.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Errorf("serve after SIGTERM: exit %d", code)
	}
	add("serve stdout", []byte(serve.out.String()))
	add("serve stderr", []byte(serve.err.String()))
	add("enqueue stdout", []byte(enq.out.String()))
	add("enqueue stderr", []byte(enq.err.String()))
	for _, table := range []string{"river_job", "service_runs", "service_run_clients", "service_report_runs", "ad_account_throttle", "river_queue", "river_leader"} {
		var s string
		if err := w.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM `+table+` t`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		add(table, []byte(s))
	}
	all := out.String()
	for _, want := range []string{"[redacted]", `"state": "partial"`, "190", "metapipe_client_run"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in what was collected: the test would not see a leak there", want)
		}
	}
	for _, s := range append(canaries, apiToken) {
		if i := strings.Index(all, s); i >= 0 {
			t.Errorf("%s leaked: …%s…", s, all[max(0, i-300):min(len(all), i+80)])
		}
	}
}

// metapipe run (cron, Airflow) and the service's jobs share the per-client run locks: a run
// that finds a client's job working it stops at once with exit 3 naming the client, and a job
// whose client a run holds waits (snoozes) until the run is over, then finishes; both end
// with the simulator's truth.
func TestRunAndJobsKeepApart(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 1, Seed: 6, JobDuration: 5 * time.Second})
	name := "Demo " + w.Sim.Accounts()[0].Name
	// A worker that waits for Meta inside its attempts holds the client's lock for seconds.
	worker := w.start(t, "worker", nil, "worker", "--sync-budget", "0", "--concurrency", "1", "--inline-wait", "30s", "--poll-first", "200ms", "--poll-max", "400ms")
	worker.event(t, "working jobs", 30*time.Second)
	enq := w.run(t, nil, "enqueue", "--client", name, "--as-of", lastSunday.Format(time.DateOnly), "--weeks", "13")
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(enq.stdout)), &ev); err != nil || enq.code != 0 {
		t.Fatalf("enqueue: exit %d %s%s", enq.code, enq.stdout, enq.stderr)
	}
	id := ev["run_id"].(string)
	deadline := time.Now().Add(30 * time.Second)
	for w.count(t, `SELECT count(*) FROM river_job WHERE state = 'running'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the job never ran")
		}
		time.Sleep(10 * time.Millisecond)
	}
	res := w.run(t, nil, runArgs("--weeks", "13")...)
	if res.code != 3 || !strings.Contains(res.stderr, "another run holds") || !strings.Contains(res.stderr, name) {
		t.Errorf("run while a job holds the client: exit %d, want 3 naming %s:\n%s", res.code, name, res.stderr)
	}
	for r := w.count(t, `SELECT count(*) FROM service_runs WHERE id = $1 AND finished_at IS NULL`, id); r == 1; r = w.count(t, `SELECT count(*) FROM service_runs WHERE id = $1 AND finished_at IS NULL`, id) {
		if time.Now().After(deadline.Add(time.Minute)) {
			t.Fatal("the job's run not over")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Now the other way round: a run holds the client, the job waits for it.
	run := w.cmd(nil, runArgs("--weeks", "13", "--full")...)
	var runErr e2etest.Buffer
	run.Stderr = &runErr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	for w.count(t, `SELECT count(*) FROM metapipe_locks WHERE name LIKE 'run:%' AND expires_at > now()`) == 0 { // the run's lock
		if run.ProcessState != nil || time.Now().After(deadline.Add(2*time.Minute)) {
			t.Fatalf("the run never held the client:\n%s", runErr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	p := w.start(t, "enqueue --wait", nil, "enqueue", "--wait", "--client", name, "--as-of", lastSunday.Format(time.DateOnly), "--weeks", "13", "--full")
	id = p.event(t, "run_queued", 30*time.Second)["run_id"].(string)
	waited := false
	for !waited {
		waited = w.count(t, `SELECT count(*) FROM service_run_clients WHERE run_id = $1 AND state = 'waiting' AND error = 'another run holds the client'`, id) == 1
		select {
		case <-p.done:
			t.Fatalf("the job ended without waiting for the run: %s", p.out.String())
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := run.Wait(); err != nil {
		t.Fatalf("run: %v\n%s", err, runErr.String())
	}
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the job's run not over 2 minutes after the run released the client")
	}
	if p.exit != nil {
		t.Errorf("enqueue --wait: %v\n%s", p.exit, p.err.String())
	}
	// The worker said how long the job snoozed, in seconds (slog's default is nanoseconds).
	snoozed := false
	for _, l := range strings.Split(worker.err.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "client held by another run: snoozing" {
			snoozed = true
			if m["for_seconds"] != float64(15) || m["for"] != nil {
				t.Errorf("snoozing line %v, want for_seconds 15", m)
			}
		}
	}
	if !snoozed {
		t.Errorf("the worker never said it snoozed:\n%s", tail(worker.err.String(), 2000))
	}
	w.checkTruth(t)
}

// One history: a run of metapipe run, as cron or Airflow starts it, is in the service's
// tables, so that serve's /runs page and GET /v1/runs show it (source "run", partial, the
// failed client with Meta's code); status says it shows the newest run and, with --exit-code,
// exits as the run ended.
func TestCronRunInTheServiceHistory(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 2, Seed: 3, JobDuration: 150 * time.Millisecond})
	if _, err := w.Pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, w.Clients[0]); err != nil {
		t.Fatal(err)
	}
	res := w.run(t, nil, runArgs("--weeks", "6")...)
	if res.code != 1 {
		t.Fatalf("run: exit %d, want 1 (one client refused):\n%s", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	var fin map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &fin); err != nil || fin["run_id"] == nil {
		t.Fatalf("no run_finished event: %v\n%s", err, res.stdout)
	}
	runID := fin["run_id"].(string)
	failedName, loadedName := "Demo "+w.Sim.Accounts()[0].Name, "Demo "+w.Sim.Accounts()[1].Name

	serve := w.start(t, "serve", serveEnv, "serve", "--addr", "127.0.0.1:0")
	base := serve.event(t, "serving", 30*time.Second)["url"].(string)

	code, body := httpCall(t, "GET", base+"/v1/runs", apiToken, "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/runs: %d %s", code, body)
	}
	var runs struct {
		Runs []struct {
			apiRun
			Source    string `json:"source"`
			Weeks     int    `json:"weeks"`
			AsOf      string `json:"as_of"`
			AsOfGiven bool   `json:"as_of_given"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(body, &runs); err != nil || len(runs.Runs) != 1 {
		t.Fatalf("GET /v1/runs: %v, want the one run:\n%s", err, body)
	}
	r := runs.Runs[0]
	if r.RunID != runID || r.Source != "run" || r.State != "partial" || r.Weeks != 6 || !r.AsOfGiven ||
		r.AsOf != lastSunday.Format(time.DateOnly) || r.apiRun.FinishedAt == nil {
		t.Errorf("GET /v1/runs: %s, want run %s, source run, partial, 6 weeks as of %s, finished", body, runID, lastSunday.Format(time.DateOnly))
	}
	if len(r.Clients) != 2 {
		t.Fatalf("clients %+v, want 2", r.Clients)
	}
	for _, c := range r.Clients {
		switch c.Name {
		case failedName:
			if c.State != "failed" || !strings.Contains(c.Error, "190") {
				t.Errorf("%s: %+v, want failed with Meta's code 190", c.Name, c)
			}
		case loadedName:
			if c.State != "done" || c.ReportsDone != 5 || c.Error != "" {
				t.Errorf("%s: %+v, want done, 5 report kinds", c.Name, c)
			}
		default:
			t.Errorf("unknown client %+v", c)
		}
	}
	if got := getRun(t, base, apiToken, runID); got.State != "partial" {
		t.Errorf("GET /v1/runs/%s: %s, want partial", runID, got.State)
	}
	code, page := httpCall(t, "GET", base+"/runs", apiToken, "")
	if code != http.StatusOK || !strings.Contains(string(page), runID) {
		t.Errorf("GET /runs: %d, run %s not on it:\n%s", code, runID, page)
	}
	code, page = httpCall(t, "GET", base+"/runs/"+runID, apiToken, "")
	if code != http.StatusOK || !strings.Contains(string(page), failedName) || !strings.Contains(string(page), "190") {
		t.Errorf("GET /runs/%s: %d, the failed client and its error not on it:\n%s", runID, code, page)
	}
	// /metrics counts it with the service's runs, and its clients by their state.
	code, metrics := httpCall(t, "GET", base+"/metrics", apiToken, "")
	for _, want := range []string{`metapipe_runs_finished_total{state="partial"} 1`, `metapipe_clients{state="failed"} 1`, `metapipe_clients{state="done"} 1`} {
		if code != http.StatusOK || !strings.Contains(string(metrics), want) {
			t.Errorf("GET /metrics: %d, no %s", code, want)
		}
	}
	// The client pages show it: the refused client's page names the run and Meta's code.
	code, page = httpCall(t, "GET", base+"/clients/"+w.Clients[0], apiToken, "")
	if code != http.StatusOK || !strings.Contains(string(page), runID) || !strings.Contains(string(page), "190") {
		t.Errorf("GET /clients/%s: %d, run %s or code 190 not on it", w.Clients[0], code, runID)
	}
	if code, _ := serve.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Errorf("serve after SIGTERM: exit %d", code)
	}

	st := w.run(t, nil, "--log-format", "text", "status", "--exit-code")
	if st.code != 1 || !strings.Contains(st.stdout, "the newest run in") || !strings.Contains(st.stdout, "finished partial") {
		t.Errorf("status --exit-code: exit %d, want 1, saying it shows the newest run, finished partial:\n%s%s", st.code, st.stdout, st.stderr)
	}
	if st := w.run(t, nil, "status"); st.code != 0 {
		t.Errorf("status without --exit-code: exit %d, want 0", st.code)
	}
	// The refused client fixed, the next run resumes the partial one (the same as-of and
	// clients): the same history row, now done, exit 0.
	if _, err := w.Pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = NULL WHERE id = $1`, w.Clients[0]); err != nil {
		t.Fatal(err)
	}
	if res := w.run(t, nil, runArgs("--weeks", "6")...); res.code != 0 {
		t.Fatalf("second run: exit %d\n%s", res.code, res.stderr)
	}
	if st := w.run(t, nil, "status", "--exit-code"); st.code != 0 {
		t.Errorf("status --exit-code after a run done: exit %d, want 0\n%s", st.code, st.stdout)
	}
	if n := w.count(t, `SELECT count(*) FROM service_runs`); n != 1 {
		t.Errorf("%d runs in the history, want 1 (the resumed run is the same)", n)
	}
	if n := w.count(t, `SELECT count(*) FROM service_run_clients c JOIN service_runs r ON r.id = c.run_id
		WHERE r.id = $1 AND r.source = 'run' AND r.finished_at IS NOT NULL AND c.state = 'done' AND c.error = '' AND c.attempt = 2`, runID); n != 2 {
		t.Errorf("%d clients of run %s done at its attempt 2, want both", n, runID)
	}
}

// enqueue --wait follows its run through a database that refuses connections for a while (a
// restart, a failover): it says it tries again, and ends as the run does, exit 0, not 1.
func TestEnqueueWaitOutlastsADatabaseOutage(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 1, Seed: 4, JobDuration: 2 * time.Second})
	worker := w.start(t, "worker", nil, "worker", "--sync-budget", "0", "--concurrency", "2", "--inline-wait", "100ms", "--poll-first", "150ms", "--poll-max", "400ms")
	worker.event(t, "working jobs", 30*time.Second)
	wait := w.start(t, "enqueue", nil, "enqueue", "--as-of", lastSunday.Format(time.DateOnly), "--weeks", "20", "--full", "--wait")
	wait.event(t, "run_queued", 30*time.Second)

	restore := pgtest.RefuseConnections(t, w.DBURL)
	wait.event(t, "reading the run failed; trying again", 30*time.Second)
	restore()
	select {
	case <-wait.done:
	case <-time.After(3 * time.Minute):
		t.Fatal("enqueue --wait did not end")
	}
	if wait.exit != nil {
		t.Fatalf("enqueue --wait: %v, want exit 0:\n%s", wait.exit, tail(wait.err.String(), 3000))
	}
	if !strings.Contains(wait.out.String(), `"state":"done"`) {
		t.Errorf("run_finished does not say done:\n%s", tail(wait.out.String(), 2000))
	}
}
