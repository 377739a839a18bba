// Package bench holds the side-by-side benchmarks of metapipe against the collector it
// replaces (the old loop, kept here in benchmark code only) and against the lower bound the
// Graph API simulator allows, plus the peak memory of the built binary and the renderer of
// BENCHMARKS.md. It has no product code: everything is in _test.go files.
//
// Run everything with `make bench` (scripts/bench.sh). One case by hand:
//
//	scripts/with-test-db.sh go test -run '^$' -bench 'EndToEnd/clients=10' -benchtime 1x -timeout 1h ./bench/
//
// The latency model is the real Graph API's, scaled down by Scale (20): 800 ms ± 200 ms per
// call becomes 40 ms ± 10 ms, the old loop's 100 ms pause between weeks becomes 5 ms, and a
// report run takes the simulator's default 2 s (about 40 s of a real async job, scaled alike).
// Ratios are what to compare: both sides run in the same process against the same simulator
// configuration, one after the other.
package bench
