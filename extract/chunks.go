package extract

import (
	"context"
	"errors"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/internal/records"
)

// Chunks cuts r into week-aligned ranges of at most weeks weekly buckets each, in date order:
// every chunk but the first starts on the Monday after the previous one ends, and the last
// ends on r.Until. weeks < 1 is taken as 1.
func (r Range) Chunks(weeks int) []Range {
	weeks = max(1, weeks)
	var out []Range
	for since := r.Since; !since.After(r.Until); since = since.AddDate(0, 0, 7*weeks) {
		until := since.AddDate(0, 0, 7*weeks-1)
		if until.After(r.Until) {
			until = r.Until
		}
		out = append(out, Range{Since: since, Until: until})
	}
	return out
}

// fetchChunks reads rng in week-aligned chunks of r.chunkWeeks weeks, every chunk at once (at
// most SyncConfig.Parallel of the client's in flight, every kind together), each with the
// synchronous request unless a report run of it is saved (a resumed run polls it), and each
// falling back on its own to a report run of its range (split further as a report run is, when
// too large) where a short range would. The rows are joined in date order. sync is true when
// every chunk was read synchronously; fallback names the first chunk's reason to give way.
func (r *reportRunner) fetchChunks(ctx context.Context, rng Range) (rows []records.InsightRow, sync bool, fallback string, err error) {
	chunks := rng.Chunks(r.chunkWeeks)
	r.chunks = len(chunks)
	parts := make([][]records.InsightRow, len(chunks))
	reasons := make([]string, len(chunks))
	var waits []*WaitError
	waitOf := make([]*WaitError, len(chunks))
	var byRun atomic.Int64 // chunks read by report runs
	g, gctx := errgroup.WithContext(ctx)
	for i, c := range chunks {
		g.Go(func() error {
			if _, saved := r.runs.find(c); !saved {
				rows, err := r.readSync(gctx, c, r.chunkSlots)
				var fb *syncFallback
				if !errors.As(err, &fb) {
					parts[i] = rows
					return err
				}
				r.s.Stats.SyncFallbacks.Add(1)
				r.chunkFallbacks.Add(1)
				reasons[i] = fb.reason
			}
			byRun.Add(1)
			rows, err := r.fetch(gctx, c)
			if we, ok := asWait(err); ok {
				waitOf[i] = we
				return nil // the other chunks go on; the kind waits for this one
			}
			parts[i] = rows
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, false, firstNonEmpty(reasons), err
	}
	for _, w := range waitOf {
		if w != nil {
			waits = append(waits, w)
		}
	}
	if len(waits) > 0 {
		w := waits[0]
		for _, x := range waits[1:] {
			w = earlier(w, x)
		}
		return nil, false, firstNonEmpty(reasons), w
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	rows = make([]records.InsightRow, 0, n)
	for _, p := range parts {
		rows = append(rows, p...)
	}
	return rows, byRun.Load() == 0, firstNonEmpty(reasons), nil
}

func firstNonEmpty(ss []string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
