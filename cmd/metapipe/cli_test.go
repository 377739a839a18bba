package main

// The command line as a new user meets it: global flags before and after the command, an
// unknown command, --version, the numeric flags' ranges, and JSON mode.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/pgtest"
)

const (
	testVersion = "v9.9.9-test"
	testCommit  = "0123abc"
)

// bare runs the binary without a database, a token or a Graph URL, with a bound on its time (a
// command that should have refused to start could otherwise serve forever).
func bare(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, binary, args...)
	c.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	c.Dir = t.TempDir()
	res := runCmd(t, c)
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after 30s", args)
	}
	return res
}

var globalFlagNames = []string{"--database-url", "--stage-dir", "--log-format", "--verbose"}

// Every global flag works before and after the command, and `metapipe run --help` lists it.
func TestGlobalFlagsInBothPositions(t *testing.T) {
	help := bare(t, nil, "run", "--help")
	for _, f := range globalFlagNames {
		if help.code != 0 || !strings.Contains(help.stdout, f) {
			t.Errorf("metapipe run --help does not list %s (exit %d):\n%s", f, help.code, help.stdout)
		}
	}
	if !strings.Contains(help.stdout, "GLOBAL OPTIONS") || !strings.Contains(help.stdout, "--job-max") {
		t.Errorf("metapipe run --help:\n%s", help.stdout)
	}

	stage := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Mkdir(stage, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, pos := range []string{"before", "after"} {
		args := func(cmd string, flags ...string) []string {
			if pos == "before" {
				return append(flags, cmd)
			}
			return append([]string{cmd}, flags...)
		}
		t.Run("--stage-dir "+pos, func(t *testing.T) {
			res := bare(t, nil, args("status", "--stage-dir", stage)...)
			if res.code != 2 || !strings.Contains(res.stderr, "no run directory in "+stage) {
				t.Errorf("exit %d, want 2 naming %s:\n%s", res.code, stage, res.stderr)
			}
		})
		t.Run("--log-format "+pos, func(t *testing.T) {
			res := bare(t, nil, args("status", "--stage-dir", stage, "--log-format", "json")...)
			var line map[string]any
			if res.code != 2 || json.Unmarshal([]byte(res.stderr), &line) != nil || line["exit_code"] != 2.0 {
				t.Errorf("exit %d, stderr not one JSON object with exit_code 2:\n%s", res.code, res.stderr)
			}
		})
		t.Run("--database-url "+pos, func(t *testing.T) {
			// Port 1 refuses: the URL was read (without it: exit 2, no database given).
			res := bare(t, nil, args("plan", "--database-url", "postgres://u@127.0.0.1:1/x?connect_timeout=2")...)
			if res.code != 3 || !strings.Contains(res.stderr, "127.0.0.1:1 (user u, database x): unreachable") {
				t.Errorf("exit %d, want 3 (unreachable):\n%s", res.code, res.stderr)
			}
		})
	}
	if res := bare(t, nil, "plan"); res.code != 2 || !strings.Contains(res.stderr, "no database") {
		t.Errorf("plan without a database: exit %d, want 2:\n%s", res.code, res.stderr)
	}

	// --verbose needs a run to say something at debug level.
	w := newWorld(t, graphsim.Config{Accounts: 1, Seed: 4, JobDuration: 150 * time.Millisecond})
	for _, args := range [][]string{
		append([]string{"--verbose"}, runArgs("--weeks", "2")...),
		append(runArgs("--weeks", "2"), "--verbose"),
	} {
		res := w.run(t, nil, args...)
		if res.code != 0 || !strings.Contains(res.stderr, `"level":"DEBUG","msg":"report run"`) {
			t.Errorf("%v: exit %d, no debug line:\n%s", args, res.code, res.stderr)
		}
	}
}

// An unknown command is a usage error (exit 2) that lists the commands.
func TestUnknownCommand(t *testing.T) {
	res := bare(t, nil, "frobnicate")
	if res.code != 2 || !strings.Contains(res.stderr, `unknown command "frobnicate"`) {
		t.Fatalf("exit %d, want 2:\n%s", res.code, res.stderr)
	}
	for _, c := range []string{"migrate", "plan", "run", "extract", "transform", "load", "status", "sim", "demo"} {
		if !strings.Contains(res.stderr, c) {
			t.Errorf("the error does not list %s: %s", c, res.stderr)
		}
	}
	// A command does not ignore words it does not take.
	if res := bare(t, nil, "run", "stage/x"); res.code != 2 || !strings.Contains(res.stderr, `run takes no arguments`) {
		t.Errorf("run stage/x: exit %d, want 2:\n%s", res.code, res.stderr)
	}
	// help <command> is the command's help.
	if res := bare(t, nil, "help", "run"); res.code != 0 || !strings.Contains(res.stdout, "--job-timeout") {
		t.Errorf("help run: exit %d:\n%s", res.code, res.stdout)
	}
}

// --version prints the version and the commit stamped at build time, and the Go version.
func TestVersion(t *testing.T) {
	res := bare(t, nil, "--version")
	want := "metapipe " + testVersion + " (commit " + testCommit + ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("exit %d, printed %q, want %q", res.code, res.stdout, want)
	}
}

