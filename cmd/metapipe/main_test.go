package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// binary is metapipe built once for these tests: they run it as cron or Airflow would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "metapipe-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "metapipe")
	// Stamped as the Makefile stamps it, so that TestVersion sees what --version prints.
	ldflags := "-X main.version=" + testVersion + " -X main.commit=" + testCommit
	out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var lastSunday = e2etest.LastSunday

// world is a simulator, a migrated database with its demo clients and a stage folder (an
// e2etest world), and what runs the binary against it.
type world struct {
	*e2etest.World
}

func newWorld(t *testing.T, cfg graphsim.Config) *world {
	t.Helper()
	return newWrappedWorld(t, cfg, nil)
}

type result struct {
	code           int
	stdout, stderr string
}

func (w *world) cmd(env []string, args ...string) *exec.Cmd {
	c := exec.Command(binary, append([]string{"--stage-dir", w.Stage, "--log-format", "json"}, args...)...)
	c.Env = append(os.Environ(), "DATABASE_URL="+w.DBURL, "META_GRAPH_URL="+w.URL, "META_ACCESS_TOKEN="+graphsim.DemoToken)
	c.Env = append(c.Env, env...)
	return c
}

func (w *world) run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runCmd(t, w.cmd(env, args...))
}

// textMap runs a query of two text columns and returns its rows as a map from the first to
// the second; a failed query fails the test.
func (w *world) textMap(t *testing.T, query string, args ...any) map[string]string {
	t.Helper()
	rows, err := w.Pool.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var k, v string
	if _, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error { out[k] = v; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// runCmd runs c to its end and returns its exit code and output; a failure to start it fails
// the test.
func runCmd(t *testing.T, c *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// fast paces the polls for tests, and reads a long range by report runs (--sync-budget 0),
// which most of these tests are about; TestPlanCommand shows the planner's own choice.
var fast = []string{"--poll-first", "150ms", "--poll-max", "400ms", "--sync-budget", "0"}

func runArgs(extra ...string) []string {
	return append(append([]string{"run", "--as-of", lastSunday.Format(time.DateOnly)}, fast...), extra...)
}

func (w *world) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := w.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// startUntilSaved starts `metapipe run` and waits until n report runs are saved in the run
// directory (every submit of the run, when n is clients × 5).
func (w *world) startUntilSaved(t *testing.T, n int) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	c := w.cmd(nil, runArgs()...)
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		jobs, _ := filepath.Glob(filepath.Join(w.Stage, "*", "extract", "*", "*.job.json"))
		if len(jobs) == n {
			return c, &errb
		}
		if time.Now().After(deadline) {
			_ = c.Process.Kill()
			t.Fatalf("only %d saved report runs after 20s: %s", len(jobs), errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Killed with SIGKILL after its submits, the rerun submits nothing new for the saved report
// runs and ends with the same table as an uninterrupted run.
func TestKillAfterSubmitsThenResume(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 3, Seed: 5, JobDuration: 1500 * time.Millisecond})
	c, _ := w.startUntilSaved(t, 3*5)
	if err := c.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.Wait()
	submitted := w.Sim.Counters().Requests[graphsim.KindSubmit]
	if submitted != 15 {
		t.Fatalf("%d submits before the kill, want 15", submitted)
	}
	if n := w.count(t, `SELECT count(*) FROM campaign_summaries`); n != 0 {
		t.Fatalf("%d rows loaded before the kill", n)
	}

	res := w.run(t, nil, runArgs()...)
	if res.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "resuming unfinished run") {
		t.Errorf("the rerun did not resume: %s", res.stderr)
	}
	if n := w.Sim.Counters().Requests[graphsim.KindSubmit] - submitted; n != 0 {
		t.Errorf("the rerun submitted %d new report runs, want 0", n)
	}
	got := w.count(t, `SELECT count(*) FROM campaign_summaries`)

	// The same table as an uninterrupted run in a fresh stage folder with --full.
	var before string
	_ = w.Pool.QueryRow(context.Background(), `SELECT string_agg(content_hash, ',' ORDER BY client_id, summary_date) FROM campaign_summaries`).Scan(&before)
	w.Stage = t.TempDir()
	res = w.run(t, nil, runArgs("--full")...)
	if res.code != 0 {
		t.Fatalf("fresh run: exit %d\n%s", res.code, res.stderr)
	}
	var after string
	_ = w.Pool.QueryRow(context.Background(), `SELECT string_agg(content_hash, ',' ORDER BY client_id, summary_date) FROM campaign_summaries`).Scan(&after)
	if before != after || got < 3*50 {
		t.Errorf("the resumed table (%d rows) differs from an uninterrupted run's", got)
	}
	if !strings.Contains(res.stdout, `"rows":{"inserted":0,"updated":0,`) {
		t.Errorf("a fresh full run over the resumed table changed rows:\n%s", res.stdout)
	}
}

// SIGTERM (what cron's kill, Airflow and systemd send) cancels cleanly: the process exits soon
// with 130, says how to resume, loads nothing, the ledger and status say interrupted for the
// run and the clients cut short, and the next run resumes the run directory.
func TestSIGTERMCancelsCleanly(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 2, Seed: 9, JobDuration: 3 * time.Second})
	c, errb := w.startUntilSaved(t, 2*5)
	sent := time.Now()
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := c.Wait()
	took := time.Since(sent)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want code 130\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "interrupted; the next run with the same as-of and clients resumes") {
		t.Errorf("stderr does not say how to resume:\n%s", errb.String())
	}
	if took > 5*time.Second {
		t.Errorf("took %s to stop after SIGTERM", took)
	}
	if n := w.count(t, `SELECT count(*) FROM campaign_summaries`); n != 0 {
		t.Errorf("%d rows loaded by an interrupted run", n)
	}
	dirs, _ := filepath.Glob(filepath.Join(w.Stage, "*"))
	if len(dirs) != 1 {
		t.Fatalf("run directories: %v", dirs)
	}
	l, err := pipeline.ReadLedger(records.RunDir(dirs[0]))
	if err != nil || l.Status != pipeline.StatusInterrupted {
		t.Fatalf("ledger after SIGTERM: %+v %v", l, err)
	}
	for id, c := range l.Clients {
		if c.Extract.Status != pipeline.StatusInterrupted {
			t.Errorf("client %s (%s): extract %s, want interrupted (its report runs were in flight)", c.Name, id, c.Extract.Status)
		}
	}
	st := w.run(t, nil, "status", "--json")
	var status struct{ Ledger struct{ Status string } } // one JSON event holding the ledger
	if err := json.Unmarshal([]byte(st.stdout), &status); err != nil || st.code != 0 || status.Ledger.Status != "interrupted" {
		t.Errorf("status --json: exit %d, status %q (%v)\n%s", st.code, status.Ledger.Status, err, st.stdout)
	}

	submitted := w.Sim.Counters().Requests[graphsim.KindSubmit]
	res := w.run(t, nil, runArgs()...)
	if res.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", res.code, res.stderr)
	}
	if n := w.Sim.Counters().Requests[graphsim.KindSubmit] - submitted; n != 0 {
		t.Errorf("the rerun submitted %d report runs, want 0 (the saved ones are polled)", n)
	}
	if n := w.count(t, `SELECT count(DISTINCT client_id) FROM campaign_summaries`); n != 2 {
		t.Errorf("%d clients loaded after the rerun, want 2", n)
	}
}

