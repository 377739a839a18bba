package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/backoff"
)

func TestPolicyDoublesUpToTheCapAndStops(t *testing.T) {
	b := backoff.Policy{Base: 100 * time.Millisecond, Cap: 500 * time.Millisecond, MaxAttempts: 6}.Backoff()
	want := []time.Duration{100, 200, 400, 500, 500}
	for i, w := range want {
		d, stop := b.Next()
		if stop || d != w*time.Millisecond {
			t.Fatalf("wait %d = %v (stop %v), want %v", i+1, d, stop, w*time.Millisecond)
		}
	}
	if _, stop := b.Next(); !stop {
		t.Error("a 6th wait was given for 6 attempts")
	}
}

func TestPolicyJitterStaysWithinItsPercentAndTheCap(t *testing.T) {
	for range 200 {
		b := backoff.Policy{Base: time.Second, Cap: 3 * time.Second, JitterPercent: 20}.Backoff()
		for i, base := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
			d, _ := b.Next()
			if lo, hi := base*8/10, min(base*12/10, 3*time.Second); d < lo || d > hi {
				t.Fatalf("wait %d = %v, want %v..%v", i+1, d, lo, hi)
			}
		}
	}
}

func TestDoRetriesOnlyWhatIsMarked(t *testing.T) {
	fast := backoff.Policy{Base: time.Millisecond, MaxAttempts: 3}
	calls := 0
	errTransient := errors.New("transient")
	err := backoff.Do(context.Background(), fast, func(context.Context) error {
		calls++
		return backoff.Retryable(errTransient)
	})
	if calls != 3 || !errors.Is(err, errTransient) || err != errTransient {
		t.Errorf("marked: %d calls, err %v; want 3 calls and the error unmarked", calls, err)
	}
	calls = 0
	errFatal := errors.New("fatal")
	err = backoff.Do(context.Background(), fast, func(context.Context) error { calls++; return errFatal })
	if calls != 1 || err != errFatal {
		t.Errorf("unmarked: %d calls, err %v; want 1 call", calls, err)
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	start := time.Now()
	if err := backoff.Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("Sleep did not end with the context")
	}
	if err := backoff.Sleep(context.Background(), 0); err != nil {
		t.Errorf("zero wait: %v", err)
	}
}
