package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/pipeline"
)

// Resource runs: a small latency so that 1,000 client-years finish in about a minute.
const (
	resLatency     = time.Millisecond
	resJobDuration = 200 * time.Millisecond
	resConcurrency = 8
)

// resRunFlags are the flags of the measured `metapipe run` besides the database, the stage
// folder, the as-of date and the weeks: the command of today's figure (issue 13, before any
// change: 128.2 ms of CPU per client-year at 1,000 client-years, peak RSS 164 MB), and the
// product's defaults (--concurrency auto) with the poll times of 200-ms report runs.
var resRunFlags = map[string][]string{
	"c8":   {"--concurrency", fmt.Sprint(resConcurrency), "--poll-first", resJobDuration.String(), "--poll-max", "1s"},
	"auto": {"--poll-first", resJobDuration.String(), "--poll-max", "1s"},
}

// TodayCPUPerClientYear is metapipe's own CPU per client-year at 1,000 client-years before
// issue 13 changed anything (commit f1e382c, BenchmarkResources/clients=1000/c8, 2026-11-29:
// 128.2 s of CPU, 116.1 user + 12.0 system), and its peak RSS in the same run.
const (
	TodayCPUPerClientYear = 128.2 // ms
	TodayPeakRSS1000      = 164.4 // MB
)

// metapipeBin is the binary under test: METAPIPE_BIN (make bench sets bin/metapipe), else a
// fresh build.
func metapipeBin(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("METAPIPE_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			b.Fatal(err)
		}
		return abs
	}
	out := filepath.Join(b.TempDir(), "metapipe")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/metapipe")
	cmd.Dir = ".."
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

// startSim serves the simulator as a process of its own (`metapipe sim`), so that its CPU is
// not counted with metapipe's, and returns its URL and the exact command. The process is
// stopped (SIGTERM) when the benchmark ends.
func startSim(b *testing.B, bin string, accounts int, latency, jobDuration time.Duration) (string, string) {
	b.Helper()
	args := []string{"--log-format", "json", "sim", "--addr", "127.0.0.1:0", "--seed", fmt.Sprint(Seed),
		"--accounts", fmt.Sprint(accounts), "--latency", latency.String(), "--jitter", "0s", "--job-duration", jobDuration.String()}
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("metapipe sim: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	var ev struct {
		Msg string `json:"msg"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.URL == "" {
		b.Fatalf("metapipe sim: no URL in %q (%v)", line, err)
	}
	return ev.URL, "metapipe " + strings.Join(args, " ")
}

// BenchmarkResources runs the built binary, `metapipe run`, as a child process against the
// simulator served by another child process (`metapipe sim`), with 100 and 1,000 accounts (one
// client each, 54 weeks: n client-years; with today's command, and at 1,000 also with the
// product's --concurrency auto), and reports the run's own peak resident set
// (getrusage ru_maxrss of the child, i.e. VmHWM) and CPU time (user + system of the child: the
// simulator's and PostgreSQL's are not in it). The same run gives the transform's rows/s over
// n client-years of staged files (from its ledger).
func BenchmarkResources(b *testing.B) {
	bin := metapipeBin(b)
	for _, c := range []struct {
		n     int
		flags string
	}{{100, "c8"}, {1000, "c8"}, {1000, "auto"}} {
		n, flags := c.n, resRunFlags[c.flags]
		b.Run(fmt.Sprintf("clients=%d/%s", n, c.flags), func(b *testing.B) {
			var ru *syscall.Rusage
			var wall time.Duration
			var l *pipeline.Ledger
			var runCmd, simCmd string
			for b.Loop() {
				b.StopTimer()
				simURL, sc := startSim(b, bin, n, resLatency, resJobDuration)
				simCmd = sc
				// The same seed and accounts give the same world: seed the database from an
				// in-process twin of the served simulator.
				w := newDB(b, n)
				stage := b.TempDir()
				args := append([]string{"--database-url", w.dbURL, "--stage-dir", stage, "--log-format", "json", "run",
					"--as-of", asOf.Format(time.DateOnly), "--weeks", fmt.Sprint(Weeks)}, flags...)
				runCmd = fmt.Sprintf("META_GRAPH_URL=<sim> metapipe run --weeks %d %s", Weeks, strings.Join(flags, " "))
				cmd := exec.CommandContext(context.Background(), bin, args...)
				cmd.Env = append(os.Environ(), "META_GRAPH_URL="+simURL, "META_ACCESS_TOKEN="+graphsim.DemoToken)
				var stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stderr, &stderr
				b.StartTimer()
				start := time.Now()
				err := cmd.Run()
				wall = time.Since(start)
				if err != nil {
					tail := stderr.Bytes()
					if len(tail) > 4000 {
						tail = tail[len(tail)-4000:]
					}
					b.Fatalf("metapipe run: %v\n%s", err, tail)
				}
				ru = cmd.ProcessState.SysUsage().(*syscall.Rusage)
				if l, err = pipeline.ReadLedger(pipeline.LatestRun(stage)); err != nil {
					b.Fatal(err)
				}
			}
			var rows int
			for _, c := range l.Clients {
				rows += c.Transform.Rows
			}
			if l.Status != pipeline.StatusDone || len(l.Clients) != n {
				b.Fatalf("run: status %s, %d clients", l.Status, len(l.Clients))
			}
			cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			b.Logf("simulator: %s", simCmd)
			b.Logf("command: %s", runCmd)
			b.ReportMetric(float64(ru.Maxrss)/1024, "peak_rss_MB") // KiB on Linux
			b.ReportMetric(wall.Seconds(), "wall_s")
			b.ReportMetric(cpu.Seconds(), "cpu_s")
			b.ReportMetric(time.Duration(ru.Utime.Nano()).Seconds(), "user_s")
			b.ReportMetric(time.Duration(ru.Stime.Nano()).Seconds(), "sys_s")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(n), "cpu_ms/client_year")
			b.ReportMetric(l.Timings.Transform, "transform_s")
			b.ReportMetric(float64(rows), "transform_rows")
			b.ReportMetric(float64(rows)/l.Timings.Transform, "transform_rows/s")
			b.ReportMetric(float64(n), "client_years")
			if cr := l.Concurrency; cr != nil {
				b.ReportMetric(float64(cr.Peak), "conc_peak")
				b.ReportMetric(cr.Average, "conc_avg")
			}
		})
	}
}
