package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/metapipe/metapipe/internal/records"
)

// SourceRun is the source of a run's history row written by metapipe run (cron, Airflow) and
// the stage commands, beside the service's api, enqueue and schedule.
const SourceRun = "run"

// The run's history, in the service's tables (store/migrations/00007_service.sql): a run of
// metapipe run is one service_runs row (source "run", the run directory's id) and one
// service_run_clients row per client (no River job), so that /runs, GET /v1/runs, the client
// pages and /metrics show it beside the service's runs.
const (
	upsertHistoryRun = `
INSERT INTO service_runs (id, request_key, as_of, nominal_as_of, weeks, lookback, full_refetch, source, created_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at`
	// upsertHistoryClients skips a client no longer in the clients table (the stage commands
	// run a plan's clients as they were planned).
	upsertHistoryClients = `
INSERT INTO service_run_clients (run_id, client_id, state, attempt, worker, reports_done, reports_total, percent, error, updated_at)
SELECT $1, t.c, t.s, $2, $3, t.d, t.n, CASE WHEN t.s = 'done' THEN 100 ELSE (100 * t.d) / greatest(t.n, 1) END, t.e, now()
FROM unnest($4::uuid[], $5::text[], $6::int[], $7::int[], $8::text[]) AS t (c, s, d, n, e)
JOIN clients cl ON cl.id = t.c
ON CONFLICT (run_id, client_id) DO UPDATE SET state = excluded.state, attempt = excluded.attempt, worker = excluded.worker,
    reports_done = excluded.reports_done, reports_total = excluded.reports_total, percent = excluded.percent,
    error = excluded.error, updated_at = now()
WHERE service_run_clients.state IS DISTINCT FROM excluded.state OR service_run_clients.reports_done IS DISTINCT FROM excluded.reports_done
   OR service_run_clients.error IS DISTINCT FROM excluded.error OR service_run_clients.attempt IS DISTINCT FROM excluded.attempt`
)

// historyKey is the run's request key, in the service's shape (the nominal as-of date and a
// SHA-256 of the sorted client ids), prefixed "run|" so that the service never takes a run of
// metapipe run for one of its own queued runs.
func historyKey(p *Plan) string {
	ids := p.ClientIDs()
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
	return "run|" + p.AsOf.String() + "|" + hex.EncodeToString(sum[:])
}

// historyWorker names who worked a run of metapipe run: the command and its host and process.
func historyWorker() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("metapipe run on %s (pid %d)", host, os.Getpid())
}

// clientHistory is a client's state in the history as its ledger record says: done once
// loaded, failed or interrupted in any stage, else the state of the stage under way
// (extracting, then loading for the transform and the load) or, once the run is over
// without loading it (a stage command alone), the state it was left in.
func clientHistory(cp ClientPlan, rec *ClientRecord, stage Stage, over bool, runStatus Status) (state, msg string, done int) {
	total := len(records.Kinds)
	if rec == nil {
		rec = &ClientRecord{}
	}
	for _, k := range records.Kinds {
		if kr, ok := rec.Extract.Kinds[k]; ok && !kr.Waiting && kr.Error == "" {
			done++
		}
	}
	if rec.Extract.Status == StatusDone {
		done = total
	}
	msg = firstError(cp.Error, rec.Extract.Error, rec.Transform.Error, rec.Load.Error)
	switch {
	case rec.Loaded():
		return "done", "", total
	case rec.Failed():
		return "failed", msg, done
	case rec.Interrupted(), over && runStatus == StatusInterrupted:
		return "interrupted", msg, done
	case over && runStatus == StatusFailed:
		return "failed", msg, done // the stage failed as a whole (the database, the KPI read)
	case stage == StageExtract || stage == "" || rec.Extract.Status != StatusDone:
		return "extracting", msg, done
	}
	return "loading", msg, done
}

func firstError(errs ...string) string {
	for _, e := range errs {
		if e != "" {
			return e
		}
	}
	return ""
}

// recordHistory writes the run as its ledger now says into the history tables: at the start
// of each stage and once the run is over. A database without the service's tables (not
// migrated to 00007) is warned about once and left alone: the run goes on, its history is
// its run directory's ledger. A failure to write is logged, never the run's failure.
func (r *Runner) recordHistory(ctx context.Context, plan *Plan, l Ledger, stage Stage, over bool) {
	if r.pool == nil || r.noHistory {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var asOf *time.Time
	nominal := plan.AsOf.Time()
	if plan.AsOfGiven {
		asOf = &nominal
	}
	var finished *time.Time
	if over && l.Status != StatusRunning {
		t := l.Updated
		if t.IsZero() {
			t = time.Now()
		}
		finished = &t
	}
	n := len(plan.Clients)
	ids, states, dones, totals, msgs := make([]string, n), make([]string, n), make([]int32, n), make([]int32, n), make([]string, n)
	for i, cp := range plan.Clients {
		st, msg, done := clientHistory(cp, l.Clients[cp.ID], stage, over, l.Status)
		ids[i], states[i], dones[i], totals[i], msgs[i] = cp.ID, st, int32(done), int32(len(records.Kinds)), msg
	}
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, upsertHistoryRun, plan.RunID, historyKey(plan), asOf, nominal, plan.Weeks, plan.Lookback,
			plan.Full, SourceRun, plan.Created, finished); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, upsertHistoryClients, plan.RunID, l.Attempts, r.worker, ids, states, dones, totals, msgs)
		return err
	})
	var pe *pgconn.PgError
	switch {
	case err == nil:
	case errors.As(err, &pe) && pe.Code == pgerrcode.UndefinedTable:
		r.noHistory = true
		r.log.Warn("the run is not recorded in the runs' history: the database has no service_runs table (run `metapipe migrate`)")
	default:
		r.log.Warn("record the run in the runs' history", "run", plan.RunID, "err", err)
	}
}
