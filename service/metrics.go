package service

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// Metrics are a service process's Prometheus metrics (prometheus/client_golang), in a
// registry of the process's own. Two sorts:
//
//   - read from PostgreSQL at each scrape, the same on every process of a fleet (scrape one,
//     or aggregate with max): metapipe_runs_in_progress, metapipe_runs_finished_total,
//     metapipe_clients, metapipe_client_last_success_timestamp_seconds,
//     metapipe_notify_deliveries_undelivered, metapipe_river_jobs;
//   - counted by this process as it works jobs (sum them over the fleet):
//     metapipe_graph_requests_total, metapipe_graph_throttle_wait_seconds_total,
//     metapipe_report_run_duration_seconds, metapipe_load_rows_total,
//     metapipe_client_attempts_total;
//
// and Go's and the process's own (go_*, process_*). README's "Metrics" lists them.
type Metrics struct {
	reg           *prometheus.Registry
	graphRequests *prometheus.CounterVec
	throttleWait  prometheus.Counter
	reportRuns    *prometheus.HistogramVec
	rows          *prometheus.CounterVec
	attempts      *prometheus.CounterVec
}

// The label values of metapipe_client_attempts_total{outcome}.
const (
	attemptLoaded      = "loaded"      // the client's rows are in
	attemptSnoozed     = "snoozed"     // it waits on Meta or on another run
	attemptRetried     = "retried"     // failed; River tries again
	attemptFailed      = "failed"      // failed for good
	attemptInterrupted = "interrupted" // its job was cancelled
	attemptStopped     = "stopped"     // the worker stopped; the job went back to the queue
)

