#!/usr/bin/env bash
# make bench: every benchmark side by side in one run, then one table, written to BENCHMARKS.md.
# BENCH=service (make bench-service) runs only the service's benchmarks (POST /v1/runs; one
# worker vs three) and replaces only their section of BENCHMARKS.md.
# Run under scripts/with-test-db.sh (make bench does), which sets TEST_DATABASE_URL.
# The benchmarks live in bench/ (the daily and the first run on a Meta-like model: old loop, its
# parallel fix and metapipe; metapipe's own CPU and memory; the service), store/, transform/ and
# extract/. BENCH_SAVE=FILE keeps the raw benchmark output (the report can be rendered again from
# it: see bench/report_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TEST_DATABASE_URL:?run under scripts/with-test-db.sh (make bench)}"
out=$(mktemp -d /tmp/metapipe-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
export METAPIPE_BIN="$PWD/bin/metapipe"
[ -x "$METAPIPE_BIN" ] || go build -o "$METAPIPE_BIN" ./cmd/metapipe

run() {
	echo "scripts/with-test-db.sh $*" >>"$out/commands"
	echo "\$ $*" >&2
	"$@" 2>&1 | tee -a "$out/bench.txt" >&2
}
start=$(date +%s)
if [ "${BENCH:-}" != service ]; then
	run go test -run '^$' -bench '^BenchmarkDaily$' -benchtime 1x -timeout 1h ./bench/
	run go test -run '^$' -bench '^BenchmarkFirstRun$' -benchtime 1x -timeout 1h ./bench/
	run go test -run '^$' -bench '^BenchmarkMetaAtItsWorst$' -benchtime 1x -timeout 1h ./bench/
	run go test -run '^$' -bench '^BenchmarkResources$' -benchtime 1x -timeout 1h ./bench/
	run go test -run '^$' -bench '^BenchmarkTransform(Simulated)?$' -benchtime 1x -timeout 1h ./transform/
	run go test -run '^$' -bench '^BenchmarkDecodePage$' -benchtime 2s -timeout 1h ./extract/
	run go test -run '^$' -bench '^BenchmarkLoad$' -benchtime 1x -timeout 2h ./store/
fi
run go test -run '^$' -bench '^BenchmarkPostRuns$' -benchtime 1x -timeout 1h ./bench/
run go test -run '^$' -bench '^BenchmarkWorkers$' -benchtime 1x -timeout 2h ./bench/
echo "(benchmarks: $(( $(date +%s) - start )) s)" >&2
if [ -n "${BENCH_SAVE:-}" ]; then cp "$out/bench.txt" "$BENCH_SAVE"; cp "$out/commands" "$BENCH_SAVE.commands"; fi

BENCH_ONLY="${BENCH:-}" BENCH_LOG="$out/bench.txt" BENCH_COMMANDS="$out/commands" BENCH_OUT="$PWD/BENCHMARKS.md" \
	go test -run '^TestReport$' -count=1 ./bench/ >/dev/null
cat BENCHMARKS.md
echo
echo "written to BENCHMARKS.md"