func TestExitCodes(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 2, Seed: 3, JobDuration: 150 * time.Millisecond})
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		say  string
	}{
		{"unknown client", nil, runArgs("--client", "Nobody"), 2, `unknown client \"Nobody\"`}, // JSON mode: quotes escaped
		{"bad as-of", nil, []string{"run", "--as-of", "yesterday"}, 2, "--as-of"},
		{"empty as-of (an empty template)", nil, []string{"run", "--as-of", ""}, 2, "want YYYY-MM-DD"},
		{"reset-state --from empty", nil, []string{"reset-state", "--client", "x", "--from", ""}, 2, "leave --from out"},
		{"as-of of year 1", nil, []string{"run", "--as-of", "0001-01-01"}, 2, "more than 37 months ago"},
		{"as-of four years back", nil, []string{"plan", "--as-of", time.Now().AddDate(-4, 0, 0).Format(time.DateOnly)}, 2, "Meta keeps Insights from"},
		{"future as-of", nil, []string{"run", "--as-of", "2027-06-01"}, 2, "--as-of 2027-06-01 is in the future"},
		{"bad flag", nil, []string{"run", "--frobnicate"}, 2, "frobnicate"},
		{"bad shard", nil, runArgs("--shard", "2/2"), 2, "--shard"},
		{"malformed DATABASE_URL", []string{"DATABASE_URL=postgres://u:hunter2@[::1"}, runArgs(), 2, "DATABASE_URL"},
		{"database unreachable", []string{"DATABASE_URL=postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2"}, runArgs(), 3, "unreachable"},
		{"status of nothing", nil, []string{"status", "--run", "/nonexistent"}, 2, "nonexistent"},
		// Nothing listens there: named at once, exit 3 as a database unreachable (before, 16
		// silent seconds of retries, then "some clients failed", exit 1).
		{"Graph API unreachable", []string{"META_GRAPH_URL=http://127.0.0.1:1"}, runArgs(), 3, "cannot reach the Graph API at http://127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := w.run(t, tc.env, tc.args...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.say) {
				t.Errorf("exit %d, want %d; stderr should say %q:\n%s", res.code, tc.code, tc.say, res.stderr)
			}
			if strings.Contains(res.stderr+res.stdout, "hunter2") {
				t.Errorf("the database password was printed:\n%s", res.stderr)
			}
		})
	}
	t.Run("one client with a refused token", func(t *testing.T) {
		if _, err := w.Pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, w.Clients[0]); err != nil {
			t.Fatal(err)
		}
		res := w.run(t, nil, runArgs("--weeks", "6")...)
		if res.code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", res.code, res.stderr)
		}
		if n := w.count(t, `SELECT count(DISTINCT client_id) FROM campaign_summaries`); n != 1 {
			t.Errorf("%d clients loaded, want the other one", n)
		}
		if !strings.Contains(res.stderr, w.Sim.Accounts()[0].Name) {
			t.Errorf("stderr does not name the failed client:\n%s", res.stderr)
		}
		st := w.run(t, nil, "status")
		if st.code != 0 || !strings.Contains(st.stdout, "failed") || !strings.Contains(st.stdout, "190") {
			t.Errorf("status:\n%s", st.stdout)
		}
	})
}

