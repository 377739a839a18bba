package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/api"
	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/e2etest"
	"github.com/metapipe/metapipe/internal/pgtest"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
	"github.com/metapipe/metapipe/store"
)

// The service benchmarks' latency model: the real API's 800 ms ± 200 ms per call divided by 20,
// and report runs of 2 s (the simulator's default), the same for every kind of call, so that the
// figures compare with issue 12's.
const (
	Latency     = 800 * time.Millisecond / 20 // per call
	Jitter      = 200 * time.Millisecond / 20 // ± uniform
	JobDuration = 2 * time.Second             // per report run
)

// The service's benchmarks (issue 12): how fast POST /v1/runs answers, and 1,000 client-years
// worked by one worker process and by three.
const (
	postCallers = 100   // concurrent callers of POST /v1/runs
	postFleet   = 1000  // clients in the database
	serviceConc = 32    // --concurrency of each worker process (run's default)
	serviceN    = 1000  // client-years of the workers benchmark
	apiToken    = "tok" // the benchmark server's API token
)

// BenchmarkPostRuns measures POST /v1/runs over loopback HTTP with 100 concurrent callers on a
// database of 1,000 clients, for runs of one client and of the whole fleet (1,000 jobs
// inserted per request): each caller posts distinct runs (another client or another as-of
// date), so that every request queues one. It reports the latency's p50, p99 and maximum and
// the requests per second.
func BenchmarkPostRuns(b *testing.B) {
	for _, tc := range []struct{ size, callers, perCaller int }{
		{1, 1, 100}, {1, postCallers, 10}, {postFleet, 1, 20}, {postFleet, postCallers, 2},
	} {
		size, callers, perCaller := tc.size, tc.callers, tc.perCaller
		b.Run(fmt.Sprintf("clients=%d/callers=%d", size, callers), func(b *testing.B) {
			var lat []time.Duration
			var wall time.Duration
			for b.Loop() {
				b.StopTimer()
				base, pool := postWorld(b)
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: postCallers}, Timeout: time.Minute}
				lat = make([]time.Duration, 0, callers*perCaller)
				var mu sync.Mutex
				var wg sync.WaitGroup
				errs := make(chan error, callers)
				b.StartTimer()
				start := time.Now()
				for c := range callers {
					wg.Go(func() {
						for r := range perCaller {
							i := c*perCaller + r
							body := fmt.Sprintf(`{"as_of": %q, "weeks": 54}`, asOf.AddDate(0, 0, -i).Format(time.DateOnly))
							if size == 1 {
								body = fmt.Sprintf(`{"clients": ["Bench client %04d"], "as_of": %q}`, i%postFleet, asOf.AddDate(0, 0, -i/postFleet).Format(time.DateOnly))
							}
							req, _ := http.NewRequest(http.MethodPost, base+"/v1/runs", strings.NewReader(body))
							req.Header.Set("Authorization", "Bearer "+apiToken)
							t0 := time.Now()
							res, err := client.Do(req)
							d := time.Since(t0)
							if err != nil {
								errs <- err
								return
							}
							var msg bytes.Buffer
							_, _ = bufio.NewReader(res.Body).WriteTo(&msg)
							res.Body.Close()
							if res.StatusCode != http.StatusAccepted {
								errs <- fmt.Errorf("POST %s: %d %s", body, res.StatusCode, msg.String())
								return
							}
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				wall = time.Since(start)
				b.StopTimer()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				var jobs int
				if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job`).Scan(&jobs); err != nil || jobs != len(lat)*size {
					b.Fatalf("%d jobs queued, want %d (%v)", jobs, len(lat)*size, err)
				}
				b.StartTimer()
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))].Seconds() * 1000 }
			b.ReportMetric(q(0.50), "p50_ms")
			b.ReportMetric(q(0.99), "p99_ms")
			b.ReportMetric(lat[len(lat)-1].Seconds()*1000, "max_ms")
			b.ReportMetric(float64(len(lat))/wall.Seconds(), "req/s")
			b.ReportMetric(float64(len(lat)), "requests")
			b.ReportMetric(float64(size), "jobs/request")
		})
	}
}

// postWorld is a migrated database with 1,000 clients and serve's API (no worker) on a
// loopback server.
func postWorld(b *testing.B) (string, *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(b)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := store.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	if _, err := service.MigrateRiver(ctx, pool, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO clients (name, meta_ad_account_id, active)
		SELECT format('Bench client %s', to_char(i, 'FM0000')), 'act_' || (1000000000 + i), true FROM generate_series(0, $1 - 1) i`, postFleet); err != nil {
		b.Fatal(err)
	}
	svc, err := service.Open(ctx, service.Config{Pipeline: pipeline.Config{DatabaseURL: dbURL, Token: extract.NewToken("unused")}, ID: "bench-api"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	srv, err := api.New(svc, api.Options{Token: apiToken, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	return hs.URL, pool
}

// BenchmarkWorkers works 1,000 client-years (54 weeks each) queued as one run, by one
// `metapipe worker` process and by three (each --concurrency 32), against the same in-process
// simulator (the latency model of BenchmarkEndToEnd) on a fresh database each; the run is
// queued as POST /v1/runs does (service.Enqueue) and followed until it is over. For reference,
// `metapipe run --concurrency 32` does the same work in one process without the queue. It
// reports the wall time from the queuing to the run's end, the Graph API requests, and the
// jobs' attempts and snoozes.
func BenchmarkWorkers(b *testing.B) {
	bin := metapipeBin(b)
	for _, procs := range []int{0, 1, 3} {
		name := fmt.Sprintf("clients=%d/workers=%d", serviceN, procs)
		if procs == 0 {
			name = fmt.Sprintf("clients=%d/run", serviceN)
		}
		b.Run(name, func(b *testing.B) {
			var wall time.Duration
			var w *world
			var fetches, snoozes, attempts int
			for b.Loop() {
				b.StopTimer()
				ctx := context.Background()
				w = newWorld(b, serviceN, graphsim.Config{Latency: Latency, Jitter: Jitter, JobDuration: JobDuration})
				if procs == 0 {
					b.StartTimer()
					start := time.Now()
					runProc(b, bin, w, "run", "--as-of", asOf.Format(time.DateOnly), "--weeks", fmt.Sprint(Weeks), "--concurrency", fmt.Sprint(serviceConc))
					wall = time.Since(start)
					continue
				}
				if _, err := service.MigrateRiver(ctx, w.pool, nil); err != nil {
					b.Fatal(err)
				}
				var workers []*exec.Cmd
				var logs []*e2etest.Buffer
				for i := range procs {
					cmd, log := startWorker(b, bin, w, fmt.Sprintf("worker-%d", i+1))
					workers, logs = append(workers, cmd), append(logs, log)
				}
				svc, err := service.Open(ctx, service.Config{Pipeline: pipeline.Config{DatabaseURL: w.dbURL, Token: extract.NewToken(graphsim.DemoToken)}, ID: "bench-enqueue"})
				if err != nil {
					b.Fatal(err)
				}
				w.sim.ResetCounters()
				b.StartTimer()
				start := time.Now()
				id, err := svc.Enqueue(ctx, service.RunRequest{AsOf: asOf, Weeks: Weeks, Source: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				var r *service.RunView
				for {
					if r, err = svc.Run(ctx, id); err != nil {
						b.Fatal(err)
					}
					if r.FinishedAt != nil {
						break
					}
					if time.Since(start) > 30*time.Minute {
						b.Fatalf("run not over after 30 minutes")
					}
					time.Sleep(250 * time.Millisecond)
				}
				wall = time.Since(start)
				b.StopTimer()
				for i, cmd := range workers {
					_ = cmd.Process.Signal(syscall.SIGTERM)
					if err := cmd.Wait(); err != nil {
						b.Errorf("worker-%d: %v\n%s", i+1, err, logs[i].String())
					}
				}
				svc.Close()
				if r.State != "done" || len(r.Clients) != serviceN {
					b.Fatalf("run %s: %s with %d clients", id, r.State, len(r.Clients))
				}
				if err := w.pool.QueryRow(ctx, `SELECT sum(array_length(attempted_by, 1)), sum(coalesce((metadata->>'snoozes')::int, 0)), sum(attempt)
					FROM river_job WHERE kind = 'metapipe_client_run'`).Scan(&fetches, &snoozes, &attempts); err != nil {
					b.Fatal(err)
				}
				if attempts > serviceN { // say what the retries were
					rows, err := w.pool.Query(ctx, `SELECT left(e->>'error', 300), count(*) FROM river_job, unnest(errors) e
						WHERE kind = 'metapipe_client_run' GROUP BY 1 ORDER BY 2 DESC LIMIT 5`)
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
						var msg string
						var n int
						_ = rows.Scan(&msg, &n)
						b.Logf("%d× %s", n, msg)
					}
					rows.Close()
				}
				b.StartTimer()
			}
			var rows int
			if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM campaign_summaries`).Scan(&rows); err != nil || rows < serviceN*50 {
				b.Fatalf("%d rows loaded (%v)", rows, err)
			}
			c := w.sim.Counters()
			b.ReportMetric(wall.Seconds(), "wall_s")
			b.ReportMetric(float64(sum(c.Requests)), "requests")
			b.ReportMetric(float64(c.Requests[graphsim.KindSubmit])/serviceN, "runs/client")
			b.ReportMetric(float64(c.Requests[graphsim.KindPoll]), "polls")
			b.ReportMetric(float64(rows), "rows")
			if procs > 0 {
				b.ReportMetric(float64(fetches), "fetches")
				b.ReportMetric(float64(snoozes), "snoozes")
				b.ReportMetric(float64(attempts-serviceN), "retries")
			}
		})
	}
}

// startWorker starts a `metapipe worker` process on the world and waits until it works jobs.
func startWorker(b *testing.B, bin string, w *world, id string) (*exec.Cmd, *e2etest.Buffer) {
	b.Helper()
	cmd := exec.Command(bin, "--database-url", w.dbURL, "--stage-dir", b.TempDir(), "--log-format", "json",
		"worker", "--id", id, "--concurrency", fmt.Sprint(serviceConc))
	cmd.Env = append(os.Environ(), "META_GRAPH_URL="+w.url, "META_ACCESS_TOKEN="+graphsim.DemoToken)
	log := &e2etest.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), `"msg":"working jobs"`) {
		if time.Now().After(deadline) {
			b.Fatalf("%s did not start:\n%s", id, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, log
}

// runProc runs the binary on the world to its end.
func runProc(b *testing.B, bin string, w *world, args ...string) {
	b.Helper()
	cmd := exec.Command(bin, append([]string{"--database-url", w.dbURL, "--stage-dir", b.TempDir(), "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "META_GRAPH_URL="+w.url, "META_ACCESS_TOKEN="+graphsim.DemoToken)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("metapipe %s: %v\n%s", args[0], err, out[max(0, len(out)-4000):])
	}
}
