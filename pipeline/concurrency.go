package pipeline

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/metapipe/metapipe/extract"
)

// ConcurrencyAuto is Config.Concurrency's adaptive setting, the default (`--concurrency auto`):
// as many clients in flight as Meta's app-wide usage headers allow.
const ConcurrencyAuto = 0

// AutoConcurrency tunes `--concurrency auto`. The zero value takes the defaults.
type AutoConcurrency struct {
	Start int     // clients in flight at first; defaults to DefaultAutoStart (32)
	Max   int     // never more than this many; defaults to MaxConcurrency (1000, the flag's upper bound)
	Low   float64 // the app-wide usage below which more clients may start; defaults to DefaultAutoLow (60 %)
	High  float64 // the app-wide usage at or above which the limit is cut; defaults to DefaultAutoHigh (75 %)
}

// ConcurrencyRecord is what the extract stage's concurrency was, in the ledger.
type ConcurrencyRecord struct {
	Mode    string  `json:"mode"`    // "auto" or "fixed"
	Start   int     `json:"start"`   // the limit at first
	Final   int     `json:"final"`   // the limit at the end
	Low     int     `json:"lowest"`  // the lowest limit reached
	High    int     `json:"highest"` // the highest limit reached
	Peak    int     `json:"peak"`    // the most clients in flight at once
	Average float64 `json:"average"` // clients in flight, averaged over the stage's time
	Cuts    int     `json:"cuts"`    // times the limit was cut (halved) for a high usage
	// MaxAppUsage is the highest app-wide usage the headers reported (percent; -1 when none
	// carried one).
	MaxAppUsage float64 `json:"max_app_usage"`
}

// clientGate decides how many clients are extracted at once: a fixed number, or (auto) a limit
// that follows Meta's app-wide usage headers, additive increase and multiplicative decrease
// (AIMD, as TCP paces a connection), every response a reading:
//
//   - A reading below Low, while a client is waiting for a slot and every slot is taken,
//     raises the limit: by one per reading until the first cut (a slow start, which takes a
//     run of a hundred clients to a hundred within its first round of submits), by one per
//     round of readings after it.
//   - A reading at or above High halves the limit (not below 1), at most once per round of
//     readings (as many readings as the limit), so that the readings of clients started before
//     the cut do not cut it again. Clients in flight finish; no new one starts until fewer
//     than the limit are in flight.
//   - Between the two, or without an app-wide figure in the headers, the limit holds.
//
// Only the app-wide figures count: they grow with the number of clients in flight, while an ad
// account's own usage grows with that client's calls alone and is paced by its
// extract.Throttle (no new report run at 75 %, no call at 95 %). A fixed gate ignores readings.
type clientGate struct {
	auto AutoConcurrency // zero for a fixed gate

	mu       sync.Mutex
	limit    int
	credit   int // low readings towards the next step, after the first cut
	inFlight int
	waiting  bool          // a client waits for a slot
	wake     chan struct{} // closed when a slot may have opened
	readings int           // readings so far
	cutAt    int           // readings at the last cut (-1: none yet)

	rec      ConcurrencyRecord
	since    time.Time // first acquire
	last     time.Time // last change of inFlight
	area     float64   // ∫ inFlight dt, in client-seconds
	finished time.Time // last release
}

// newClientGate returns a gate of n clients at once, or an adaptive one when n is
// ConcurrencyAuto. clients is how many clients the stage has: no limit goes above it.
func newClientGate(n int, auto AutoConcurrency, clients int) *clientGate {
	g := &clientGate{wake: make(chan struct{}), cutAt: -1}
	if n != ConcurrencyAuto {
		g.limit = n
		g.rec = ConcurrencyRecord{Mode: "fixed", Start: n, Final: n, Low: n, High: n, MaxAppUsage: -1}
		return g
	}
	g.auto = auto.WithDefaults()
	g.auto.Max = max(1, min(g.auto.Max, clients))
	start := min(g.auto.Start, g.auto.Max)
	g.limit = start
	g.rec = ConcurrencyRecord{Mode: "auto", Start: start, Final: start, Low: start, High: start, MaxAppUsage: -1}
	return g
}

// acquire waits for a slot, or for ctx to end.
func (g *clientGate) acquire(ctx context.Context) error {
	for {
		g.mu.Lock()
		if g.inFlight < g.limit {
			g.waiting = false
			g.move(+1)
			g.mu.Unlock()
			return nil
		}
		g.waiting = true
		wake := g.wake
		g.mu.Unlock()
		select {
		case <-ctx.Done():
			g.mu.Lock()
			g.waiting = false
			g.mu.Unlock()
			return ctx.Err()
		case <-wake:
		}
	}
}

// release gives a slot back.
func (g *clientGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.move(-1)
	g.finished = g.last
	g.signal()
}

// move changes the clients in flight by d and keeps the peak and the time average.
func (g *clientGate) move(d int) {
	now := time.Now()
	if g.since.IsZero() {
		g.since = now
	} else {
		g.area += float64(g.inFlight) * now.Sub(g.last).Seconds()
	}
	g.last = now
	g.inFlight += d
	g.rec.Peak = max(g.rec.Peak, g.inFlight)
}

// signal wakes the waiting client; call with g.mu held.
func (g *clientGate) signal() {
	close(g.wake)
	g.wake = make(chan struct{})
}

// observe takes one response's usage headers (extract.Client.OnUsage).
func (g *clientGate) observe(u extract.Usage) {
	if !u.HasApp {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rec.MaxAppUsage = max(g.rec.MaxAppUsage, u.App)
	if g.auto.Start == 0 {
		return // fixed
	}
	g.readings++
	switch {
	case u.App >= g.auto.High:
		if g.limit > 1 && (g.cutAt < 0 || g.readings-g.cutAt >= g.limit) {
			g.limit = max(1, g.limit/2)
			g.cutAt, g.credit = g.readings, 0
			g.rec.Cuts++
		}
	case u.App < g.auto.Low && g.waiting && g.inFlight >= g.limit && g.limit < g.auto.Max:
		g.credit++
		if g.cutAt < 0 || g.credit >= g.limit {
			g.limit++
			g.credit = 0
			g.signal()
		}
	}
	g.rec.Final, g.rec.Low, g.rec.High = g.limit, min(g.rec.Low, g.limit), max(g.rec.High, g.limit)
}

// record is the gate's ConcurrencyRecord so far.
func (g *clientGate) record() ConcurrencyRecord {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.rec
	if span := g.finished.Sub(g.since).Seconds(); span > 0 {
		r.Average = math.Round(100*g.area/span) / 100
	}
	return r
}
