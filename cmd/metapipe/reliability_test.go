package main

// The binary under faults it cannot catch (SIGKILL at every stage, a second run at once) and
// the security checks that need the whole process: the token and the database password in no
// output, file, ledger or column, staged files readable by their owner only.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parquet-go/parquet-go"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

const relWeeks = 13

// newWrappedWorld is newWorld with a middleware in front of the simulator.
func newWrappedWorld(t *testing.T, cfg graphsim.Config, wrap func(http.Handler) http.Handler) *world {
	t.Helper()
	return fromWorld(e2etest.New(t, e2etest.Sim(cfg), e2etest.Wrap(wrap), binaryMigrate(t), e2etest.Seeded(lastSunday.AddDate(0, 0, -7*60), lastSunday)))
}

// binaryMigrate migrates a world's database by `metapipe migrate`, as an operator does.
func binaryMigrate(t *testing.T) e2etest.Option {
	return e2etest.Migrate(func(_ context.Context, e *e2etest.World) error {
		if res := fromWorld(e).run(t, nil, "migrate"); res.code != 0 {
			return fmt.Errorf("metapipe migrate: exit %d: %s", res.code, res.stderr)
		}
		return nil
	})
}

// fromWorld is the world of an e2etest world.
func fromWorld(e *e2etest.World) *world {
	return &world{World: e}
}

func relArgs(extra ...string) []string {
	return runArgs(append([]string{"--weeks", "13"}, extra...)...)
}

func (w *world) checkTruth(t *testing.T) int {
	t.Helper()
	return e2etest.CheckTable(t, w.Pool, w.Sim, w.Clients, lastSunday, relWeeks)
}

func countGlob(pattern string) int {
	m, _ := filepath.Glob(pattern)
	return len(m)
}

func ledgerStage(stage, name string) string {
	dirs, _ := filepath.Glob(filepath.Join(stage, "*", "run.json"))
	for _, p := range dirs {
		l, err := pipeline.ReadLedger(records.RunDir(filepath.Dir(p)))
		if err == nil && l.Stages[pipeline.Stage(name)] != nil {
			return string(l.Stages[pipeline.Stage(name)].Status)
		}
	}
	return ""
}

