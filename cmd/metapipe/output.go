package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// How a command reports: text lines and tables, or with --log-format json one JSON object per
// line: results on stdout (events such as run_finished), log lines and the error that ends the
// command on stderr.

// event writes one JSON result line on stdout, {"time":…,"level":…,"msg":name,…}: at level
// ERROR when failed.
func event(cmd *cli.Command, name string, failed bool, attrs ...any) {
	level := slog.LevelInfo
	if failed {
		level = slog.LevelError
	}
	slog.New(jsonHandler(cmd.Root().Writer, nil)).Log(context.Background(), level, name, attrs...)
}

// reportedError is an error the command has written out already (in run_finished): main maps
// it to the exit code without printing it again.
type reportedError struct{ error }

func (e reportedError) Unwrap() error { return e.error }

// reportError writes the error that ended the command on w: `metapipe: <error>`, or in JSON
// mode one JSON object with the error and the exit code; nothing when the command reported it.
func reportError(app *cli.Command, w io.Writer, err error, code int) {
	var done reportedError
	if err == nil || errors.As(err, &done) {
		return
	}
	if jsonMode(app) {
		slog.New(jsonHandler(w, nil)).Error("metapipe failed", "error", err.Error(), "exit_code", code)
		return
	}
	fmt.Fprintln(w, "metapipe:", err)
}

// finish reports how a run or a stage ended and returns its error for main. In text: the run
// directory and status, the timings and the row counts. In JSON mode one event on stdout
// (run_finished, stage_finished) with the status, the run directory, the clients, the row
// counts, the timings, and the error and exit code: the command's last line (a failure is also
// logged on stderr just before it), and main prints nothing after it.
func finish(cmd *cli.Command, name, label string, rep *pipeline.Report, status pipeline.Status, err error, attrs ...any) error {
	w := cmd.Root().Writer
	if !jsonMode(cmd) {
		if rep != nil {
			fmt.Fprintf(w, "%s %s: %s\n", label, rep.Dir, status)
			for _, c := range failedClients(&rep.Ledger) {
				fmt.Fprintf(w, "  failed: %s: %s\n", c.Name, truncate(firstNonEmpty(c.Extract.Error, c.Transform.Error, c.Load.Error), 200))
			}
			for _, d := range disagreements(&rep.Ledger) {
				if len(d.NotFinal) > 0 {
					fmt.Fprintf(w, "  not final: %s: %d week(s) whose sums disagree with the account's totals, even read again (the next run fetches them again): %s\n",
						d.Client, len(d.NotFinal), strings.Join(d.NotFinal, ", "))
				}
				if len(d.Agreed) > 0 {
					fmt.Fprintf(w, "  read again: %s: %d week(s) whose sums disagreed at first agreed when read again: %s\n",
						d.Client, len(d.Agreed), strings.Join(d.Agreed, ", "))
				}
			}
			printTimings(w, &rep.Ledger)
		}
		return err
	}
	if rep == nil {
		status = "not started"
	}
	attrs = append(attrs, "status", status)
	if rep != nil {
		failed := []string{}
		for _, c := range failedClients(&rep.Ledger) {
			failed = append(failed, c.Name)
		}
		attrs = append(attrs, "dir", string(rep.Dir), "run_id", rep.Ledger.RunID,
			slog.Group("clients", "total", len(rep.Ledger.Clients), "failed", len(failed), "failed_names", failed))
		// This attempt's rows and timings; a resumed run's earlier attempts apart.
		l := &rep.Ledger
		if a := l.LastAttempt; a != nil {
			attrs = append(attrs, "attempt", a.Number, "rows", a.Rows, "timings", a.Timings)
			if a.Number > 1 {
				er, et := l.Earlier()
				attrs = append(attrs, slog.Group("earlier_attempts", "count", a.Number-1, "rows", er, "timings", et))
			}
		} else {
			attrs = append(attrs, "rows", l.Rows, "timings", l.Timings)
		}
		if c := rep.Ledger.Concurrency; c != nil {
			attrs = append(attrs, "concurrency", c)
		}
		if d := disagreements(&rep.Ledger); len(d) > 0 {
			attrs = append(attrs, "disagreeing", d)
		}
	}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
		// The error on stderr too, for whoever reads only that; before the event, so that
		// in a log of both streams the event stays the last line.
		logger(cmd).Error(label+" failed", "error", err.Error(), "exit_code", exitCode(err))
	}
	attrs = append(attrs, "exit_code", exitCode(err))
	event(cmd, name, err != nil, attrs...)
	if err != nil {
		return reportedError{err}
	}
	return nil
}