// newMetrics makes the process's counters; Open registers the PostgreSQL collector.
func newMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		graphRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "metapipe_graph_requests_total",
			Help: "Graph API requests (attempts) this process made, by kind (submit, poll, results, sync, account) and answer class (ok, or the error's class: throttled, transient, auth, fatal, too_large, not_ready)."},
			[]string{"kind", "class"}),
		throttleWait: prometheus.NewCounter(prometheus.CounterOpts{Name: "metapipe_graph_throttle_wait_seconds_total",
			Help: "Seconds this process's jobs waited before Graph API requests because Meta throttled the ad account."}),
		reportRuns: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "metapipe_report_run_duration_seconds",
			Help:    "Seconds from a report run's submit to its end (completed, failed, stuck or expired), by report kind and end status, as this process saw it end.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600}},
			[]string{"kind", "status"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "metapipe_load_rows_total",
			Help: "Weekly summary rows this process's loads met, by outcome: inserted and updated (written), unchanged, kept (stored figures as of a later date)."},
			[]string{"outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "metapipe_client_attempts_total",
			Help: "Client job attempts this process worked, by outcome: loaded, snoozed, retried, failed, interrupted, stopped."},
			[]string{"outcome"}),
	}
	for _, k := range pipeline.CallKinds {
		m.graphRequests.WithLabelValues(string(k), "ok") // present at 0 before the first request
	}
	for _, o := range []string{"inserted", "updated", "unchanged", "kept"} {
		m.rows.WithLabelValues(o)
	}
	for _, o := range []string{attemptLoaded, attemptSnoozed, attemptRetried, attemptFailed, attemptInterrupted, attemptStopped} {
		m.attempts.WithLabelValues(o)
	}
	m.reg.MustRegister(m.graphRequests, m.throttleWait, m.reportRuns, m.rows, m.attempts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Metrics is the process's metrics.
func (s *Service) Metrics() *Metrics { return s.metrics }

// Registry is the metrics' registry, for a test or another exporter.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's text format (promhttp). A failed read of
// PostgreSQL answers 500 saying which read failed; the details go to the log.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

// graphAnswer counts one Graph API attempt (extract.Client.OnAnswer).
func (m *Metrics) graphAnswer(kind pipeline.CallKind, err error) {
	class := strings.ReplaceAll(pipeline.ErrorClass(err), " ", "_")
	m.graphRequests.WithLabelValues(string(kind), class).Inc()
}

// loaded counts a load's rows.
func (m *Metrics) loaded(r pipeline.LoadResult) {
	m.rows.WithLabelValues("inserted").Add(float64(r.Inserted))
	m.rows.WithLabelValues("updated").Add(float64(r.Updated))
	m.rows.WithLabelValues("unchanged").Add(float64(r.Unchanged))
	m.rows.WithLabelValues("kept").Add(float64(r.Kept))
}

func (m *Metrics) attempt(outcome string) { m.attempts.WithLabelValues(outcome).Inc() }

// observedRuns is an pipeline.ReportRunStore that times the report runs it sees end.
type observedRuns struct {
	pipeline.ReportRunStore
	m *Metrics
}

func (o observedRuns) Save(ctx context.Context, kind records.Kind, e pipeline.ReportRunEntry) error {
	err := o.ReportRunStore.Save(ctx, kind, e)
	switch e.Status {
	case "completed", "failed", "stuck", "expired":
		if err == nil && !e.Submitted.IsZero() && !e.Updated.Before(e.Submitted) {
			o.m.reportRuns.WithLabelValues(string(kind), e.Status).Observe(e.Updated.Sub(e.Submitted).Seconds())
		}
	}
	return err
}

// dbCollector reads the fleet's state from PostgreSQL at each scrape.
type dbCollector struct{ s *Service }

var (
	descRunsInProgress = prometheus.NewDesc("metapipe_runs_in_progress",
		"Service runs not over, by state ("+joinStates(runStatesOver(false))+").", []string{"state"}, nil)
	descRunsFinished = prometheus.NewDesc("metapipe_runs_finished_total",
		"Service runs over, by state ("+joinStates(runStatesOver(true))+"), as kept in PostgreSQL.", []string{"state"}, nil)
	descClients = prometheus.NewDesc("metapipe_clients",
		"Active clients by the state of their newest service run ("+joinStates(ClientStates())+"; never_run).", []string{"state"}, nil)
	descLastSuccess = prometheus.NewDesc("metapipe_client_last_success_timestamp_seconds",
		"Unix time of the client's last successful load (client_sync_state.updated_at, by metapipe run or the service), per active client.", []string{"client_id", "client"}, nil)
	descUndelivered = prometheus.NewDesc("metapipe_notify_deliveries_undelivered",
		"Notifications a webhook has not taken yet after at least one POST (failing, or refused for good), by webhook id.", []string{"webhook"}, nil)
	descRiverJobs = prometheus.NewDesc("metapipe_river_jobs",
		"River jobs of metapipe's queue not over, by River's state (available, pending, scheduled, retryable, running): the queue's depth.", []string{"state"}, nil)
)

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRunsInProgress, descRunsFinished, descClients, descLastSuccess, descUndelivered, descRiverJobs} {
		ch <- d
	}
}

const (
	metricsLastSuccess = `
SELECT cl.id::text, cl.name, extract(epoch FROM s.updated_at)::float8
FROM clients cl JOIN client_sync_state s ON s.client_id = cl.id AND s.platform = 'meta'
WHERE cl.active`
)