// SIGKILL at each stage of a run; the rerun resumes the run directory, submits no report run
// already saved, and the table equals the truth.
func TestKillAtEveryStage(t *testing.T) {
	type point struct {
		name string
		// slow delays the simulator's answers of one kind (by URL shape).
		slowSubmits, slowPages bool
		lockTable              bool // hold campaign_summaries so the load waits in its merge
		reached                func(w *world, pages int64) bool
	}
	jobs := func(w *world) int { return countGlob(filepath.Join(w.Stage, "*", "extract", "*", "*.job.json")) }
	points := []point{
		{name: "during submits", slowSubmits: true, reached: func(w *world, _ int64) bool { n := jobs(w); return n >= 1 && n < 15 }},
		{name: "while polling", reached: func(w *world, _ int64) bool { return jobs(w) == 15 }},
		{name: "while paging", slowPages: true, reached: func(w *world, pages int64) bool { return pages >= 4 }},
		{name: "at transform", lockTable: true, reached: func(w *world, _ int64) bool { return ledgerStage(w.Stage, "transform") != "" }},
		{name: "in the load", lockTable: true, reached: func(w *world, _ int64) bool {
			// Into an empty table the load copies straight into campaign_summaries; else it
			// merges from a staging table. Either waits on the test's table lock.
			var n int
			_ = w.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
AND wait_event_type = 'Lock' AND (query LIKE '%INSERT INTO campaign_summaries%' OR query ILIKE 'copy "campaign_summaries"%')`).Scan(&n)
			return n > 0
		}},
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			var pages atomic.Int64
			var one sync.Mutex
			slow := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					isSubmit := r.Method == http.MethodPost
					isPage := strings.HasSuffix(r.URL.Path, "/insights") && r.Method == http.MethodGet
					if p.slowSubmits && isSubmit { // one at a time: the 15 submits take 2 s
						one.Lock()
						time.Sleep(150 * time.Millisecond)
						one.Unlock()
					}
					if p.slowPages && isPage {
						time.Sleep(250 * time.Millisecond)
					}
					if isPage {
						pages.Add(1)
					}
					next.ServeHTTP(rw, r)
				})
			}
			w := newWrappedWorld(t, graphsim.Config{Accounts: 3, Seed: 5, JobDuration: 1200 * time.Millisecond}, slow)
			ctx := context.Background()
			var lock interface{ Rollback(context.Context) error }
			if p.lockTable {
				tx, err := w.Pool.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctx, `LOCK TABLE campaign_summaries IN SHARE MODE`); err != nil {
					t.Fatal(err)
				}
				lock = tx
				defer tx.Rollback(ctx)
			}
			c := w.cmd(nil, relArgs("--page-size", "25")...)
			var errb bytes.Buffer
			c.Stderr = &errb
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for !p.reached(w, pages.Load()) {
				if time.Now().After(deadline) {
					_ = c.Process.Kill()
					_ = c.Wait()
					t.Fatalf("the point was never reached: %s", errb.String())
				}
				time.Sleep(2 * time.Millisecond)
			}
			if err := c.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = c.Wait()
			// Submits the killed process had in flight still reach the simulator: wait until
			// the count stands still.
			for last, still := int64(-1), 0; still < 4; time.Sleep(100 * time.Millisecond) {
				if n := w.Sim.Counters().Requests[graphsim.KindSubmit]; n == last {
					still++
				} else {
					last, still = n, 0
				}
			}
			summaries := countGlob(filepath.Join(w.Stage, "*", "transform", "summaries.parquet"))
			staged := countGlob(filepath.Join(w.Stage, "*", "extract", "*", "*.parquet"))
			if lock != nil {
				_ = lock.Rollback(ctx)
			}
			// The killed process's backend, if it was waiting in the merge, rolls back when it
			// finds its client gone; wait for it to leave.
			for i := 0; i < 200 && w.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`) > 0; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			if n := w.count(t, `SELECT count(*) FROM campaign_summaries`); n != 0 {
				t.Fatalf("%d rows in the table after the kill", n)
			}
			submitted := w.Sim.Counters().Requests[graphsim.KindSubmit]
			saved := jobs(w)

			res := w.run(t, nil, relArgs("--page-size", "25")...)
			if res.code != 0 {
				t.Fatalf("rerun: exit %d\n%s", res.code, res.stderr)
			}
			if !strings.Contains(res.stderr, "resuming unfinished run") {
				t.Errorf("the rerun did not resume: %s", res.stderr)
			}
			if dirs := countGlob(filepath.Join(w.Stage, "*", "plan.json")); dirs != 1 {
				t.Errorf("%d run directories, want the one resumed", dirs)
			}
			resubmitted := w.Sim.Counters().Requests[graphsim.KindSubmit] - submitted
			if resubmitted != int64(15-saved) {
				t.Errorf("%d report runs were saved, the rerun submitted %d, want %d", saved, resubmitted, 15-saved)
			}
			n := w.checkTruth(t)
			checkNoTemp(t, w.Stage)
			t.Logf("killed %s (%d report runs saved, %d kinds staged, summaries %d); rerun submitted %d; %d rows right",
				p.name, saved, staged, summaries, resubmitted, n)
		})
	}
}

func checkNoTemp(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("half-written file left behind: %s", p)
		}
		return err
	})
}

