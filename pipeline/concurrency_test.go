package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
)

func appUsage(pct float64) extract.Usage { return extract.Usage{Percent: pct, App: pct, HasApp: true} }

// wantFill lets clients into the gate until it is full and fails the test unless want got in;
// when says at which step.
func wantFill(t *testing.T, g *clientGate, want int, when string) {
	t.Helper()
	if n := fill(g); n != want {
		t.Fatalf("%s: %d clients got in, want %d", when, n, want)
	}
}

// fill takes every free slot of the gate and reports how many it took.
func fill(g *clientGate) int {
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := g.acquire(ctx)
		cancel()
		if err != nil {
			return n // the gate is full; a client is left waiting no more
		}
		n++
	}
}

// waitFor makes the gate see a client waiting for a slot, as the extract stage's loop does.
func waitFor(g *clientGate) {
	g.mu.Lock()
	g.waiting = true
	g.mu.Unlock()
}

func TestFixedGate(t *testing.T) {
	g := newClientGate(4, AutoConcurrency{}, 100)
	wantFill(t, g, 4, "a gate of 4")
	waitFor(g)
	for range 100 {
		g.observe(appUsage(1))
	}
	wantFill(t, g, 0, "low usage in a fixed gate")
	g.release()
	wantFill(t, g, 1, "a release")
	if r := g.record(); r.Mode != "fixed" || r.Peak != 4 || r.Cuts != 0 || r.MaxAppUsage != 1 {
		t.Errorf("record %+v", r)
	}
}

// Low usage while clients wait raises the limit, one per reading until the first cut, then
// one per round of readings; a high usage halves it, at most once per round; in between, or
// with nobody waiting, it holds; it never goes above the clients of the stage or below 1.
func TestAutoGate(t *testing.T) {
	g := newClientGate(ConcurrencyAuto, AutoConcurrency{Start: 4}, 50)
	wantFill(t, g, 4, "started")
	g.observe(appUsage(10)) // nobody waits: holds
	wantFill(t, g, 0, "usage without a client waiting")
	for i := range 6 {
		waitFor(g)
		g.observe(appUsage(10))
		g.observe(appUsage(10)) // the slot it opened is not taken yet: no second step
		wantFill(t, g, 1, fmt.Sprintf("low reading %d", i+1))
	}
	waitFor(g)
	g.observe(appUsage(70))               // between Low and High: holds
	g.observe(extract.Usage{Percent: 99}) // no app-wide figure: holds
	wantFill(t, g, 0, "usage at 70 %, or without an app-wide figure")
	g.observe(appUsage(80)) // 10 → 5
	g.observe(appUsage(90)) // within the same round: no second cut
	if r := g.record(); r.Final != 5 || r.Cuts != 1 || r.High != 10 {
		t.Fatalf("after a high reading: %+v, want the limit halved once to 5", r)
	}
	for range 10 {
		g.release() // 10 in flight → 0
	}
	wantFill(t, g, 5, "after the cut")
	// After a cut, a round of low readings (as many as the limit) adds one.
	waitFor(g)
	for range 4 {
		g.observe(appUsage(10))
	}
	wantFill(t, g, 0, "four low readings after a cut")
	waitFor(g)
	g.observe(appUsage(10))
	wantFill(t, g, 1, "a round of low readings after a cut")
	for range 20 {
		g.observe(appUsage(100))
	}
	if r := g.record(); r.Final < 1 || r.Low != r.Final || r.Cuts < 2 {
		t.Errorf("under 100 %%: %+v, want cut again, never below 1", r)
	}
	// Never above the stage's clients.
	h := newClientGate(ConcurrencyAuto, AutoConcurrency{Start: 2}, 3)
	wantFill(t, h, 2, "a start of 2")
	waitFor(h)
	for range 10 {
		h.observe(appUsage(1))
	}
	wantFill(t, h, 1, "low usage in a stage of 3 clients, 2 in")
}
