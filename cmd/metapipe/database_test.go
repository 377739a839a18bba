package main

// The database as users have it: every pgx statement mode, poolers, managed roles, TLS.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/fixtures"
	"github.com/metapipe/metapipe/internal/pgtest"
)

// Every command works in each of pgx's statement modes, which a user may set with
// default_query_exec_mode in DATABASE_URL: migrate, run, and a worker's job queued by enqueue
// --wait, whose plan and report runs go to jsonb columns. Before JSON went as text, exec and
// simple_protocol sent it as bytea and every job failed with "invalid input syntax for type json".
func TestEveryExecMode(t *testing.T) {
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, fixtures.Config{Accounts: 1, Seed: 8, JobDuration: 300 * time.Millisecond})
			w.db += "&default_query_exec_mode=" + mode
			if res := w.run(t, nil, "migrate"); res.code != 0 {
				t.Fatalf("migrate: exit %d %s", res.code, res.stderr)
			}
			if res := w.run(t, nil, relArgs()...); res.code != 0 {
				t.Fatalf("run: exit %d %s", res.code, tail(res.stderr, 3000))
			}
			w.checkTruth(t)
			worker := w.start(t, "worker", nil, "worker", "--concurrency", "1", "--inline-wait", "2s", "--poll-first", "150ms", "--poll-max", "400ms")
			worker.event(t, "working jobs", 30*time.Second)
			res := w.run(t, nil, "enqueue", "--wait", "--full", "--as-of", lastSunday.Format(time.DateOnly), "--weeks", "13")
			if res.code != 0 || !strings.Contains(res.stdout, `"state":"done"`) {
				t.Fatalf("enqueue --wait: exit %d, want 0 and done:\n%s%s", res.code, tail(res.stdout, 2000), tail(res.stderr, 2000))
			}
			plans := w.count(t, `SELECT count(*) FROM service_run_clients WHERE jsonb_typeof(plan) = 'object'`)
			if plans != 1 {
				t.Errorf("%d plans stored as JSON objects, want 1", plans)
			}
			if n := w.count(t, `SELECT count(*) FROM service_report_runs WHERE jsonb_typeof(entry) = 'object'`); n != 5 {
				t.Errorf("%d report runs stored as JSON objects, want 5", n)
			}
			w.checkTruth(t)
		})
	}
}

// A managed role, as Supabase's, Neon's or RDS's: it owns its database but is no superuser,
// and its statement_timeout and idle_in_transaction_session_timeout are 5 s. The demo of 1,000
// ad accounts (a year each) migrates, seeds, runs and loads through it: the KPI read is 100
// clients per statement, and the load's one transaction sets its own timeouts (SET LOCAL).
// Before, the one KPI statement over every client and the load's COPY were cancelled.
func TestManagedRoleWithFiveSecondTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("a run of 1,000 client-years")
	}
	role := pgtest.NewRole(t, map[string]string{"statement_timeout": "5s", "idle_in_transaction_session_timeout": "5s"})
	db := pgtest.NewDatabase(t)
	role.Own(t, db)
	url := role.URL(t, db)
	c := exec.Command(binary, "--stage-dir", t.TempDir(), "--log-format", "json", "demo", "--accounts", "1000", "--weeks", "54",
		"--as-of", lastSunday.Format(time.DateOnly), "--job-duration", "200ms", "--latency", "1ms", "--jitter", "0",
		"--concurrency", "16", "--sync-weeks", "54")
	c.Env = append(os.Environ(), "DATABASE_URL="+url)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("demo of 1,000 accounts as a role with 5 s timeouts: %v\n%s", err, tail(errb.String(), 4000))
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var timeout string
	var clients, rows int
	if err := pool.QueryRow(context.Background(), `SELECT current_setting('statement_timeout'),
		(SELECT count(DISTINCT client_id) FROM campaign_summaries), (SELECT count(*) FROM campaign_summaries)`).Scan(&timeout, &clients, &rows); err != nil {
		t.Fatal(err)
	}
	if timeout != "5s" {
		t.Errorf("the role's statement_timeout is %q, want 5s", timeout)
	}
	if clients != 1000 || rows < 1000*50 {
		t.Errorf("%d clients and %d weekly rows loaded, want 1000 clients and at least 50,000 rows", clients, rows)
	}
}
