package main

// The database as users have it: every pgx statement mode, poolers, managed roles, TLS.

import (
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/fixtures"
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