// Every numeric flag has a range: a value outside it is exit 2 with an error that names the flag
// and the range, before anything is started.
func TestNumericFlagRanges(t *testing.T) {
	cases := []struct {
		args []string
		say  []string
	}{
		{[]string{"run", "--concurrency", "0"}, []string{"-concurrency", "1 to 1000"}},
		{[]string{"run", "--concurrency", "1001"}, []string{"-concurrency", "1 to 1000"}},
		{[]string{"run", "--concurrency", "many"}, []string{"-concurrency", "auto or 1 to 1000"}},
		{[]string{"run", "--page-size", "0"}, []string{"-page-size", "1 to 500"}},
		{[]string{"run", "--page-size", "501"}, []string{"-page-size", "1 to 500"}},
		{[]string{"run", "--jobs-per-account", "0"}, []string{"-jobs-per-account", "1 to 100"}},
		{[]string{"run", "--poll-first", "0s"}, []string{"-poll-first", "100ms to 10m0s"}},
		{[]string{"run", "--poll-max", "0s"}, []string{"-poll-max", "100ms to 10m0s"}},
		{[]string{"run", "--poll-first", "5s", "--poll-max", "2s"}, []string{"--poll-max", "--poll-first"}},
		{[]string{"run", "--job-timeout", "0s"}, []string{"-job-timeout", "1s to 24h0m0s"}},
		{[]string{"run", "--job-max", "-1m"}, []string{"-job-max", "1s to 24h0m0s"}},
		{[]string{"run", "--sync-weeks", "-1"}, []string{"-sync-weeks", "0 to 160"}},
		{[]string{"plan", "--sync-weeks", "161"}, []string{"-sync-weeks", "0 to 160"}},
		{[]string{"run", "--weeks", "0"}, []string{"-weeks", "1 to 160"}},
		{[]string{"plan", "--weeks", "200"}, []string{"-weeks", "1 to 160"}},
		{[]string{"run", "--lookback", "-1"}, []string{"-lookback", "0 to 365"}},
		{[]string{"extract", "--run", "x", "--concurrency", "0"}, []string{"-concurrency", "1 to 1000"}},
		{[]string{"sim", "--seed", "0"}, []string{"-seed", "1 or more"}},
		{[]string{"sim", "--accounts", "0"}, []string{"-accounts", "1 to 1000"}},
		{[]string{"sim", "--job-duration", "0s"}, []string{"-job-duration", "1ms to 1h0m0s"}},
		{[]string{"sim", "--latency", "-5ms"}, []string{"-latency", "0s to 1m0s"}},
		{[]string{"sim", "--latency", "10ms", "--jitter", "20ms"}, []string{"--jitter", "--latency"}},
		{[]string{"demo", "--page-size", "0"}, []string{"-page-size", "1 to 500"}},
		{[]string{"demo", "--weeks", "0"}, []string{"-weeks", "1 to 160"}},
		{[]string{"demo", "--accounts", "0"}, []string{"-accounts", "1 to 1000"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := bare(t, []string{"DATABASE_URL=postgres://u@127.0.0.1:1/x"}, tc.args...)
			if res.code != 2 {
				t.Errorf("exit %d, want 2:\n%s%s", res.code, res.stdout, res.stderr)
			}
			for _, s := range tc.say {
				if !strings.Contains(res.stderr, s) {
					t.Errorf("the error does not say %q: %s", s, res.stderr)
				}
			}
		})
	}
}

// jsonLines parses every line as one JSON object.
func jsonLines(t *testing.T, stream, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("%s: a line that is not a JSON object: %q", stream, sc.Text())
			continue
		}
		out = append(out, m)
	}
	return out
}

