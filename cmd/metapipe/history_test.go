package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
)

// One history: a run of metapipe run, as cron or Airflow starts it, is in the service's
// tables, so that serve's /runs page and GET /v1/runs show it (source "run", partial, the
// failed client with Meta's code); status says it shows the newest run and, with --exit-code,
// exits as the run ended.
func TestCronRunInTheServiceHistory(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 2, Seed: 3, JobDuration: 150 * time.Millisecond})
	if _, err := w.pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, w.ids[0]); err != nil {
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
	failedName, loadedName := "Demo "+w.sim.Accounts()[0].Name, "Demo "+w.sim.Accounts()[1].Name

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
	code, page = httpCall(t, "GET", base+"/clients/"+w.ids[0], apiToken, "")
	if code != http.StatusOK || !strings.Contains(string(page), runID) || !strings.Contains(string(page), "190") {
		t.Errorf("GET /clients/%s: %d, run %s or code 190 not on it", w.ids[0], code, runID)
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
	if _, err := w.pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = NULL WHERE id = $1`, w.ids[0]); err != nil {
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