func TestPlanCommand(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 2, Seed: 3})
	res := w.run(t, nil, "plan", "--as-of", lastSunday.Format(time.DateOnly), "--log-format", "text") // after the command, it wins
	// Two clients' years: synchronous reads in week-aligned chunks, and the plan says why.
	if res.code != 0 || !strings.Contains(res.stdout, "2 clients, 0 report runs") || !strings.Contains(res.stdout, "never covered") ||
		!strings.Contains(res.stdout, "synchronous reads at once, chunks of 54/") || !strings.Contains(res.stdout, "READ SO BECAUSE") {
		t.Errorf("plan: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = w.run(t, nil, "plan", "--as-of", lastSunday.Format(time.DateOnly), "--log-format", "text", "--sync-budget", "0")
	if res.code != 0 || !strings.Contains(res.stdout, "2 clients, 10 report runs") || !strings.Contains(res.stdout, "--sync-budget 0: long ranges by report runs") {
		t.Errorf("plan --sync-budget 0: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if n := w.Sim.Counters().Requests[graphsim.KindSubmit]; n != 0 {
		t.Errorf("plan submitted %d report runs", n)
	}
	entries, _ := os.ReadDir(w.Stage)
	if len(entries) != 0 {
		t.Errorf("plan wrote %d entries in the stage folder", len(entries))
	}
	// Six weeks are read synchronously (--sync-weeks 8 by default), unless told otherwise.
	for _, tc := range []struct {
		args []string
		say  string
	}{
		{[]string{"--weeks", "6"}, "2 clients, 0 report runs, 10 synchronous reads (ranges of up to 8 weeks)"},
		{[]string{"--weeks", "6", "--sync-weeks", "0"}, "2 clients, 10 report runs, 0 synchronous reads"},
	} {
		res := w.run(t, nil, append([]string{"plan", "--as-of", lastSunday.Format(time.DateOnly), "--log-format", "text"}, tc.args...)...)
		if res.code != 0 || !strings.Contains(res.stdout, tc.say) {
			t.Errorf("plan %v: exit %d, want %q\n%s%s", tc.args, res.code, tc.say, res.stdout, res.stderr)
		}
	}
}

// A deprecated API version (Meta's 2635) is one configuration error for the whole run: exit
// 2, naming META_API_VERSION and the version Meta asks for, nothing submitted, nothing loaded.
func TestDeprecatedAPIVersionExits2(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 3, Seed: 3, JobDuration: 150 * time.Millisecond, OldestVersion: "v24.0", NewestVersion: "v27.0"})
	res := w.run(t, []string{"META_API_VERSION=v22.0"}, runArgs("--weeks", "6")...)
	if res.code != 2 || !strings.Contains(res.stderr, "META_API_VERSION v22.0") || !strings.Contains(res.stderr, "v27.0") {
		t.Fatalf("exit %d, want 2 naming META_API_VERSION v22.0 and v27.0:\n%s", res.code, res.stderr)
	}
	if n := strings.Count(res.stderr, "graph api error 2635"); n != 1 {
		t.Errorf("Meta's 2635 said %d times, want once (one error for the run, not one per client):\n%s", n, res.stderr)
	}
	c := w.Sim.Counters()
	if c.Requests[graphsim.KindSubmit] != 0 || c.Requests[graphsim.KindSync] != 0 {
		t.Errorf("requests %v: nothing should be submitted", c.Requests)
	}
	if n := w.count(t, `SELECT count(*) FROM campaign_summaries`); n != 0 {
		t.Errorf("%d rows loaded", n)
	}
}