// In JSON mode every line on stdout and stderr is one JSON object, and the run ends with one
// run_finished event carrying the status, the row counts and the timings: the last line of
// stdout, and of both streams in one log as cron keeps it.
func TestJSONModeRun(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 2, Seed: 6, JobDuration: 150 * time.Millisecond})
	check := func(t *testing.T, res result, status string, code int) map[string]any {
		t.Helper()
		if res.code != code {
			t.Fatalf("exit %d, want %d:\n%s", res.code, code, res.stderr)
		}
		errs, outs := jsonLines(t, "stderr", res.stderr), jsonLines(t, "stdout", res.stdout)
		if len(errs) == 0 || len(outs) == 0 {
			t.Fatalf("%d stderr and %d stdout lines", len(errs), len(outs))
		}
		last := outs[len(outs)-1]
		if last["msg"] != "run_finished" || last["status"] != status || last["exit_code"] != float64(code) {
			t.Fatalf("last line %v, want run_finished %s exit %d", last, status, code)
		}
		for _, o := range outs[:len(outs)-1] {
			if o["msg"] == "run_finished" {
				t.Error("run_finished twice")
			}
		}
		rows, _ := last["rows"].(map[string]any)
		timings, _ := last["timings"].(map[string]any)
		if _, ok := rows["inserted"]; !ok || timings["total"] == nil || timings["total"].(float64) <= 0 {
			t.Errorf("run_finished without row counts or timings: %v", last)
		}
		return last
	}
	t.Run("done", func(t *testing.T) {
		last := check(t, w.run(t, nil, runArgs("--weeks", "6")...), "done", 0)
		if n := last["rows"].(map[string]any)["inserted"].(float64); n != float64(w.count(t, `SELECT count(*) FROM campaign_summaries`)) || n == 0 {
			t.Errorf("run_finished says %v rows inserted, the table has %d", n, w.count(t, `SELECT count(*) FROM campaign_summaries`))
		}
		if c, _ := last["concurrency"].(map[string]any); c["mode"] != "auto" || c["peak"].(float64) < 1 {
			t.Errorf("run_finished concurrency %v, want auto by default", last["concurrency"])
		}
	})
	t.Run("a fixed concurrency", func(t *testing.T) {
		last := check(t, w.run(t, nil, runArgs("--weeks", "6", "--full", "--concurrency", "1")...), "done", 0)
		if c, _ := last["concurrency"].(map[string]any); c["mode"] != "fixed" || c["peak"].(float64) != 1 {
			t.Errorf("run_finished concurrency %v, want fixed, one client at a time", last["concurrency"])
		}
	})
	t.Run("a client failed", func(t *testing.T) {
		// Report runs that always fail (six weeks are read synchronously unless told not to).
		w.Sim.SetFaults(w.Sim.Accounts()[1].ID, graphsim.Faults{FailJobs: -1})
		defer w.Sim.SetFaults(w.Sim.Accounts()[1].ID, graphsim.Faults{})
		last := check(t, w.run(t, nil, runArgs("--weeks", "6", "--full", "--sync-weeks", "0")...), "partial", 1)
		if e, _ := last["error"].(string); !strings.Contains(e, w.Sim.Accounts()[1].Name) {
			t.Errorf("run_finished error %q does not name the failed client", e)
		}
		// The failed clients by name, not only inside the error string.
		if c, _ := last["clients"].(map[string]any); fmt.Sprint(c["failed_names"]) != "[Demo "+w.Sim.Accounts()[1].Name+"]" || c["failed"] != float64(1) {
			t.Errorf("run_finished clients %v, want failed_names [Demo %s]", last["clients"], w.Sim.Accounts()[1].Name)
		}
	})
	t.Run("the failed run resumed", func(t *testing.T) {
		// The same command again resumes the partial run: its counts are this attempt's (the
		// mended client's rows, all unchanged since the first subtest loaded them), the first
		// attempt's (the other client's) apart.
		last := check(t, w.run(t, nil, runArgs("--weeks", "6", "--full", "--sync-weeks", "0")...), "done", 0)
		mended := float64(w.count(t, `SELECT count(*) FROM campaign_summaries WHERE client_id = $1`, w.Clients[1]))
		other := float64(w.count(t, `SELECT count(*) FROM campaign_summaries WHERE client_id = $1`, w.Clients[0]))
		rows, _ := last["rows"].(map[string]any)
		earlier, _ := last["earlier_attempts"].(map[string]any)
		erows, _ := earlier["rows"].(map[string]any)
		if last["attempt"] != float64(2) || rows["unchanged"] != mended || rows["inserted"] != float64(0) || earlier["count"] != float64(1) || erows["unchanged"] != other {
			t.Errorf("resumed run_finished: attempt %v, rows %v, earlier %v; want attempt 2, %v unchanged now, %v in the one earlier attempt",
				last["attempt"], rows, earlier, mended, other)
		}
	})
	t.Run("reset-state", func(t *testing.T) {
		// The runs above made one week final (six weeks, 28 days of lookback): the one ending
		// 35 days before the as-of Sunday. Reset from its Monday: nothing is final any more.
		name := "Demo " + w.Sim.Accounts()[0].Name
		final := lastSunday.AddDate(0, 0, -35)
		monday := final.AddDate(0, 0, -6).Format(time.DateOnly)
		res := w.run(t, nil, "--log-format", "json", "reset-state", "--client", name, "--from", monday)
		if res.code != 0 {
			t.Fatalf("exit %d:\n%s", res.code, res.stderr)
		}
		outs := jsonLines(t, "stdout", res.stdout)
		if len(outs) != 1 || outs[0]["msg"] != "state_reset" || outs[0]["client"] != name || outs[0]["from"] != monday {
			t.Fatalf("stdout %v, want one state_reset event from %s", outs, monday)
		}
		before, _ := outs[0]["before"].(map[string]any)
		after, _ := outs[0]["after"].(map[string]any)
		if before["final_through"] != final.Format(time.DateOnly) || before["last_as_of"] != lastSunday.Format(time.DateOnly) ||
			after == nil || after["final_through"] != nil {
			t.Errorf("before %v after %v, want final_through %s then null, snake_case names, YYYY-MM-DD dates",
				before, after, final.Format(time.DateOnly))
		}
	})
	t.Run("both streams in one log", func(t *testing.T) {
		c := w.cmd(nil, runArgs("--weeks", "6")...)
		var both bytes.Buffer
		c.Stdout, c.Stderr = &both, &both
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		lines := jsonLines(t, "log", both.String())
		if len(lines) == 0 || lines[len(lines)-1]["msg"] != "run_finished" {
			t.Errorf("the log does not end with run_finished:\n%s", both.String())
		}
	})
	t.Run("weeks that disagree, in the summary", func(t *testing.T) {
		// Campaign sums short of the account's in every week (read again once, still short):
		// run_finished names the client, its weeks not final and what was read again; the text
		// summary says so too.
		w.Sim.SetFaults(w.Sim.Accounts()[1].ID, graphsim.Faults{ShortCampaigns: true})
		defer w.Sim.SetFaults(w.Sim.Accounts()[1].ID, graphsim.Faults{})
		last := check(t, w.run(t, nil, runArgs("--weeks", "6", "--full")...), "done", 0)
		ds, _ := last["disagreeing"].([]any)
		if len(ds) != 1 {
			t.Fatalf("run_finished disagreeing %v, want the short client", last["disagreeing"])
		}
		d := ds[0].(map[string]any)
		nf, _ := d["not_final"].([]any)
		again, _ := d["read_again"].([]any)
		if d["client"] != "Demo "+w.Sim.Accounts()[1].Name || len(nf) == 0 || len(again) != len(nf) ||
			again[0].(map[string]any)["kind"] != "campaigns" || again[0].(map[string]any)["agrees"] != false {
			t.Errorf("run_finished disagreeing %v, want Demo %s, its weeks not final, each read again once (campaigns, still disagreeing)", d, w.Sim.Accounts()[1].Name)
		}
		res := w.run(t, nil, append([]string{"--log-format", "text"}, runArgs("--weeks", "6", "--full")...)...)
		if want := "not final: Demo " + w.Sim.Accounts()[1].Name + ": " + fmt.Sprint(len(nf)) + " week(s) whose sums disagree"; res.code != 0 || !strings.Contains(res.stdout, want) {
			t.Errorf("exit %d, summary without %q:\n%s", res.code, want, res.stdout)
		}
	})
}

