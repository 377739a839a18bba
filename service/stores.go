package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// dbReportRuns keeps one client's report runs of one run in service_report_runs: an
// pipeline.ReportRunStore that every worker sees.
type dbReportRuns struct {
	pool     *pgxpool.Pool
	runID    string
	clientID string
}

const (
	selectReportRuns = `SELECT entry FROM service_report_runs WHERE run_id = $1 AND client_id = $2 AND kind = $3 ORDER BY since, until`
	upsertReportRun  = `
INSERT INTO service_report_runs (run_id, client_id, kind, since, until, entry, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (run_id, client_id, kind, since, until) DO UPDATE SET entry = EXCLUDED.entry, updated_at = now()`
)

func (d *dbReportRuns) Load(ctx context.Context, kind records.Kind) ([]pipeline.ReportRunEntry, error) {
	rows, err := d.pool.Query(ctx, selectReportRuns, d.runID, d.clientID, string(kind))
	if err != nil {
		return nil, fmt.Errorf("read report runs: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (pipeline.ReportRunEntry, error) {
		var e pipeline.ReportRunEntry
		var b []byte
		if err := row.Scan(&b); err != nil {
			return e, err
		}
		return e, json.Unmarshal(b, &e)
	})
}

func (d *dbReportRuns) Save(ctx context.Context, kind records.Kind, e pipeline.ReportRunEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := d.pool.Exec(ctx, upsertReportRun, d.runID, d.clientID, string(kind), e.Since, e.Until, string(b)); err != nil {
		return fmt.Errorf("save report run: %w", err)
	}
	return nil
}

// fleetThrottle keeps the ad accounts' holds in ad_account_throttle: an pipeline.FleetThrottle
// every worker shares. Times are the database's, so the machines' clocks need not agree.
type fleetThrottle struct{ pool *pgxpool.Pool }

const (
	holdAccount = `
INSERT INTO ad_account_throttle (ad_account_id, until, reason, updated_at)
VALUES ($1, now() + $2 * interval '1 millisecond', $3, now())
ON CONFLICT (ad_account_id) DO UPDATE SET
    until = GREATEST(ad_account_throttle.until, EXCLUDED.until), reason = EXCLUDED.reason, updated_at = now()`
	heldFor = `SELECT coalesce((SELECT extract(epoch FROM until - now()) * 1000 FROM ad_account_throttle
	WHERE ad_account_id = $1 AND until > now()), 0)::bigint`
)

func (f fleetThrottle) Hold(ctx context.Context, account string, d time.Duration, reason string) error {
	_, err := f.pool.Exec(ctx, holdAccount, account, d.Milliseconds(), reason)
	return err
}

func (f fleetThrottle) HeldFor(ctx context.Context, account string) (time.Duration, error) {
	var ms int64
	if err := f.pool.QueryRow(ctx, heldFor, account).Scan(&ms); err != nil {
		return 0, err
	}
	return time.Duration(ms) * time.Millisecond, nil
}
