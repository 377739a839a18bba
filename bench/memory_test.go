package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/metapipe/metapipe/fixtures"
	"github.com/metapipe/metapipe/pipeline"
)

// Memory runs: a small latency so that 1,000 client-years finish in about a minute.
const (
	memLatency     = time.Millisecond
	memJobDuration = 200 * time.Millisecond
	memConcurrency = 8
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

// BenchmarkMemory runs the built binary, `metapipe run`, as a child process against an
// in-process simulator with 100 and 1,000 accounts (one client each, 54 weeks), and reports
// the child's peak resident set (getrusage ru_maxrss of the child, i.e. VmHWM). The same run
// gives the transform's rows/s over n client-years of staged files (from its ledger).
func BenchmarkMemory(b *testing.B) {
	bin := metapipeBin(b)
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			var rss int64
			var wall, cpu time.Duration
			var l *pipeline.Ledger
			var cmdline string
			for b.Loop() {
				b.StopTimer()
				w := newWorld(b, n, fixtures.Config{Latency: memLatency, JobDuration: memJobDuration})
				stage := b.TempDir()
				args := []string{"--database-url", w.dbURL, "--stage-dir", stage, "--log-format", "json", "run",
					"--as-of", asOf.Format(time.DateOnly), "--weeks", fmt.Sprint(Weeks),
					"--concurrency", fmt.Sprint(memConcurrency), "--poll-first", memJobDuration.String(), "--poll-max", "1s"}
				cmdline = fmt.Sprintf("META_GRAPH_URL=<sim> metapipe run --weeks %d --concurrency %d --poll-first %s --poll-max 1s",
					Weeks, memConcurrency, memJobDuration)
				cmd := exec.CommandContext(context.Background(), bin, args...)
				cmd.Env = append(os.Environ(), "META_GRAPH_URL="+w.url, "META_ACCESS_TOKEN="+fixtures.DemoToken)
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
				rss = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss        // KiB on Linux
				cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime() // metapipe's own, the simulator excluded
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
			b.Logf("command: %s", cmdline)
			b.ReportMetric(float64(rss)/1024, "peak_rss_MB")
			b.ReportMetric(wall.Seconds(), "wall_s")
			b.ReportMetric(cpu.Seconds(), "cpu_s")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(n), "cpu_ms/client_year")
			b.ReportMetric(l.Timings.Transform, "transform_s")
			b.ReportMetric(float64(rows), "transform_rows")
			b.ReportMetric(float64(rows)/l.Timings.Transform, "transform_rows/s")
			b.ReportMetric(float64(n), "client_years")
		})
	}
}