// migrate says what it did: metapipe's schema version, and how many of River's migrations it
// applied now (all of them on a new database, none the second time).
func TestMigrateSaysWhatItApplied(t *testing.T) {
	w := &world{World: &e2etest.World{DBURL: pgtest.NewDatabase(t), Stage: t.TempDir()}}
	applied := func() (version, river float64) {
		t.Helper()
		res := w.run(t, nil, "migrate")
		outs := jsonLines(t, "stdout", res.stdout)
		if res.code != 0 || len(outs) != 1 || outs[0]["msg"] != "migrated" {
			t.Fatalf("migrate: exit %d, stdout %v:\n%s", res.code, outs, res.stderr)
		}
		version, _ = outs[0]["version"].(float64)
		river, _ = outs[0]["river_applied"].(float64)
		if from, _ := outs[0]["from_version"].(float64); outs[0]["applied"] != version-from {
			t.Errorf("migrated %v: applied is not version - from_version", outs[0])
		}
		return version, river
	}
	if v, r := applied(); v < 7 || r < 1 {
		t.Errorf("first migrate: version %v, River applied %v; want 7 or more, and some", v, r)
	}
	if v, r := applied(); v < 7 || r != 0 {
		t.Errorf("second migrate: version %v, River applied %v; want 7 or more, and none", v, r)
	}
	// In text: on an empty database it says it created the tables, not that they were up to
	// date; the second time, that nothing was applied.
	for i, want := range []string{"created metapipe's tables: ", "already up to date at version"} {
		db := pgtest.NewDatabase(t)
		if i == 1 {
			db = w.DBURL
		}
		res := w.run(t, []string{"DATABASE_URL=" + db}, "migrate", "--log-format", "text")
		if res.code != 0 || !strings.Contains(res.stdout, want) {
			t.Errorf("migrate (text): exit %d, stdout %q, want %q", res.code, res.stdout, want)
		}
	}
}
