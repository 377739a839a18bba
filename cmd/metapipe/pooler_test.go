package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/pgtest"
)

// The test of poolers: a real PostgreSQL behind a real PgBouncer started by the test,
// in transaction mode (as Supabase's port 6543 and Neon's -pooler hosts) and in session mode,
// every command given the pooled URL and nothing else:
//   - migrate twice (the old code's second failed: prepared statement "stmtcache_…" already exists);
//   - two overlapping runs of one client: the second exits 3 at once, naming the holder (the old
//     session advisory locks let both run through a transaction pooler);
//   - kill -9 of the first (as if on a lost machine), and a third run that starts once its lease
//     has expired, the lease having been renewed at most --lock-lease before the kill;
//   - serve --worker and enqueue --wait ending done, the log saying whether River listens or
//     polls (poll-only in transaction mode);
//   - a pooled migrate, then a direct one that finishes at once (the old code's pooled migrate
//     left River's session lock on a pooled backend, and the direct one hung);
//   - the table equal to a direct run's.
func TestThroughPgBouncer(t *testing.T) {
	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) { throughPgBouncer(t, mode) })
	}
}

func throughPgBouncer(t *testing.T, mode string) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	const lease = 3 * time.Second
	ctx := context.Background()
	cfg := graphsim.Config{Accounts: 2, Seed: 9, JobDuration: 2 * time.Second}
	env := []string{"METAPIPE_LOCK_LEASE=" + lease.String()}
	var direct string
	w := fromWorld(e2etest.New(t, e2etest.Sim(cfg), e2etest.Seeded(lastSunday.AddDate(0, 0, -7*60), lastSunday),
		e2etest.Through(func(t testing.TB, db string) string {
			direct = db
			return pgtest.PgBouncer(t, db, mode)
		}),
		e2etest.Migrate(func(_ context.Context, e *e2etest.World) error {
			for i := 1; i <= 2; i++ {
				if res := fromWorld(e).run(t, env, "migrate"); res.code != 0 {
					return fmt.Errorf("pooled migrate %d: exit %d\n%s", i, res.code, tail(res.stderr, 3000))
				}
			}
			return nil
		})))
	sim, pool := w.Sim, w.Pool
	name := "Demo " + sim.Accounts()[0].Name

	// Two overlapping runs of one client; the first killed with SIGKILL while it holds it.
	first := w.cmd(env, relArgs("--client", name)...)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for w.count(t, `SELECT count(*) FROM metapipe_locks WHERE name LIKE 'run:%' AND expires_at > now()`) == 0 {
		if time.Now().After(deadline) {
			_ = first.Process.Kill()
			t.Fatalf("the first run never held its client:\n%s", firstErr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	second := w.run(t, env, relArgs("--client", name)...)
	if second.code != 3 || !strings.Contains(second.stderr, "another run holds") || !strings.Contains(second.stderr, name) ||
		!strings.Contains(second.stderr, "metapipe run, host") {
		t.Errorf("second run: exit %d, want 3 naming %s and its holder:\n%s", second.code, name, second.stderr)
	}
	var killedAt time.Time
	if err := pool.QueryRow(ctx, `SELECT now()`).Scan(&killedAt); err != nil {
		t.Fatal(err)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	// As if it had run on another machine (a lost one): a run on this machine would otherwise
	// see its process gone and free its lock at once (TestKillAtEveryStage).
	if _, err := pool.Exec(ctx, `UPDATE metapipe_locks SET instance = 'a lost machine'`); err != nil {
		t.Fatal(err)
	}
	var expires time.Time
	if err := pool.QueryRow(ctx, `SELECT expires_at FROM metapipe_locks WHERE name LIKE 'run:%'`).Scan(&expires); err != nil {
		t.Fatalf("the killed run's lease: %v", err)
	}
	if bound := killedAt.Add(lease); expires.After(bound) {
		t.Errorf("the killed run's lease expires at %s, after the kill (%s) plus --lock-lease %s", expires, killedAt, lease)
	}
	for w.count(t, `SELECT count(*) FROM metapipe_locks WHERE name LIKE 'run:%' AND expires_at > now()`) > 0 {
		time.Sleep(50 * time.Millisecond) // the database's clock: the lease has not expired yet
	}
	if third := w.run(t, env, relArgs("--client", name)...); third.code != 0 {
		t.Fatalf("third run after the killed one's lease expired: exit %d\n%s", third.code, tail(third.stderr, 3000))
	}

	// The service through the pooler: serve --worker, enqueue --wait.
	serve := w.start(t, "serve", append(env, serveEnv...), "serve", "--worker", "--addr", "127.0.0.1:0", "--concurrency", "2",
		"--inline-wait", "1s", "--poll-first", "150ms", "--poll-max", "400ms")
	serve.event(t, "serving", 30*time.Second)
	wantLog := "River listens for new jobs (LISTEN/NOTIFY reaches this process)"
	if mode == "transaction" {
		wantLog = "River polls for new jobs every second (poll-only mode): LISTEN/NOTIFY does not reach this process, " +
			"as through a pooler in transaction mode (Supabase's port 6543, Neon's -pooler host)"
	}
	serve.event(t, wantLog, 10*time.Second)
	res := w.run(t, env, "enqueue", "--wait", "--as-of", lastSunday.Format(time.DateOnly), "--weeks", "13")
	if res.code != 0 || !strings.Contains(res.stdout, `"state":"done"`) {
		t.Fatalf("enqueue --wait: exit %d, want 0 and done:\n%s%s", res.code, tail(res.stdout, 2000), tail(res.stderr, 2000))
	}
	serve.stop(t, syscall.SIGTERM, 30*time.Second)

	// A pooled migrate, then a direct one: it finds no lock left behind.
	if res := w.run(t, env, "migrate"); res.code != 0 {
		t.Fatalf("pooled migrate: exit %d\n%s", res.code, res.stderr)
	}
	c := exec.Command(binary, "--log-format", "json", "migrate", "--wait", "2s")
	c.Env = append(c.Environ(), "DATABASE_URL="+direct)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("direct migrate after a pooled one: %v\n%s", err, out)
	}
	if n := w.count(t, `SELECT count(*) FROM metapipe_locks`); n != 0 {
		t.Errorf("%d locks left in metapipe_locks, want 0", n)
	}
	if n := w.count(t, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); n != 0 {
		t.Errorf("%d advisory locks left on the server, want 0", n)
	}

	// The table equals a direct run's, on a database of its own.
	d := newWorld(t, cfg) // the same seed: the same ad accounts and data
	dpool := d.Pool
	if res := d.run(t, nil, relArgs()...); res.code != 0 {
		t.Fatalf("direct run: exit %d\n%s", res.code, tail(res.stderr, 3000))
	}
	// Every column but the ids, the run's name and the time of writing.
	const content = `SELECT coalesce(string_agg(c.name || ' ' || (to_jsonb(s) - 'id' - 'client_id' - 'content_hash' - 'data_source' - 'last_updated')::text,
	E'\n' ORDER BY c.name, s.summary_date), '') FROM campaign_summaries s JOIN clients c ON c.id = s.client_id`
	var got, want string
	if err := pool.QueryRow(ctx, content).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if err := dpool.QueryRow(ctx, content).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if got != want || got == "" {
		t.Errorf("the pooled table differs from the direct run's:\n%s\n---\n%s", got, want)
	}
	w.checkTruth(t)
}