// TestHandEditedBadDates: a plan.json or run.json whose date is not one (hand-edited) is exit 2
// naming the file, the field and the value. Before records.Date, run --run panicked in
// mustDate (exit 2 by Go's panic, with a stack trace and no file named).
func TestHandEditedBadDates(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 1, Seed: 3})
	for _, bad := range []string{"2026-13-45", ""} {
		dir := t.TempDir()
		plan := `{"run_id": "20261129T120000Z-abcdef", "as_of": "2026-11-29", "as_of_given": true, "weeks": 6, "lookback": 28,
  "horizon_start": "2026-10-19", "clients": [{"id": "` + w.Clients[0] + `", "name": "x", "ad_account_id": "1", "time_zone": "UTC",
  "currency": "EUR", "since": "` + bad + `", "until": "2026-11-29", "weeks": 6, "reason": "new", "covered_from": "2026-10-19"}]}`
		if err := os.WriteFile(filepath.Join(dir, "plan.json"), []byte(plan), 0o644); err != nil {
			t.Fatal(err)
		}
		res := w.run(t, nil, append([]string{"run", "--run", dir}, fast...)...)
		if res.code != 2 || !strings.Contains(res.stderr, filepath.Join(dir, "plan.json")) ||
			!strings.Contains(res.stderr, "clients.since") || !strings.Contains(res.stderr, `\"`+bad+`\"`) ||
			strings.Contains(res.stderr, "panic") {
			t.Errorf("run --run with since %q: exit %d, want 2 naming plan.json, clients.since and the value:\n%s", bad, res.code, res.stderr)
		}
		ledger := `{"run_id": "20261129T120000Z-abcdef", "as_of": "` + bad + `", "status": "failed"}`
		if err := os.WriteFile(filepath.Join(dir, "run.json"), []byte(ledger), 0o644); err != nil {
			t.Fatal(err)
		}
		res = w.run(t, nil, "status", "--run", dir)
		if res.code != 2 || !strings.Contains(res.stderr, filepath.Join(dir, "run.json")) ||
			!strings.Contains(res.stderr, "as_of") || strings.Contains(res.stderr, "panic") {
			t.Errorf("status --run with as_of %q: exit %d, want 2 naming run.json and as_of:\n%s", bad, res.code, res.stderr)
		}
	}
}