// Two runs at once on overlapping clients: the second stops at once with exit 3 naming the
// client it could not lock, having changed nothing; the first finishes and the table is right.
func TestTwoRunsAtOnce(t *testing.T) {
	w := newWrappedWorld(t, graphsim.Config{Accounts: 3, Seed: 5, JobDuration: 1500 * time.Millisecond}, nil)
	first := w.cmd(nil, relArgs()...)
	var errb bytes.Buffer
	first.Stderr = &errb
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; countGlob(filepath.Join(w.Stage, "*", "extract", "*", "*.job.json")) == 0; i++ {
		if i > 2000 {
			_ = first.Process.Kill()
			t.Fatalf("the first run saved no report run: %s", errb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	name := "Demo " + w.Sim.Accounts()[1].Name
	submits := w.Sim.Counters().Requests[graphsim.KindSubmit]
	second := w.run(t, nil, relArgs("--client", name)...)
	if second.code != 3 || !strings.Contains(second.stderr, name) || !strings.Contains(second.stderr, "another run holds") {
		t.Errorf("second run: exit %d, want 3 naming %s:\n%s", second.code, name, second.stderr)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, errb.String())
	}
	if n := w.Sim.Counters().Requests[graphsim.KindSubmit] - submits; n > 15 {
		t.Errorf("%d submits after the second run started: it submitted some", n)
	}
	if dirs := countGlob(filepath.Join(w.Stage, "*", "plan.json")); dirs != 1 {
		t.Errorf("%d run directories: the second run left one", dirs)
	}
	w.checkTruth(t)
}

// The canaries: recognisable secrets looked for everywhere the pipeline writes.
const (
	envToken    = "EAAB-CANARY-ENV-7f3a9c1e5d"
	clientToken = "EAAB-CANARY-CLIENT-4b8d2e6a0f"
	echoToken   = "EAAB-CANARY-ECHO-93c1aa07be" // answered with an error that echoes it
	dbPassword  = "pw-CANARY-51de9b"
)

var canaries = []string{envToken, clientToken, echoToken, dbPassword}

// tokenProxy lets the canary tokens through to the simulator as its demo token, puts the
// token into every paging.next link (as Meta does), and answers the echo token with an error
// that repeats it.
func tokenProxy(next http.Handler) http.Handler {
	swap := strings.NewReplacer(envToken, graphsim.DemoToken, clientToken, graphsim.DemoToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		all := string(body) + r.URL.RawQuery + r.Header.Get("Authorization")
		if strings.Contains(all, echoToken) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+echoToken+`"`)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"Invalid OAuth access token: ` + echoToken + ` (access_token=` + echoToken + `)","type":"OAuthException","code":190,"fbtrace_id":"Acanary"}}`))
			return
		}
		r.Body = io.NopCloser(strings.NewReader(swap.Replace(string(body))))
		r.ContentLength = int64(len(swap.Replace(string(body))))
		r.URL.RawQuery = swap.Replace(r.URL.RawQuery)
		r.Header.Set("Authorization", swap.Replace(r.Header.Get("Authorization")))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		var page map[string]json.RawMessage
		if json.Unmarshal(out, &page) == nil && page["paging"] != nil {
			var paging map[string]json.RawMessage
			var nextURL string
			if json.Unmarshal(page["paging"], &paging) == nil && json.Unmarshal(paging["next"], &nextURL) == nil && nextURL != "" {
				paging["next"], _ = json.Marshal(nextURL + "&access_token=" + envToken)
				page["paging"], _ = json.Marshal(paging)
				out, _ = json.Marshal(page)
			}
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

// secretWorld is a world of three clients behind tokenProxy whose tokens are recognisable:
// the default (envToken), a client's own (clientToken) and one Meta answers with an error
// that echoes it (echoToken). It returns the database URL with dbPassword in it.
func secretWorld(t *testing.T) (*world, string) {
	t.Helper()
	w := newWrappedWorld(t, graphsim.Config{Accounts: 3, Seed: 7, JobDuration: 150 * time.Millisecond}, tokenProxy)
	for i, tok := range []any{nil, clientToken, echoToken} {
		if _, err := w.Pool.Exec(context.Background(), `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, tok, w.Clients[i]); err != nil {
			t.Fatal(err)
		}
	}
	dbURL := strings.Replace(w.DBURL, "postgres://postgres@", "postgres://postgres:"+dbPassword+"@", 1)
	if dbURL == w.DBURL {
		t.Fatalf("cannot put a password into %s", w.DBURL)
	}
	return w, dbURL
}

