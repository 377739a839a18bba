package bench

import (
	"fmt"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/pipeline"
)

// The Meta-like model of issue 13: the real Graph API's times, which a benchmark divides by its
// scale.
const (
	syncLatency   = 800 * time.Millisecond // a synchronous Insights read: 600-1000 ms
	syncJitter    = 200 * time.Millisecond
	submitLatency = 300 * time.Millisecond
	pollLatency   = 150 * time.Millisecond
	pageLatency   = 300 * time.Millisecond
	// The ad account read and anything else: not in the model; taken like a submit.
	otherLatency = 300 * time.Millisecond
	// A synchronous answer is charged 1 ms a row of the whole answer on its first page
	// (graphsim.Config.SyncRowCost): Meta computes it while the caller waits.
	syncRowCost = time.Millisecond
	jobDuration = 20 * time.Second // report runs: 20 s ± 25 %
	jobJitter   = 0.25
	weekPause   = 100 * time.Millisecond // the old loop's pause between weeks

	// Parallel is the old collector's planned fix: its calls, this many at once.
	Parallel = 32
)

// model is the Meta-like model divided by scale.
type model struct{ scale int }

func (m model) d(x time.Duration) time.Duration { return x / time.Duration(m.scale) }

func (m model) String() string { return fmt.Sprintf("÷%d", m.scale) }

// sim is the simulator's configuration for the model.
func (m model) sim() graphsim.Config {
	return graphsim.Config{
		Latency: m.d(otherLatency),
		KindLatency: map[string]graphsim.Latency{
			graphsim.KindSync:    {Base: m.d(syncLatency), Jitter: m.d(syncJitter)},
			graphsim.KindSubmit:  {Base: m.d(submitLatency)},
			graphsim.KindPoll:    {Base: m.d(pollLatency)},
			graphsim.KindResults: {Base: m.d(pageLatency)},
			graphsim.KindAccount: {Base: m.d(otherLatency)},
		},
		SyncRowCost: m.d(syncRowCost),
		JobDuration: m.d(jobDuration),
		JobJitter:   jobJitter,
	}
}

// config is metapipe with the product's defaults (--concurrency auto, --sync-weeks 8, pages of
// 500), its own time constants divided by the same scale as Meta's: the first poll (2 s), the
// longest wait between polls (2 min), the synchronous read's timeout (30 s) and the throttle's
// cooldown (extract.DefaultCooldown, 5 s). So a run at ÷20 is the real one, twenty times faster.
func (m model) config() pipeline.Config {
	return pipeline.Config{
		Token:       extract.NewToken(graphsim.DemoToken),
		Concurrency: pipeline.ConcurrencyAuto,
		Sync:        extract.SyncConfig{Weeks: extract.DefaultSyncWeeks, Timeout: m.d(30 * time.Second)},
		Poll:        extract.PollConfig{First: m.d(2 * time.Second), Max: m.d(2 * time.Minute)},
		Throttle:    extract.ThrottleConfig{Cooldown: m.d(extract.DefaultCooldown), RegainUnit: m.d(time.Minute)},
		PageSize:    PageSize,
	}
}

// todayPolls is how many polls today's schedule (before issue 13: the first after 2 s, then
// doubling the wait up to 30 s, both divided by the scale) takes to see a run of length d done,
// each poll reaching Meta a poll's latency after it is sent.
func (m model) todayPolls(d time.Duration) int {
	wait, at, polls := m.d(2*time.Second), time.Duration(0), 0
	for {
		at += wait
		polls++
		if at+m.d(pollLatency) >= d {
			return polls
		}
		wait = min(2*wait, m.d(30*time.Second))
	}
}
