// Package backoff is metapipe's one policy for waiting between attempts, and its one
// cancellable sleep. The Graph API client backs off between retries of a transient error, the
// polls of a report run space out, and the load waits before retrying a transaction after a
// deadlock, all with a [Policy]: exponential from Base, doubling, capped at Cap, with a jitter
// of ±JitterPercent so that many clients retrying at once spread out. The waits and the retry
// loop are github.com/sethvargo/go-retry's; this package only fixes how they are combined.
package backoff

import (
	"context"
	"time"

	"github.com/sethvargo/go-retry"
)

// Policy is an exponential backoff with a cap, jitter and optional bounds on the attempts and on
// the time spent.
type Policy struct {
	Base          time.Duration // the first wait
	Cap           time.Duration // the longest wait; 0 means no cap
	JitterPercent uint64        // each wait is moved by up to ± this percent; 0 means none
	MaxAttempts   int           // attempts in all, the first included; 0 means unbounded
	MaxElapsed    time.Duration // no new wait starts after this long; 0 means unbounded
}

// Backoff returns a fresh go-retry Backoff following the policy: Base, 2×Base, 4×Base, …, each
// moved by its jitter, then capped at Cap. Next reports stop once MaxAttempts-1 waits were given
// or MaxElapsed has passed since Backoff was called.
func (p Policy) Backoff() retry.Backoff {
	b := retry.NewExponential(p.Base)
	if p.JitterPercent > 0 {
		b = retry.WithJitterPercent(p.JitterPercent, b)
	}
	if p.Cap > 0 {
		b = retry.WithCappedDuration(p.Cap, b)
	}
	if p.MaxAttempts > 0 {
		b = retry.WithMaxRetries(uint64(p.MaxAttempts-1), b)
	}
	if p.MaxElapsed > 0 {
		b = retry.WithMaxDuration(p.MaxElapsed, b)
	}
	return b
}

// Do calls f until it succeeds, returns an error not marked with [Retryable], or the policy
// stops (then the last error is returned, unmarked); it waits the policy's backoff between
// attempts and stops early with ctx's error when ctx is done.
func Do(ctx context.Context, p Policy, f func(ctx context.Context) error) error {
	return retry.Do(ctx, p.Backoff(), f)
}

// Retryable marks err as worth another attempt under [Do]; nil stays nil.
func Retryable(err error) error { return retry.RetryableError(err) }

// Sleep waits d, or until ctx is done; it returns ctx's error if ctx ended first (or had
// already ended), else nil. A d ≤ 0 returns at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