// Collect reads the gauges; a failed read is reported to the registry (the scrape answers
// 500), not half-answered.
func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fail := func(what string, err error) {
		// The details name hosts and users: they go to the log, not to the scraper.
		c.s.log.Error("metrics: read "+what+" from PostgreSQL", "err", err)
		ch <- prometheus.NewInvalidMetric(prometheus.NewDesc("metapipe_metrics_error", "A metric PostgreSQL did not answer.", nil, nil),
			errors.New("could not read "+what+" from PostgreSQL (the server's log says why)"))
	}
	counts := func(query string, arg ...any) (map[string]int64, error) {
		rows, err := c.s.pool.Query(ctx, query, arg...)
		if err != nil {
			return nil, err
		}
		out := map[string]int64{}
		var k string
		var n int64
		_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { out[k] = n; return nil })
		return out, err
	}
	runs, err := c.runStates(ctx)
	if err != nil {
		fail("runs", err)
		return
	}
	for _, st := range RunStates {
		if st.Over() {
			ch <- prometheus.MustNewConstMetric(descRunsFinished, prometheus.CounterValue, float64(runs[st]), string(st))
		} else {
			ch <- prometheus.MustNewConstMetric(descRunsInProgress, prometheus.GaugeValue, float64(runs[st]), string(st))
		}
	}
	clients, err := counts(metricsClientStates)
	if err != nil {
		fail("clients", err)
		return
	}
	for _, st := range ClientStates() {
		ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(clients[string(st)]), string(st))
	}
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(clients[""]), "never_run")
	rows, err := c.s.pool.Query(ctx, metricsLastSuccess)
	if err != nil {
		fail("last successes", err)
		return
	}
	var id, name string
	var at float64
	if _, err := pgx.ForEachRow(rows, []any{&id, &name, &at}, func() error {
		ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, at, id, name)
		return nil
	}); err != nil {
		fail("last successes", err)
		return
	}
	undelivered, err := counts(`SELECT webhook, count(*) FILTER (WHERE delivered_at IS NULL) FROM notify_deliveries GROUP BY 1`)
	if err != nil {
		fail("notifications", err)
		return
	}
	for _, w := range c.s.cfg.Notify.Webhooks { // every configured webhook, 0 before its first event
		if _, ok := undelivered[w.ID()]; !ok {
			undelivered[w.ID()] = 0
		}
	}
	for w, n := range undelivered {
		ch <- prometheus.MustNewConstMetric(descUndelivered, prometheus.GaugeValue, float64(n), w)
	}
	jobs, err := c.riverJobs(ctx)
	if err != nil {
		fail("River's jobs", err)
		return
	}
	for _, st := range riverJobStates {
		ch <- prometheus.MustNewConstMetric(descRiverJobs, prometheus.GaugeValue, float64(jobs[st]), string(st))
	}
}

// runStates counts the runs by state, each derived from its clients' as RunView's is, once
// reconcile has recorded the clients whose jobs River ended.
func (c *dbCollector) runStates(ctx context.Context) (map[RunState]int, error) {
	if _, err := c.s.reconcile(ctx, nil); err != nil {
		return nil, err
	}
	rows, err := c.s.pool.Query(ctx, metricsRunClientStates)
	if err != nil {
		return nil, err
	}
	byRun := map[string]map[ClientState]int{}
	var run string
	var st ClientState
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&run, &st, &n}, func() error {
		if byRun[run] == nil {
			byRun[run] = map[ClientState]int{}
		}
		byRun[run][st] += n
		return nil
	}); err != nil {
		return nil, err
	}
	out := map[RunState]int{}
	for _, n := range byRun {
		out[runStateOf(n)]++
	}
	return out, nil
}

// joinStates is the states, comma-separated, for the metrics' help.
func joinStates[S ~string](states []S) string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// riverJobStates are the states of a River job not over, as metapipe_river_jobs counts them.
var riverJobStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStateRunning}

// riverJobs counts the jobs of metapipe's queue not over by state, through River's client
// (JobList, a page of jobListPage at a time).
func (c *dbCollector) riverJobs(ctx context.Context) (map[rivertype.JobState]int, error) {
	out := map[rivertype.JobState]int{}
	p := river.NewJobListParams().Queues(queueName).States(riverJobStates...).First(jobListPage)
	for {
		res, err := c.s.river.JobList(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, j := range res.Jobs {
			out[j.State]++
		}
		if len(res.Jobs) < jobListPage {
			return out, nil
		}
		p = p.After(res.LastCursor)
	}
}

// attemptOutcome names how a client's attempt ended, as settle decided it.
func attemptOutcome(ctx context.Context, job *river.Job[ClientRunArgs], err error) string {
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	switch {
	case err == nil:
		return attemptLoaded
	case errors.As(err, &snooze):
		return attemptSnoozed
	case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
		return attemptInterrupted
	case errors.Is(ctx.Err(), context.Canceled):
		return attemptStopped
	case errors.As(err, &cancel), job.Attempt >= job.MaxAttempts:
		return attemptFailed
	}
	return attemptRetried
}
