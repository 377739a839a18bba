package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT is not set (150
// MiB): the collector then works harder as the heap nears it, instead of letting it grow to
// twice the live heap (GOGC 100) while many report runs' results are decoded at once. At 1,000
// client-years with --concurrency auto the live heap stays near 90 MB (BENCHMARKS.md); a
// larger one only costs more collections (the runtime caps them at half the CPU). GOMEMLIMIT
// set in the environment, "off" included, wins.
const defaultMemoryLimit = 150 << 20

func init() {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
