package extract

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

// memFleet is a FleetThrottle in memory: holds by account.
type memFleet struct {
	mu    sync.Mutex
	until map[string]time.Time
	asks  int
}

func (f *memFleet) Hold(_ context.Context, account string, d time.Duration, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := time.Now().Add(d); u.After(f.until[account]) {
		f.until[account] = u
	}
	return nil
}

func (f *memFleet) HeldFor(_ context.Context, account string) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asks++
	return max(0, time.Until(f.until[account])), nil
}

// A hold one process learns from Meta holds every process of the fleet; with MaxInline a hold
// longer than it is a *WaitError instead of a sleep.
func TestFleetThrottleHoldsEveryProcess(t *testing.T) {
	fleet := &memFleet{until: map[string]time.Time{}}
	cfg := ThrottleConfig{Cooldown: 300 * time.Millisecond, Fleet: fleet}
	c := NewClient("http://graph.invalid", "", "")
	a := c.Session("act_42", NewToken("t"), NewThrottle(cfg)).Throttle
	b := c.Session("act_42", NewToken("t"), NewThrottle(cfg)).Throttle
	other := c.Session("act_7", NewToken("t"), NewThrottle(cfg)).Throttle

	a.Throttled(http.Header{}) // a throttled answer without a regain time: the cooldown
	start := time.Now()
	if _, err := b.Wait(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("the other process waited %s, want about the 300 ms hold", waited)
	}
	start = time.Now()
	if _, err := other.Wait(context.Background(), false); err != nil || time.Since(start) > 200*time.Millisecond {
		t.Errorf("another account was held: %v after %s", err, time.Since(start))
	}

	inline := cfg
	inline.MaxInline = 50 * time.Millisecond
	c2 := c.Session("act_42", NewToken("t"), NewThrottle(inline)).Throttle
	a.Throttled(http.Header{})
	_, err := c2.Wait(context.Background(), false)
	var we *WaitError
	if !errors.As(err, &we) || time.Until(we.Until) < 100*time.Millisecond {
		t.Errorf("a hold longer than MaxInline: %v, want a *WaitError about 300 ms away", err)
	}
}
