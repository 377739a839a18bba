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
		"Service runs not over, by state (queued, running).", []string{"state"}, nil)
	descRunsFinished = prometheus.NewDesc("metapipe_runs_finished_total",
		"Service runs over, by state (done, partial, failed, interrupted), as kept in PostgreSQL.", []string{"state"}, nil)
	descClients = prometheus.NewDesc("metapipe_clients",
		"Active clients by the state of their newest service run (queued, planning, extracting, waiting, loading, done, failed, interrupted; never_run).", []string{"state"}, nil)
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
	// metricsRunStates is each run's state as runState derives it, counted by state.
	metricsRunStates = `
WITH c AS (
    SELECT c.run_id,
           CASE WHEN c.state IN ('done', 'failed', 'interrupted') THEN c.state
                WHEN j.state = 'cancelled' THEN 'interrupted'
                WHEN j.state = 'discarded' THEN 'failed'
                ELSE c.state END AS state
    FROM service_run_clients c LEFT JOIN river_job j ON j.id = c.job_id),
r AS (
    SELECT CASE WHEN count(*) FILTER (WHERE state = 'queued') = count(*) THEN 'queued'
                WHEN count(*) FILTER (WHERE state NOT IN ('done', 'failed', 'interrupted')) > 0 THEN 'running'
                WHEN count(*) FILTER (WHERE state = 'interrupted') > 0 THEN 'interrupted'
                WHEN count(*) FILTER (WHERE state = 'done') = count(*) THEN 'done'
                WHEN count(*) FILTER (WHERE state = 'done') > 0 THEN 'partial'
                ELSE 'failed' END AS state
    FROM c GROUP BY run_id)
SELECT state, count(*) FROM r GROUP BY state`
	// metricsClientStates is each active client's state in its newest run.
	metricsClientStates = `
SELECT coalesce(n.state, 'never_run'), count(*)
FROM clients cl LEFT JOIN LATERAL (
    SELECT CASE WHEN c.state IN ('done', 'failed', 'interrupted') THEN c.state
                WHEN j.state = 'cancelled' THEN 'interrupted'
                WHEN j.state = 'discarded' THEN 'failed'
                ELSE c.state END AS state
    FROM service_run_clients c JOIN service_runs r ON r.id = c.run_id LEFT JOIN river_job j ON j.id = c.job_id
    WHERE c.client_id = cl.id ORDER BY r.created_at DESC, r.id DESC LIMIT 1) n ON true
WHERE cl.active
GROUP BY 1`
	metricsLastSuccess = `
SELECT cl.id::text, cl.name, extract(epoch FROM s.updated_at)::float8
FROM clients cl JOIN client_sync_state s ON s.client_id = cl.id AND s.platform = 'meta'
WHERE cl.active`
	metricsRiverJobs = `
SELECT state::text, count(*) FROM river_job
WHERE queue = $1 AND state IN ('available', 'pending', 'scheduled', 'retryable', 'running') GROUP BY 1`
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
	runs, err := counts(metricsRunStates)
	if err != nil {
		fail("runs", err)
		return
	}
	for _, st := range []string{"queued", "running"} {
		ch <- prometheus.MustNewConstMetric(descRunsInProgress, prometheus.GaugeValue, float64(runs[st]), st)
	}
	for _, st := range []string{"done", "partial", "failed", "interrupted"} {
		ch <- prometheus.MustNewConstMetric(descRunsFinished, prometheus.CounterValue, float64(runs[st]), st)
	}
	clients, err := counts(metricsClientStates)
	if err != nil {
		fail("clients", err)
		return
	}
	for _, st := range []string{StateQueued, StatePlanning, StateExtracting, StateWaiting, StateLoading, StateDone, StateFailed, StateInterrupted, "never_run"} {
		ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(clients[st]), st)
	}
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
	jobs, err := counts(metricsRiverJobs, queueName)
	if err != nil {
		fail("River's jobs", err)
		return
	}
	for _, st := range []string{"available", "pending", "scheduled", "retryable", "running"} {
		ch <- prometheus.MustNewConstMetric(descRiverJobs, prometheus.GaugeValue, float64(jobs[st]), st)
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
