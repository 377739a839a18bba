package bench

// TestReport renders BENCHMARKS.md from the output of the benchmarks; scripts/bench.sh runs
// it last. Without BENCH_LOG it is skipped (it is not a test of anything). To render again
// from a saved run (make bench with BENCH_SAVE=FILE):
//
//	BENCH_LOG=FILE BENCH_COMMANDS=FILE.commands BENCH_OUT=$PWD/BENCHMARKS.md go test -run '^TestReport$' -count=1 ./bench/

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
)

// keptMarker starts the part of BENCHMARKS.md that TestReport keeps as it is.
const keptMarker = "<!-- kept by make bench: hand-written sections below -->"

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseBench reads `go test -bench` output: benchmark name (without Benchmark and the
// GOMAXPROCS suffix) → unit → value.
func parseBench(path string) (map[string]map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		vals := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				vals[f[i+1]] = v
			}
		}
		out[m[1]] = vals
	}
	return out, sc.Err()
}

type results map[string]map[string]float64

// get returns a metric, NaN when absent.
func (r results) get(name, unit string) float64 {
	if v, ok := r[name][unit]; ok {
		return v
	}
	return math.NaN()
}

func fs(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// maxKnown is the larger of a and b, leaving out a NaN (a figure not measured).
func maxKnown(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return math.Max(a, b)
}

func ratio(a, b float64) string {
	if v := a / b; !math.IsNaN(v) && !math.IsInf(v, 0) {
		return fs(v, 1) + "×"
	}
	return "n/a"
}

func verdict(ok bool, v float64) string {
	switch {
	case math.IsNaN(v):
		return "not measured"
	case ok:
		return "**met**"
	}
	return "**missed**"
}

// tableHead writes a Markdown table's header row and its separator, one cell per column (""
// for an empty one), through p.
func tableHead(p func(string, ...any), cols ...string) {
	row := "|"
	for _, c := range cols {
		if c != "" {
			row += " " + c
		}
		row += " |"
	}
	p("%s", row)
	p("|%s", strings.Repeat("---|", len(cols)))
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// oldWall is the old loop's wall time for a run of n clients: measured, or (it is strictly
// sequential) n times the per-client time of the measured run of `from` clients, with a note.
func (r results) oldWall(prefix string, n, from int) (float64, string) {
	if v := r.get(fmt.Sprintf("%s/clients=%d/old-loop", prefix, n), "wall_s"); !math.IsNaN(v) {
		return v, fs(v, 1)
	}
	per := r.get(fmt.Sprintf("%s/clients=%d/old-loop", prefix, from), "s/client")
	v := per * float64(n)
	return v, fmt.Sprintf("%s (%d × the %d-client run's %s s per client)", fs(v, 0), n, from, fs(per, 2))
}

func TestReport(t *testing.T) {
	logPath := os.Getenv("BENCH_LOG")
	if logPath == "" {
		t.Skip("renders BENCHMARKS.md from benchmark output; run by scripts/bench.sh (BENCH_LOG)")
	}
	r0, err := parseBench(logPath)
	if err != nil {
		t.Fatal(err)
	}
	r := results(r0)
	cmds, _ := os.ReadFile(os.Getenv("BENCH_COMMANDS"))
	out := os.Getenv("BENCH_OUT")
	if out == "" {
		out = "../BENCHMARKS.md"
	}
	if os.Getenv("BENCH_ONLY") == "service" { // make bench-service: that section only
		old, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, []byte(replaceSection(string(old), serviceSection(r, string(cmds)))), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var md strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&md, format+"\n", a...) }
	head := func(cols ...string) { tableHead(p, cols...) }

	p("# Benchmarks")
	p("")
	when := time.Now()
	if st, err := os.Stat(logPath); err == nil {
		when = st.ModTime() // the run's end, also when rendered again from a saved run
	}
	p("Written by `make bench` (scripts/bench.sh) from its run that ended %s: %d cores (`nproc`), %s, %s, %s/%s. "+
		"Machines are shared and noisy: compare the ratios, which come from one run; absolute times wander.",
		when.UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	p("")
	p("Reproduce with `make bench` (about 25 minutes; `make bench-service` for the service's section alone), or one part at a time:")
	p("")
	p("```")
	p("%s```", cmds)
	p("")

	// The model.
	p("## The Meta-like model (bench/model_test.go)")
	p("")
	p("The simulator answers like the Graph API of issue 13, its times divided by the benchmark's scale: a synchronous Insights "+
		"read %s ± %s, a submit %s, a poll %s, a result page %s (the ad account read, not in the model, %s), report runs "+
		"%s ± %.0f %% (each run's duration drawn from the seed). Everything runs in one process on loopback against a local "+
		"PostgreSQL, each side on a fresh database seeded alike.", syncLatency, syncJitter, submitLatency, pollLatency, pageLatency,
		otherLatency, jobDuration, 100*jobJitter)
	p("")
	p("- **Old loop**: the collector metapipe replaces (bench/oldloop_test.go): per client and week, four synchronous calls "+
		"(pages of 100), one KPI query, one upsert, %s between weeks (scaled); strictly sequential.", weekPause)
	p("- **Parallel-sync fix**: the old collector's own planned fix: the same calls and database round trips, %d calls at once "+
		"(%d weeks of all clients at a time, each week's four calls together).", Parallel, Parallel/4)
	p("- **metapipe**: the product's defaults (`--concurrency auto`, `--sync-weeks %d`, pages of 500), its own time constants "+
		"(first poll 2 s, longest wait between polls 2 min, synchronous timeout 30 s, throttle cooldown 30 s) divided by the same "+
		"scale, so that a run at ÷20 is the real one twenty times faster.", extract.DefaultSyncWeeks)
	p("- **Lower bound**: what the simulator allows a client that knows everything in advance, every client in one wave (`auto` "+
		"lets them all in while the usage headers stay low), as long as the slowest client: a report read synchronously costs one "+
		"synchronous read per page at the model's longest (%s, divided by the scale: with a hundred reads or more in a wave one is "+
		"that slow); one read by a report run costs the submit, the run's own duration as the simulator drew it, one poll and "+
		"its pages, ceil(rows/500), one after another. It leaves out the ad account reads, the KPI query, the transform and the "+
		"load: *extract ÷ bound* compares the extract stage with it, *wall ÷ bound* the whole run.", syncLatency+syncJitter)
	p("")

	// The daily run.
	p("## The daily run: five or six weeks per client, ÷10")
	p("")
	p("The database says yesterday's run made every week before the last four final, so a run as of today fetches from the " +
		"Monday after the last final Sunday (`weeks` below); the old loop and its fix fetch the same weeks. *report runs only* is " +
		"metapipe with `--sync-weeks 0`.")
	p("")
	head("clients", "weeks", "old loop s", "parallel-sync fix s", "metapipe s", "metapipe ÷ old loop", "metapipe ÷ fix", "metapipe extract s", "lower bound s", "extract ÷ bound", "wall ÷ bound", "report runs only s")
	type dailyRow struct{ old, fix, bound float64 }
	daily := map[int]dailyRow{}
	for _, n := range []int{20, 100} {
		pre := fmt.Sprintf("Daily/clients=%d", n)
		oldV, oldLabel := r.oldWall("Daily", n, 20)
		fix, mp := r.get(pre+"/parallel-sync", "wall_s"), pre+"/metapipe"
		wall, ext, bound := r.get(mp, "wall_s"), r.get(mp, "extract_s"), r.get(mp, "bound_s")
		p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", n, fs(r.get(mp, "weeks"), 0), oldLabel, fs(fix, 2), fs(wall, 2),
			ratio(oldV, wall), ratio(fix, wall), fs(ext, 2), fs(bound, 2), ratio(ext, bound), ratio(wall, bound),
			fs(r.get(pre+"/metapipe-report-runs", "wall_s"), 2))
		daily[n] = dailyRow{oldV / wall, fix / wall, ext / bound}
	}
	p("")

	// The first run.
	p("## The first run: 54 weeks per client, ÷20 and ÷1")
	p("")
	p("At ÷1 the old loop is not run (three clients would take about nine minutes); the fix and metapipe are.")
	p("")
	head("scale", "clients", "old loop s", "parallel-sync fix s", "metapipe s", "metapipe ÷ old loop", "metapipe ÷ fix", "metapipe extract s", "lower bound s", "extract ÷ bound", "wall ÷ bound", "clients at once: peak / average")
	type firstRow struct{ old, fix, bound float64 }
	first := map[string]firstRow{}
	firstCases := []struct{ scale, n int }{{20, 20}, {20, 100}, {1, 3}}
	for _, c := range firstCases {
		pre := fmt.Sprintf("FirstRun/scale=%d/clients=%d", c.scale, c.n)
		oldV, oldLabel := math.NaN(), "n/a"
		if c.scale > 1 {
			oldV, oldLabel = r.oldWall(fmt.Sprintf("FirstRun/scale=%d", c.scale), c.n, 20)
		}
		fix, mp := r.get(pre+"/parallel-sync", "wall_s"), pre+"/metapipe"
		wall, ext, bound := r.get(mp, "wall_s"), r.get(mp, "extract_s"), r.get(mp, "bound_s")
		p("| ÷%d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |", c.scale, c.n, oldLabel, fs(fix, 2), fs(wall, 2),
			ratio(oldV, wall), ratio(fix, wall), fs(ext, 2), fs(bound, 2), ratio(ext, bound), ratio(wall, bound),
			fs(r.get(mp, "conc_peak"), 0), fs(r.get(mp, "conc_avg"), 1))
		first[fmt.Sprint(c.scale, "/", c.n)] = firstRow{oldV / wall, fix / wall, ext / bound}
	}
	p("")

	// Polls.
	p("## Polls per report run")
	p("")
	p("Counted by the simulator for every report run; *seen late* is how long after its end a poll first saw the run done, as a " +
		"share of the run's length; *today's schedule* is what the polls before issue 13 (the first after 2 s, then doubling the " +
		"wait up to 30 s, scaled alike) would have cost for the same runs, computed from their durations.")
	p("")
	head("run", "report runs", "1 poll", "2", "3", "4", "5", "6 or more", "most", "seen late: median / max", "polls", "today's schedule: polls")
	type pollRun struct{ label, name string }
	pollRuns := []pollRun{{"first run ÷20, 20 clients", "FirstRun/scale=20/clients=20/metapipe"},
		{"first run ÷20, 100 clients", "FirstRun/scale=20/clients=100/metapipe"},
		{"first run ÷1, 3 clients", "FirstRun/scale=1/clients=3/metapipe"},
		{"daily, report runs only, ÷10, 20 clients", "Daily/clients=20/metapipe-report-runs"},
		{"daily, report runs only, ÷10, 100 clients", "Daily/clients=100/metapipe-report-runs"}}
	maxPolls := math.NaN()
	for _, pr := range pollRuns {
		var cells []string
		for i := 1; i <= 6; i++ {
			cells = append(cells, fs(r.get(pr.name, fmt.Sprintf("runs_with_%d_polls", i)), 0))
		}
		mx := r.get(pr.name, "max_polls/run")
		if strings.HasPrefix(pr.name, "FirstRun") {
			maxPolls = maxKnown(maxPolls, mx)
		}
		p("| %s | %s | %s | %s | %s / %s %% | %s | %s |", pr.label, fs(r.get(pr.name, "report_runs"), 0), strings.Join(cells, " | "), fs(mx, 0),
			fs(r.get(pr.name, "seen_late_median_%"), 1), fs(r.get(pr.name, "seen_late_max_%"), 1), fs(r.get(pr.name, "req_poll"), 0),
			fs(r.get(pr.name, "today_polls"), 0))
	}
	p("")

	// Requests.
	p("## Requests per kind, for each run")
	p("")
	p("What each side asked of the Graph API (the simulator's counters). *today* is metapipe before issue 13 on the same work, " +
		"computed: for the first run its report runs, pages and account reads with today's polls (above); for the daily run " +
		"the report-runs-only run's, with today's polls.")
	p("")
	head("run", "side", "account", "sync", "submit", "poll", "results", "total", "per client")
	reqRow := func(run, side, name string) {
		var cells []string
		for _, k := range []string{graphsim.KindAccount, graphsim.KindSync, graphsim.KindSubmit, graphsim.KindPoll, graphsim.KindResults} {
			cells = append(cells, fs(r.get(name, "req_"+k), 0))
		}
		p("| %s | %s | %s | %s | %s |", run, side, strings.Join(cells, " | "), fs(r.get(name, "requests"), 0), fs(r.get(name, "req/client"), 1))
	}
	todayRow := func(run, from string, n int) {
		polls := r.get(from, "today_polls")
		total := r.get(from, "requests") - r.get(from, "req_poll") + polls
		p("| %s | today (computed) | %s | 0 | %s | %s | %s | %s | %s |", run, fs(r.get(from, "req_account"), 0), fs(r.get(from, "req_submit"), 0),
			fs(polls, 0), fs(r.get(from, "req_results"), 0), fs(total, 0), fs(total/float64(n), 1))
	}
	for _, n := range []int{20, 100} {
		run := fmt.Sprintf("daily, %d clients", n)
		pre := fmt.Sprintf("Daily/clients=%d", n)
		if _, ok := r[pre+"/old-loop"]; ok {
			reqRow(run, "old loop", pre+"/old-loop")
		}
		reqRow(run, "parallel-sync fix", pre+"/parallel-sync")
		reqRow(run, "metapipe", pre+"/metapipe")
		reqRow(run, "metapipe, report runs only", pre+"/metapipe-report-runs")
		todayRow(run, pre+"/metapipe-report-runs", n)
	}
	for _, c := range firstCases {
		run := fmt.Sprintf("first run ÷%d, %d clients", c.scale, c.n)
		pre := fmt.Sprintf("FirstRun/scale=%d/clients=%d", c.scale, c.n)
		if _, ok := r[pre+"/old-loop"]; ok {
			reqRow(run, "old loop", pre+"/old-loop")
		}
		reqRow(run, "parallel-sync fix", pre+"/parallel-sync")
		reqRow(run, "metapipe", pre+"/metapipe")
		todayRow(run, pre+"/metapipe", c.n)
	}
	p("")
	wasted := math.NaN()
	for _, name := range []string{"Daily/clients=20/metapipe", "Daily/clients=100/metapipe", "FirstRun/scale=20/clients=20/metapipe",
		"FirstRun/scale=20/clients=100/metapipe", "FirstRun/scale=1/clients=3/metapipe"} {
		wasted = maxKnown(wasted, r.get(name, "wasted_pages"))
	}
	p("Wasted pages (pages and synchronous requests beyond ceil(rows/500) per report kind): at most %s in any metapipe run.", fs(wasted, 0))
	p("")

	// Resources.
	p("## metapipe's own CPU and memory (BenchmarkResources)")
	p("")
	p("The built binary, `metapipe run`, as a child process; the simulator is another child (`metapipe sim`, latency %s, "+
		"report runs %s), so the CPU (user + system, getrusage of the child) and the peak RSS (ru_maxrss = VmHWM) are metapipe's "+
		"alone. 54 weeks per client: n clients are n client-years. *c8* is the command of today's figure "+
		"(`--concurrency 8 --poll-first 200ms --poll-max 1s`), *auto* the product's defaults with the same poll times. Today's "+
		"figure, measured before any change of issue 13 with the c8 command (commit f1e382c): %.1f ms of CPU per client-year at "+
		"1,000 client-years, peak RSS %.0f MB.", resLatency, resJobDuration, TodayCPUPerClientYear, TodayPeakRSS1000)
	p("")
	head("client-years", "command", "CPU s (user + system)", "CPU ms per client-year", "÷ today's figure", "peak RSS MB", "wall s", "transform s", "transform rows/s", "clients at once: peak / average")
	for _, c := range []struct {
		n     int
		flags string
	}{{100, "c8"}, {1000, "c8"}, {1000, "auto"}} {
		m := fmt.Sprintf("Resources/clients=%d/%s", c.n, c.flags)
		cpu := r.get(m, "cpu_ms/client_year")
		p("| %d | %s | %s (%s + %s) | %s | %s | %s | %s | %s | %s | %s / %s |", c.n, c.flags, fs(r.get(m, "cpu_s"), 1), fs(r.get(m, "user_s"), 1),
			fs(r.get(m, "sys_s"), 1), fs(cpu, 1), fs(cpu/TodayCPUPerClientYear, 2)+"×", fs(r.get(m, "peak_rss_MB"), 1), fs(r.get(m, "wall_s"), 1),
			fs(r.get(m, "transform_s"), 2), fs(r.get(m, "transform_rows/s"), 0), fs(r.get(m, "conc_peak"), 0), fs(r.get(m, "conc_avg"), 1))
	}
	cpu1000 := r.get("Resources/clients=1000/c8", "cpu_ms/client_year")
	rss1000 := maxKnown(r.get("Resources/clients=1000/c8", "peak_rss_MB"), r.get("Resources/clients=1000/auto", "peak_rss_MB"))
	p("")

	// Load.
	p("## Load: 5,400 and 54,000 summary rows, campaign_data of 5-50 KB (store/bench_test.go)")
	p("")
	head("rows", "network", "ours rows/s", "ours MB/s", "per-row upserts rows/s", "plain COPY (unlogged) rows/s", "ours ÷ COPY", "ours ÷ per-row", "first load s", "unchanged rerun s", "first ÷ rerun")
	type lr struct{ copyRatio, rowRatio, rerun float64 }
	loads := map[string]lr{}
	for _, n := range []int{5400, 54000} {
		for _, nw := range []string{"local", "proxy10ms"} {
			pre := fmt.Sprintf("Load/rows=%d/%s/", n, nw)
			perRow := pre + "per-row-upsert"
			if _, ok := r[perRow]; !ok {
				perRow = pre + "per-row-upsert-first1000"
			}
			ours, cp, pr := r.get(pre+"load-empty", "rows/s"), r.get(pre+"copy-unlogged", "rows/s"), r.get(perRow, "rows/s")
			first, re := r.get(pre+"load-empty", "s/op"), r.get(pre+"load-unchanged", "s/op")
			prLabel := fs(pr, 0)
			if strings.HasSuffix(perRow, "first1000") {
				prLabel += " (first 1,000 rows)"
			}
			p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", n, nw, fs(ours, 0), fs(r.get(pre+"load-empty", "MB/s"), 1),
				prLabel, fs(cp, 0), fs(ours/cp, 2)+"×", ratio(ours, pr), fs(first, 2), fs(re, 2), ratio(first, re))
			loads[fmt.Sprint(n, nw)] = lr{ours / cp, ours / pr, first / re}
		}
	}
	p("")
	p("The unchanged rerun writes nothing: the benchmark fails unless every row comes back as unchanged.")
	p("")

	// Transform.
	p("## Transform")
	p("")
	p("BenchmarkTransform (transform/bench_test.go, 200 synthetic client-years, 53 weeks, 52 raw rows per summary row, " +
		"both paths on the same staged files in one run):")
	p("")
	head("data", "path", "summary rows/s", "raw rows/s", "CPU s per op (user + system, every goroutine)", "raw rows per CPU s")
	for _, bench := range []struct{ name, label string }{{"Transform", "synthetic"}, {"TransformSimulated", "simulator, 200 accounts"}} {
		for _, path := range []struct{ name, label string }{
			{"rows", "rows: parquet-go row reconstruction, shopspring decimals (before issue 13)"},
			{"columns", "columns: Arrow record batches, udecimal figures"},
		} {
			m := bench.name + "/" + path.name
			p("| %s | %s | %s | %s | %s | %s |", bench.label, path.label, fs(r.get(m, "rows/s"), 0), fs(r.get(m, "raw_rows/s"), 0),
				fs(r.get(m, "cpu_s/op"), 2), fs(r.get(m, "raw_rows/cpu_s"), 0))
		}
	}
	p("")
	p("Columns ÷ rows: %s synthetic, %s on the simulator's data (BenchmarkTransformSimulated). BenchmarkDecodePage (extract/decode_test.go, a page of 500 campaign rows decoded and parsed): "+
		"maps %s rows/s, typed rows %s rows/s (%s).",
		ratio(r.get("Transform/columns", "raw_rows/s"), r.get("Transform/rows", "raw_rows/s")),
		ratio(r.get("TransformSimulated/columns", "raw_rows/s"), r.get("TransformSimulated/rows", "raw_rows/s")),
		fs(r.get("DecodePage/maps", "rows/s"), 0), fs(r.get("DecodePage/typed", "rows/s"), 0),
		ratio(r.get("DecodePage/typed", "rows/s"), r.get("DecodePage/maps", "rows/s")))
	p("")

	md.WriteString(serviceSection(r, ""))
	p("")

	// Targets.
	p("## Targets of issue 13")
	p("")
	head("target", "figure", "verdict")
	for _, n := range []int{20, 100} {
		d := daily[n]
		p("| daily run, %d clients: ≥ 20× faster than the old loop | %s | %s |", n, ratio(d.old, 1), verdict(d.old >= 20, d.old))
		p("| daily run, %d clients: ≥ 3× faster than the parallel-sync fix | %s | %s |", n, ratio(d.fix, 1), verdict(d.fix >= 3, d.fix))
		p("| daily run, %d clients: within 1.5× of the lower bound (extract ÷ bound) | %s | %s |", n, ratio(d.bound, 1), verdict(d.bound <= 1.5, d.bound))
	}
	for _, c := range firstCases {
		f := first[fmt.Sprint(c.scale, "/", c.n)]
		p("| first run ÷%d, %d clients: within 1.25× of the lower bound (extract ÷ bound) | %s | %s |", c.scale, c.n, ratio(f.bound, 1), verdict(f.bound <= 1.25, f.bound))
	}
	f100 := first["20/100"]
	p("| first run, 100 clients, default concurrency: ≥ 100× the old loop | %s | %s |", ratio(f100.old, 1), verdict(f100.old >= 100, f100.old))
	p("| polls per report run ≤ 4 (first runs) | most %s | %s |", fs(maxPolls, 0), verdict(maxPolls <= 4, maxPolls))
	p("| no wasted page | %s | %s |", fs(wasted, 0), verdict(wasted == 0, wasted))
	p("| metapipe's own CPU per client-year at 1,000 client-years ≤ a quarter of today's %.1f ms | %s ms (%s of today's) | %s |", TodayCPUPerClientYear,
		fs(cpu1000, 1), fs(cpu1000/TodayCPUPerClientYear, 2)+"×", verdict(cpu1000 <= TodayCPUPerClientYear/4, cpu1000))
	p("| peak memory at 1,000 client-years ≤ 200 MB | %s MB | %s |", fs(rss1000, 0), verdict(rss1000 <= 200, rss1000))
	tr := r.get("Transform/columns", "raw_rows/s")
	p("| transform ≥ 2,000,000 raw rows/s (point 4, another change) | %s | %s |", fs(tr, 0), verdict(tr >= 2e6, tr))
	p("")
	p("### Targets of issue 5 that these benchmarks still measure")
	p("")
	head("target", "figure", "verdict")
	for _, k := range []string{"5400local", "54000local", "5400proxy10ms", "54000proxy10ms"} {
		v := loads[k]
		p("| load ≥ 0.9× plain COPY (%s) | %s | %s |", k, fs(v.copyRatio, 2)+"×", verdict(v.copyRatio >= 0.9, v.copyRatio))
	}
	for _, k := range []string{"5400proxy10ms", "54000proxy10ms"} {
		v := loads[k]
		p("| load ≥ 20× per-row upserts through the 10 ms proxy (%s) | %s | %s |", k, ratio(v.rowRatio, 1), verdict(v.rowRatio >= 20, v.rowRatio))
	}
	for _, k := range []string{"5400local", "54000local", "5400proxy10ms", "54000proxy10ms"} {
		v := loads[k]
		p("| unchanged rerun ≥ 10× faster than the first load, writing nothing (%s) | %s | %s |", k, ratio(v.rerun, 1), verdict(v.rerun >= 10, v.rerun))
	}
	p("")
	if notes, err := os.ReadFile("report_notes.md"); err == nil {
		p("%s", strings.TrimSpace(string(notes)))
		p("")
	}

	// Hand-written sections (measurements with their own commands) follow keptMarker in the file
	// and survive a new rendering.
	if old, err := os.ReadFile(out); err == nil {
		if _, kept, ok := strings.Cut(string(old), keptMarker); ok {
			p("%s%s", keptMarker, strings.TrimRight(kept, "\n"))
		}
	}
	if err := os.WriteFile(out, []byte(md.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The service's section is kept between these markers, so that make bench-service can
// replace it alone.
const (
	serviceBegin = "<!-- service benchmarks: written by make bench or make bench-service -->"
	serviceEnd   = "<!-- end of the service benchmarks -->"
)

// replaceSection puts the service's section in place of the one in md, or before the targets
// when md has none.
func replaceSection(md, section string) string {
	if i, j := strings.Index(md, serviceBegin), strings.Index(md, serviceEnd); i >= 0 && j > i {
		return md[:i] + section + md[j+len(serviceEnd)+1:]
	}
	if i := strings.Index(md, "## Targets of issue 5"); i >= 0 {
		return md[:i] + section + "\n" + md[i:]
	}
	return md + "\n" + section
}

// serviceSection renders the service's benchmarks (bench/service_test.go); cmds, when not
// empty, are the commands of a make bench-service run.
func serviceSection(r results, cmds string) string {
	var md strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&md, format+"\n", a...) }
	head := func(cols ...string) { tableHead(p, cols...) }
	p("%s", serviceBegin)
	p("## The service: POST /v1/runs and workers (issue 12)")
	p("")
	if cmds != "" {
		p("Written by `make bench-service` on %s (%d cores, %s); the rest of this file by the last `make bench`. Reproduce with:",
			time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel())
		p("")
		p("```")
		p("%s```", cmds)
		p("")
	}
	p("**POST /v1/runs** (`BenchmarkPostRuns`): `serve`'s API without a worker on a loopback HTTP server, a database of %s clients; "+
		"every request queues a run (each caller posts other clients or another as-of date; the benchmark checks afterwards that every job was queued). "+
		"A whole-fleet run inserts %s River jobs and %s rows of its own in its one transaction.", thousands(postFleet), thousands(postFleet), thousands(postFleet))
	p("")
	head("run of", "concurrent callers", "requests", "p50 ms", "p99 ms", "max ms", "requests/s", "jobs queued/s")
	for _, size := range []int{1, postFleet} {
		for _, callers := range []int{1, postCallers} {
			n := fmt.Sprintf("PostRuns/clients=%d/callers=%d", size, callers)
			p("| %s client%s | %d | %s | %s | %s | %s | %s | %s |", thousands(size), map[bool]string{true: "", false: "s"}[size == 1], callers,
				fs(r.get(n, "requests"), 0), fs(r.get(n, "p50_ms"), 1), fs(r.get(n, "p99_ms"), 1), fs(r.get(n, "max_ms"), 1),
				fs(r.get(n, "req/s"), 0), fs(r.get(n, "req/s")*float64(size), 0))
		}
	}
	p("")
	p("The answer never waits for the run: it is the run's rows and jobs committed. Alone, a one-client POST takes the "+
		"p50 above and a whole-fleet one the time to insert its %s jobs; under %d callers at once the figures are mostly the queue "+
		"for this machine's %d cores (and for the API process's %d database connections), which the whole test shares with PostgreSQL: "+
		"the latency is about callers ÷ requests/s.", thousands(postFleet), postCallers, runtime.NumCPU(), 10)
	p("")
	p("**%s client-years, one worker process vs three** (`BenchmarkWorkers`): one run of %s clients × %d weeks queued as POST /v1/runs queues it, "+
		"worked by `metapipe worker --concurrency %d` processes (the binary, as deployed) against the simulator in the benchmark's process "+
		"(%s ± %s per call, report runs of %s: the latency model above), each on a fresh database; wall time from the queuing to the run's end. "+
		"`metapipe run --concurrency %d` does the same work in one process without the queue, for reference.",
		thousands(serviceN), thousands(serviceN), Weeks, serviceConc, Latency, Jitter, JobDuration, serviceConc)
	p("")
	head("", "wall s", "Graph API requests", "report runs per client", "polls", "River fetches", "snoozes", "attempts retried", "rows")
	ref := fmt.Sprintf("Workers/clients=%d/run", serviceN)
	p("| `metapipe run --concurrency %d` (reference) | %s | %s | %s | %s | | | | %s |", serviceConc, fs(r.get(ref, "wall_s"), 1),
		fs(r.get(ref, "requests"), 0), fs(r.get(ref, "runs/client"), 2), fs(r.get(ref, "polls"), 0), fs(r.get(ref, "rows"), 0))
	for _, n := range []int{1, 3} {
		k := fmt.Sprintf("Workers/clients=%d/workers=%d", serviceN, n)
		p("| %d × `metapipe worker --concurrency %d` | %s | %s | %s | %s | %s | %s | %s | %s |", n, serviceConc, fs(r.get(k, "wall_s"), 1),
			fs(r.get(k, "requests"), 0), fs(r.get(k, "runs/client"), 2), fs(r.get(k, "polls"), 0), fs(r.get(k, "fetches"), 0),
			fs(r.get(k, "snoozes"), 0), fs(r.get(k, "retries"), 0), fs(r.get(k, "rows"), 0))
	}
	one, three := r.get(fmt.Sprintf("Workers/clients=%d/workers=1", serviceN), "wall_s"), r.get(fmt.Sprintf("Workers/clients=%d/workers=3", serviceN), "wall_s")
	p("")
	p("Three workers took %s s against one's %s s (%s faster) for the same requests: every process here shares the same %d cores with the simulator "+
		"and PostgreSQL, so the third of the work each does is bounded by the CPU, not by the slots; on machines of their own they add "+
		"their cores. The jobs did not snooze because a report run of %s is done at the first poll (2 s); with Meta's real minutes "+
		"a job snoozes between polls and a worker's slots serve other clients meanwhile.", fs(three, 1), fs(one, 1), ratio(one, three), runtime.NumCPU(), JobDuration)
	p("%s", serviceEnd)
	return md.String()
}

// thousands writes n with a thousands separator, as the prose of this file does.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
