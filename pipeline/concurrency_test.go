package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
)

func appUsage(pct float64) extract.Usage { return extract.Usage{Percent: pct, App: pct, HasApp: true} }

// fill takes every free slot of the gate and reports how many it took.
func fill(t *testing.T, g *clientGate) int {
	t.Helper()
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
	if n := fill(t, g); n != 4 {
		t.Fatalf("a gate of 4 let %d clients in", n)
	}
	waitFor(g)
	for range 100 {
		g.observe(appUsage(1))
	}
	if n := fill(t, g); n != 0 {
		t.Errorf("low usage let %d more clients into a fixed gate", n)
	}
	g.release()
	if n := fill(t, g); n != 1 {
		t.Errorf("a release let %d clients in, want 1", n)
	}
	if r := g.record(); r.Mode != "fixed" || r.Peak != 4 || r.Cuts != 0 || r.MaxAppUsage != 1 {
		t.Errorf("record %+v", r)
	}
}

// Low usage while clients wait raises the limit, one per reading until the first cut, then
// one per round of readings; a high usage halves it, at most once per round; in between, or
// with nobody waiting, it holds; it never goes above the clients of the stage or below 1.
func TestAutoGate(t *testing.T) {
	g := newClientGate(ConcurrencyAuto, AutoConcurrency{Start: 4}, 50)
	if n := fill(t, g); n != 4 {
		t.Fatalf("started with %d, want 4", n)
	}
	g.observe(appUsage(10)) // nobody waits: holds
	if n := fill(t, g); n != 0 {
		t.Fatalf("the limit rose without a client waiting (%d more)", n)
	}
	for i := range 6 {
		waitFor(g)
		g.observe(appUsage(10))
		g.observe(appUsage(10)) // the slot it opened is not taken yet: no second step
		if n := fill(t, g); n != 1 {
			t.Fatalf("low reading %d let %d more clients in, want 1", i+1, n)
		}
	}
	waitFor(g)
	g.observe(appUsage(70))               // between Low and High: holds
	g.observe(extract.Usage{Percent: 99}) // no app-wide figure: holds
	if n := fill(t, g); n != 0 {
		t.Fatalf("the limit moved at 70 %% or without an app-wide figure (%d more)", n)
	}
	g.observe(appUsage(80)) // 10 → 5
	g.observe(appUsage(90)) // within the same round: no second cut
	if r := g.record(); r.Final != 5 || r.Cuts != 1 || r.High != 10 {
		t.Fatalf("after a high reading: %+v, want the limit halved once to 5", r)
	}
	for range 10 {
		g.release() // 10 in flight → 0
	}
	if n := fill(t, g); n != 5 {
		t.Fatalf("after the cut %d clients in, want 5", n)
	}
	// After a cut, a round of low readings (as many as the limit) adds one.
	waitFor(g)
	for range 4 {
		g.observe(appUsage(10))
	}
	if n := fill(t, g); n != 0 {
		t.Errorf("four low readings after a cut let %d more in, want none yet", n)
	}
	waitFor(g)
	g.observe(appUsage(10))
	if n := fill(t, g); n != 1 {
		t.Errorf("a round of low readings after a cut let %d more in, want 1", n)
	}
	for range 20 {
		g.observe(appUsage(100))
	}
	if r := g.record(); r.Final < 1 || r.Low != r.Final || r.Cuts < 2 {
		t.Errorf("under 100 %%: %+v, want cut again, never below 1", r)
	}
	// Never above the stage's clients.
	h := newClientGate(ConcurrencyAuto, AutoConcurrency{Start: 2}, 3)
	fill(t, h)
	waitFor(h)
	for range 10 {
		h.observe(appUsage(1))
	}
	if n := fill(t, h); n != 1 {
		t.Errorf("a stage of 3 clients let in %d more than 2, want 1", n)
	}
}
