package pipeline

import (
	"log/slog"
	"sync"
)

// Reporter is told how the extraction goes, per client and report kind. The pipeline calls it
// from many goroutines at once. The command draws progress bars with it in a terminal; the
// default writes log lines.
type Reporter interface {
	// ClientStarted: the client's extraction begins.
	ClientStarted(clientID, name string)
	// KindProgress: a poll answered for one of the client's report runs, with Meta's
	// async_status and async_percent_completion (0-100).
	KindProgress(clientID, kind, status string, percent int)
	// ClientDone: the client's extraction ended; err is nil when it succeeded.
	ClientDone(clientID string, err error)
	// Close: the run's stages are over; nothing is reported afterwards.
	Close()
}

// logReporter writes a debug line when a report run changes status (not at every poll), for
// cron and Airflow.
type logReporter struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]string
}

// NewLogReporter reports through structured log lines.
func NewLogReporter(log *slog.Logger) Reporter {
	return &logReporter{log: log, last: map[string]string{}}
}

func (r *logReporter) ClientStarted(id, name string) { r.log.Info("extract started", "client", name) }

func (r *logReporter) KindProgress(id, kind, status string, pct int) {
	r.mu.Lock()
	key := id + "/" + kind
	changed := r.last[key] != status
	r.last[key] = status
	r.mu.Unlock()
	if changed {
		r.log.Debug("report run", "client_id", id, "kind", kind, "status", status, "percent", pct)
	}
}

func (r *logReporter) ClientDone(string, error) {}
func (r *logReporter) Close()                   {}
