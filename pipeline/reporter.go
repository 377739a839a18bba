package pipeline

import (
	"log/slog"
	"sync"

	"github.com/metapipe/metapipe/extract"
)

// Reporter is told how the extraction goes, per client and report kind. The pipeline calls it
// from many goroutines at once. The command draws progress bars with it in a terminal; the
// default writes log lines.
type Reporter interface {
	// ClientStarted: the client's extraction begins.
	ClientStarted(clientID, name string)
	// KindProgress: one of the client's report kinds moved on: submitted, polled (Meta's
	// async_status and async_percent_completion), a page read, staged.
	KindProgress(clientID string, p extract.Progress)
	// ClientDone: the client's extraction ended; err is nil when it succeeded.
	ClientDone(clientID string, err error)
	// Close: the run's stages are over; nothing is reported afterwards.
	Close()
}

// logReporter writes a debug line when a report kind changes state (not at every poll or
// page), for cron and Airflow.
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

func (r *logReporter) KindProgress(id string, p extract.Progress) {
	r.mu.Lock()
	key := id + "/" + string(p.Kind)
	changed := r.last[key] != p.State
	r.last[key] = p.State
	r.mu.Unlock()
	if changed && p.State == extract.StateThrottled {
		r.log.Warn("throttled", "client_id", id, "kind", p.Kind, "since", p.ThrottledSince, "requests", p.Requests)
	} else if changed {
		r.log.Debug("report run", "client_id", id, "kind", p.Kind, "state", p.State, "percent", p.Percent, "requests", p.Requests)
	}
}

func (r *logReporter) ClientDone(string, error) {}
func (r *logReporter) Close()                   {}
