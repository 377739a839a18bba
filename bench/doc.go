// Package bench holds the side-by-side benchmarks of metapipe against the collector it
// replaces (the old loop, kept here in benchmark code only), against that collector's own
// planned fix (the same synchronous calls, Parallel at once) and against the lower bound the
// Graph API simulator allows, plus metapipe's own CPU and peak memory as a built binary, and
// the renderer of BENCHMARKS.md. It has no product code: everything is in _test.go files.
//
// Run everything with `make bench` (scripts/bench.sh). One case by hand:
//
//	scripts/with-test-db.sh go test -run '^$' -bench 'Daily/clients=20' -benchtime 1x -timeout 1h ./bench/
//
// The runs use the Meta-like model of issue 13 (model_test.go): synchronous Insights reads of
// 600-1000 ms, submits of 300 ms, polls of 150 ms, result pages of 300 ms, report runs of
// 20 s ± 25 %, all divided by a scale (10 for the daily run, 20 and 1 for the first run), and
// metapipe's own time constants (the first poll, the longest wait between polls, the
// synchronous timeout) divided alike. Ratios are what to compare: every side runs in the same
// process against the same simulator configuration, one after the other, on a fresh database.
package bench
