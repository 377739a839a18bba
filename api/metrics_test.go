package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/metapipe/metapipe/graphsim"
)

// families parses a scrape in Prometheus's text format.
func families(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not Prometheus's text format: %v\n%.500s", err, body)
	}
	return fams
}

// sample is one series of a family: its labels (name=value, sorted, comma-joined) and its
// value (a histogram's count).
func samples(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.Metric {
		var ls []string
		for _, l := range m.Label {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		var v float64
		switch {
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		}
		out[strings.Join(ls, ",")] += v
	}
	return out
}

// /metrics scraped after a run with a failed client (a token Meta refuses) and a throttled
// one: the runs by state, the clients by state, each loaded client's last success (and none for
// the failed one), the Graph API requests by kind and answer class (the refusal counted as
// auth, the throttling as throttled), seconds throttled, the report runs' durations, the rows
// written (what the API says the run loaded), the attempts by outcome and River's queue depth
// (empty after the run). The metapipe_ names pass client_golang's lint (Prometheus's naming
// conventions). Without the token /metrics is 401.
func TestMetricsAfterARunWithAFailedClient(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 3})
	ctx := context.Background()
	refused := e.Clients[2]
	if _, err := e.Pool.Exec(ctx, `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, refused); err != nil {
		t.Fatal(err)
	}
	e.Sim.SetFaults(e.Sim.Accounts()[1].ID, graphsim.Faults{ThrottleEvery: 4, RegainMinutes: 1})
	svc := e.open(t, "worker-1", 2)
	base := e.serve(t, svc)

	if a := call(t, noRedirect, "GET", base+"/metrics", "", ""); a.status != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", a.status)
	}
	// Before any run: every series of the fleet's state present, at 0.
	before := families(t, get(t, base, "/metrics").body)
	if got := samples(before, "metapipe_clients"); got["state=never_run"] != 3 || got["state=done"] != 0 {
		t.Errorf("before any run metapipe_clients = %v, want 3 never_run", got)
	}

	a := post(t, base, fmt.Sprintf(`{"as_of": %q, "weeks": 8}`, lastSunday.Format(time.DateOnly)))
	if a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	run := waitRun(t, base, a.json(t)["run_id"].(string), 2*time.Minute)
	if run.State != "partial" {
		t.Fatalf("run %s, want partial (one refused token): %+v", run.State, run)
	}
	rows := 0
	for _, c := range run.Clients {
		rows += int(c.Rows.Inserted)
	}
	// The run is over once its last client's rows are committed; the worker counts that
	// attempt right after: scrape until the three attempts are counted.
	var scrape answer
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		scrape = get(t, base, "/metrics")
		if scrape.status != http.StatusOK || !strings.HasPrefix(scrape.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("/metrics: %d %s", scrape.status, scrape.header.Get("Content-Type"))
		}
		fams = families(t, scrape.body)
		at := samples(fams, "metapipe_client_attempts_total")
		if at["outcome=loaded"]+at["outcome=failed"] >= 3 || time.Now().After(deadline) {
			break
		}
	}
	want := func(name string, want map[string]float64) {
		t.Helper()
		got := samples(fams, name)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s{%s} = %v, want %v (all: %v)", name, k, got[k], v, got)
			}
		}
	}
	want("metapipe_runs_finished_total", map[string]float64{"state=partial": 1, "state=done": 0, "state=failed": 0, "state=interrupted": 0})
	want("metapipe_runs_in_progress", map[string]float64{"state=queued": 0, "state=running": 0})
	want("metapipe_clients", map[string]float64{"state=done": 2, "state=failed": 1, "state=never_run": 0, "state=queued": 0})
	want("metapipe_river_jobs", map[string]float64{"state=available": 0, "state=running": 0, "state=retryable": 0, "state=scheduled": 0})
	want("metapipe_load_rows_total", map[string]float64{"outcome=inserted": float64(rows), "outcome=updated": 0})
	want("metapipe_client_attempts_total", map[string]float64{"outcome=loaded": 2, "outcome=failed": 1})
	if rows == 0 {
		t.Error("the run loaded no row")
	}

	last := samples(fams, "metapipe_client_last_success_timestamp_seconds")
	if len(last) != 2 {
		t.Errorf("last successes for %d clients, want the 2 loaded: %v", len(last), last)
	}
	for _, c := range run.Clients {
		v, ok := last["client="+c.Name+",client_id="+c.ClientID]
		switch {
		case c.ClientID == refused && ok:
			t.Errorf("the refused client %s has a last success %v", c.Name, v)
		case c.ClientID != refused && (!ok || v < float64(run.CreatedAt.Unix()) || v > float64(time.Now().Unix()+1)):
			t.Errorf("client %s: last success %v, want within the run (%d..now)", c.Name, v, run.CreatedAt.Unix())
		}
	}

	graph := samples(fams, "metapipe_graph_requests_total")
	if graph["class=auth,kind=account"]+graph["class=auth,kind=submit"] < 1 {
		t.Errorf("no refused request counted as auth: %v", graph)
	}
	if graph["class=throttled,kind=submit"]+graph["class=throttled,kind=poll"]+graph["class=throttled,kind=results"] < 1 {
		t.Errorf("no throttled request counted: %v", graph)
	}
	if graph["class=ok,kind=submit"] < 10 || graph["class=ok,kind=results"] < 10 || graph["class=ok,kind=account"] < 2 {
		t.Errorf("fewer answered requests than 2 clients' 5 report runs and accounts: %v", graph)
	}
	if th := samples(fams, "metapipe_graph_throttle_wait_seconds_total")[""]; th <= 0 {
		t.Errorf("metapipe_graph_throttle_wait_seconds_total = %v after a throttled client, want > 0", th)
	}
	durations := 0.0
	for k, n := range samples(fams, "metapipe_report_run_duration_seconds") {
		if !strings.Contains(k, "status=completed") {
			t.Errorf("a report run ended %s", k)
		}
		durations += n
	}
	if durations < 10 {
		t.Errorf("%v report run durations observed, want at least the 2 loaded clients' 5 kinds", durations)
	}
	if h := fams["metapipe_report_run_duration_seconds"]; h != nil && h.Metric[0].Histogram.GetSampleSum() <= 0 {
		t.Errorf("report run durations sum to %v s", h.Metric[0].Histogram.GetSampleSum())
	}

	// Prometheus's naming conventions (units, _total on counters, help), by client_golang's lint.
	problems, err := testutil.GatherAndLint(svc.Metrics().Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "metapipe_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
	if strings.Contains(string(scrape.body), graphsim.DemoToken) || strings.Contains(string(scrape.body), graphsim.ExpiredToken) ||
		strings.Contains(string(scrape.body), e.DBURL) {
		t.Error("the scrape holds a token or the database URL")
	}
}