// disagreement is one client's weeks whose campaign, placement or demographic sums disagreed
// with the account's totals in a run: NotFinal still disagreed when read again (loaded, not
// final), Agreed agreed the second time (Mondays, YYYY-MM-DD); ReadAgain is what was read again.
type disagreement struct {
	Client    string                   `json:"client"`
	ClientID  string                   `json:"client_id"`
	NotFinal  []string                 `json:"not_final"`
	Agreed    []string                 `json:"agreed"`
	ReadAgain []pipeline.RefetchRecord `json:"read_again"`
}

// disagreements lists, by client name, the clients of a ledger with weeks that disagreed.
func disagreements(l *pipeline.Ledger) []disagreement {
	var out []disagreement
	for id, c := range l.Clients {
		if len(c.Transform.NotFinal) == 0 && len(c.Transform.Refetched) == 0 {
			continue
		}
		d := disagreement{Client: c.Name, ClientID: id, NotFinal: c.Transform.NotFinal, Agreed: []string{}, ReadAgain: c.Transform.Refetched}
		for _, r := range c.Transform.Refetched {
			if r.Agrees && !slices.Contains(d.Agreed, r.Week) && !slices.Contains(d.NotFinal, r.Week) {
				d.Agreed = append(d.Agreed, r.Week)
			}
		}
		if d.NotFinal == nil {
			d.NotFinal = []string{}
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Client < out[j].Client })
	return out
}

// failedClients are the clients of a ledger that failed in any stage, by name.
func failedClients(l *pipeline.Ledger) []*pipeline.ClientRecord {
	var out []*pipeline.ClientRecord
	for _, c := range l.Clients {
		if c.Failed() {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// finishWaited reports how a run followed by enqueue --wait ended, in run's shape: in JSON mode
// one run_finished event with the status, the run id, the clients (total, failed, the failed
// ones' names), the error and the exit code, and the service's view of the run; in text the
// run's state and one line per client. It returns the error for main.
func finishWaited(cmd *cli.Command, run *service.RunView, err error) error {
	var failed []string
	for _, c := range run.Clients {
		if c.State == service.StateFailed {
			failed = append(failed, c.Name)
		}
	}
	if !jsonMode(cmd) {
		w := cmd.Root().Writer
		fmt.Fprintf(w, "run %s: %s\n", run.RunID, run.State)
		for _, c := range run.Clients {
			r := c.Rows
			fmt.Fprintf(w, "  %-28s %-11s attempt %d, rows: %d inserted, %d updated, %d unchanged, %d deleted, %d kept %s\n",
				c.Name, c.State, c.Attempt, r.Inserted, r.Updated, r.Unchanged, r.Deleted, r.Kept, c.Error)
		}
		return err
	}
	if failed == nil {
		failed = []string{}
	}
	attrs := []any{"status", run.State, "run_id", run.RunID,
		slog.Group("clients", "total", len(run.Clients), "failed", len(failed), "failed_names", failed), "run", run}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
		logger(cmd).Error("run failed", "error", err.Error(), "exit_code", exitCode(err))
	}
	attrs = append(attrs, "exit_code", exitCode(err))
	event(cmd, "run_finished", err != nil, attrs...)
	if err != nil {
		return reportedError{err}
	}
	return nil
}