// The whole pipeline, run by the binary with recognisable tokens (the default one, a client's
// own, and one Meta answers with an error that echoes it) and a database password: none of
// them appears in a log line (text and json, debug level), an error, a staged file (Parquet
// decoded), the ledger, or a database column other than clients.meta_access_token. Every
// staged file and folder is readable by its owner only.
func TestSecretsNeverLeak(t *testing.T) {
	w, dbURL := secretWorld(t)
	ctx := context.Background()
	env := []string{"DATABASE_URL=" + dbURL, "META_ACCESS_TOKEN=" + envToken}
	var out strings.Builder
	runs := 0
	for _, format := range []string{"text", "json"} {
		for _, args := range [][]string{
			append([]string{"--verbose", "run", "--full"}, relArgs("--page-size", "25")[1:]...),
			{"status"}, {"status", "--json"}, {"plan", "--as-of", lastSunday.Format(time.DateOnly), "--weeks", "13"},
		} {
			c := exec.Command(binary, append([]string{"--stage-dir", w.Stage, "--log-format", format}, args...)...)
			c.Env = append(os.Environ(), "META_GRAPH_URL="+w.URL)
			c.Env = append(c.Env, env...)
			res := runCmd(t, c)
			if args[0] == "--verbose" {
				runs++
				if res.code != 1 || !strings.Contains(res.stderr, "190") {
					t.Errorf("run (%s): exit %d, want 1 with the echo client failed on 190:\n%s", format, res.code, res.stderr)
				}
			}
			out.WriteString(res.stdout + res.stderr)
		}
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Error("no scrubbed echo in the output: the echoing error never reached a log line")
	}
	for _, s := range canaries {
		if strings.Contains(out.String(), s) {
			i := strings.Index(out.String(), s)
			t.Errorf("%s printed: …%s…", s, out.String()[max(0, i-200):min(out.Len(), i+60)])
		}
	}
	for i := range 2 {
		e2etest.CheckClient(t, w.Pool, w.Sim, w.Sim.Accounts()[i], w.Clients[i], lastSunday, relWeeks)
	}

	// Every file under the stage folder: raw bytes, and Parquet decoded value by value.
	files := 0
	err := filepath.WalkDir(w.Stage, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if p != w.Stage {
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if info.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", p, info.Mode().Perm(), want)
			}
		}
		if d.IsDir() {
			return nil
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(b)
		if strings.HasSuffix(p, ".parquet") {
			text += parquetText(t, p)
		}
		for _, s := range canaries {
			if strings.Contains(text, s) {
				t.Errorf("%s holds %s", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// One run directory: the second run (json logs) resumed the first, which ended partial.
	// In it: plan.json, run.json, kpi.parquet, summaries.parquet, and per loaded client five
	// report files and five report-run files.
	if dirs, _ := filepath.Glob(filepath.Join(w.Stage, "*", "plan.json")); len(dirs) != 1 || files < 4+2*2*5 {
		t.Errorf("%d run directories, %d staged files checked", len(dirs), files)
	}

	// Every table as text, clients without its token column.
	rows, err := w.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 4 {
		t.Fatalf("tables: %v %v", tables, err)
	}
	for _, tbl := range tables {
		var dump string
		q := `SELECT coalesce(string_agg(to_jsonb(x)::text, E'\n'), '') FROM ` + quoteIdent(tbl) + ` x`
		if tbl == "clients" {
			q = `SELECT coalesce(string_agg((to_jsonb(x) - 'meta_access_token')::text, E'\n'), '') FROM clients x`
		}
		if err := w.Pool.QueryRow(ctx, q).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		for _, s := range canaries {
			if strings.Contains(dump, s) {
				t.Errorf("table %s holds %s", tbl, s)
			}
		}
	}
	t.Logf("%d runs (text and json logs), %d staged files and %d tables searched for %d canaries", runs, files, len(tables), len(canaries))
}

// quoteIdent quotes a table name read from the catalog (test code only).
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// parquetText is every value of a Parquet file, as text.
func parquetText(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var sb strings.Builder
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				for _, v := range row {
					sb.WriteString(v.String())
					sb.WriteByte('\n')
				}
			}
			if err != nil {
				break
			}
		}
		_ = rows.Close()
	}
	return sb.String()
}
