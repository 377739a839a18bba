package extract

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/metapipe/metapipe/internal/backoff"
)

// Usage is what Meta's usage headers say about the quotas that limit one ad account's Insights
// calls, as the highest percentage of them, and how long Meta says to wait before access
// returns.
type Usage struct {
	// Percent is the fullest of the figures that gate Insights calls (0..100+): the
	// ads_insights entries of x-business-use-case-usage and x-fb-ads-insights-throttle.
	Percent float64
	Regain  time.Duration // estimated_time_to_regain_access of an ads_insights entry (minutes in the header)
	Reset   time.Duration // reset_time_duration (seconds in the header)
	// App is x-fb-ads-insights-throttle's app_id_util_pct, the app-wide Insights quota every
	// client of a run shares; HasApp says whether the headers carried it.
	App    float64
	HasApp bool
	// Other is the fullest figure of the headers that do not gate Insights calls (x-app-usage,
	// x-ad-account-usage, x-business-use-case-usage entries of other types): parsed, logged,
	// never paced by.
	Other float64
}

// insightsUseCase says whether an x-business-use-case-usage entry of this type gates Insights
// calls: ads_insights (Meta's Rate Limiting page lists the types: ads_insights,
// ads_management, custom_audience, …), or an entry without a type.
func insightsUseCase(typ string) bool { return typ == "" || typ == "ads_insights" }

// ParseUsage reads the four usage headers (docs/META_API.md, "Usage headers and pacing"). Only
// the figures that gate Insights calls count in Percent: Meta says the Marketing API is excluded
// from the Graph API's app-level limits (x-app-usage), x-ad-account-usage describes ads API
// calls of v3.3 and older, and of x-business-use-case-usage only the ads_insights entries apply
// (developers.facebook.com/docs/marketing-apis/rate-limiting). Malformed headers are ignored:
// they inform pacing, they are not data. regainUnit is one "minute" (shortened in tests).
func ParseUsage(h http.Header, regainUnit time.Duration) (Usage, bool) {
	var u Usage
	seen := false
	maxf := func(v float64) {
		if v > u.Percent {
			u.Percent = v
		}
	}
	app := func(v float64) {
		maxf(v)
		u.App, u.HasApp = max(u.App, v), true
	}
	other := func(vs ...float64) {
		for _, v := range vs {
			u.Other = max(u.Other, v)
		}
	}
	if s := h.Get("x-app-usage"); s != "" {
		var raw map[string]float64
		if json.Unmarshal([]byte(s), &raw) == nil {
			seen = true
			other(raw["call_count"], raw["total_time"], raw["total_cputime"])
		}
	}
	if s := h.Get("x-ad-account-usage"); s != "" {
		var v struct {
			Pct   float64 `json:"acc_id_util_pct"`
			Reset float64 `json:"reset_time_duration"`
		}
		if json.Unmarshal([]byte(s), &v) == nil {
			seen = true
			other(v.Pct)
			if v.Reset > 0 {
				u.Reset = time.Duration(v.Reset * float64(time.Second))
			}
		}
	}
	if s := h.Get("x-business-use-case-usage"); s != "" {
		var v map[string][]struct {
			Type         string  `json:"type"`
			CallCount    float64 `json:"call_count"`
			TotalCPUTime float64 `json:"total_cputime"`
			TotalTime    float64 `json:"total_time"`
			Regain       float64 `json:"estimated_time_to_regain_access"`
		}
		if json.Unmarshal([]byte(s), &v) == nil {
			seen = true
			for _, list := range v {
				for _, e := range list {
					if !insightsUseCase(e.Type) {
						other(e.CallCount, e.TotalCPUTime, e.TotalTime)
						continue
					}
					maxf(e.CallCount)
					maxf(e.TotalCPUTime)
					maxf(e.TotalTime)
					if r := time.Duration(e.Regain * float64(regainUnit)); r > u.Regain {
						u.Regain = r
					}
				}
			}
		}
	}
	if s := h.Get("x-fb-ads-insights-throttle"); s != "" {
		var v struct {
			App *float64 `json:"app_id_util_pct"`
			Acc float64  `json:"acc_id_util_pct"`
		}
		if json.Unmarshal([]byte(s), &v) == nil {
			seen = true
			if v.App != nil {
				app(*v.App)
			}
			maxf(v.Acc)
		}
	}
	return u, seen
}

// ThrottleConfig says when to slow down.
type ThrottleConfig struct {
	SubmitAbove float64 // no new report runs while usage is at or above this percent; defaults to DefaultSubmitAbove (75)
	PauseAbove  float64 // no request at all at or above this percent; defaults to DefaultPauseAbove (95)
	// Cooldown is how long to hold back when a figure is above a threshold, and after a
	// throttled answer without a regain time (doubling with each in a row: RetryConfig.Throttled)
	// (defaults to DefaultCooldown, 5s).
	Cooldown time.Duration
	// Pace is the gap between the account's calls while a figure stays at or above a threshold
	// after a cooldown and Meta keeps answering normally (defaults to a fifth of Cooldown: 1s): Airbyte found acc_id_util_pct
	// staying at 100 while Meta served requests (async_job_manager.py); a throttling answer
	// stays the hard signal.
	Pace       time.Duration
	RegainUnit time.Duration // one minute of estimated_time_to_regain_access; defaults to DefaultRegainUnit (time.Minute)
	MaxWait    time.Duration // the longest single wait; defaults to DefaultMaxWait (10m)
	// MaxInline, when not 0, is the longest Wait sleeps: a longer hold ends the call with a
	// *WaitError saying when the account may be called again (see Extractor.InlineWait).
	MaxInline time.Duration
	// Fleet, when set, shares the holds with every process working the same ad accounts (the
	// service's workers): a hold one learns from Meta is published, and every call waits for
	// the fleet's holds too.
	Fleet FleetThrottle
}

// FleetThrottle shares the holds of ad accounts among processes. Durations are relative to
// the store's own clock, so the machines' clocks need not agree.
type FleetThrottle interface {
	// Hold says the account may not be called for d from now, because of reason.
	Hold(ctx context.Context, account string, d time.Duration, reason string) error
	// HeldFor says how long the account is still held (0 when it is not).
	HeldFor(ctx context.Context, account string) (time.Duration, error)
}

// fleetCheckEvery bounds how often a throttle asks the fleet about its account.
const fleetCheckEvery = time.Second

// Throttle paces the calls of one ad account from what Meta's usage headers said last: it
// holds back new report runs before a quota is full and every call while Meta has said to
// wait. Shared by all of the account's report runs.
type Throttle struct {
	cfg     ThrottleConfig
	account string // digits, for the fleet (set by Client.Session)

	mu      sync.Mutex
	usage   Usage
	updated time.Time
	until   time.Time // no call before this
	// throttledSince is the first throttled answer with no success since (zero: none).
	throttledSince time.Time
	// cooledAt is the reading a cooldown was served for (0: none since the last throttled
	// answer or low reading). A reading no higher than it is Meta answering at a stuck figure:
	// calls go on one per Pace (nextPaced) instead of cooling down again. It holds from the
	// cooldown's end, not from the next success: a response's usage headers arrive before its
	// body, and a call waiting in between would otherwise cool down again. A rising reading
	// cools down again.
	cooledAt   float64
	nextPaced  time.Time
	fleetUntil time.Time // the fleet's hold, as last asked
	fleetAsked time.Time
}

// NewThrottle returns a throttle with the config's defaults filled in.
func NewThrottle(cfg ThrottleConfig) *Throttle { return &Throttle{cfg: cfg.WithDefaults()} }

// Observe records the usage headers of a response and returns what they say (ok false when
// the response carried none).
func (t *Throttle) Observe(h http.Header) (u Usage, ok bool) {
	u, ok = ParseUsage(h, t.cfg.RegainUnit)
	if !ok {
		return u, false
	}
	t.mu.Lock()
	now := time.Now()
	t.usage, t.updated = u, now
	if u.Percent < t.cfg.SubmitAbove {
		t.cooledAt = 0
	}
	var d time.Duration
	if u.Regain > 0 {
		d = t.holdLocked(now, u.Regain)
	}
	t.mu.Unlock()
	if d > 0 {
		t.publish(context.Background(), d, "estimated_time_to_regain_access")
	}
	return u, true
}

// Throttled records a throttling error: wait Meta's regain time, or the cooldown.
func (t *Throttle) Throttled(h http.Header) time.Duration {
	u, _ := ParseUsage(h, t.cfg.RegainUnit)
	wait := u.Regain
	if wait <= 0 {
		wait = t.cfg.Cooldown
	}
	return t.hold(wait, "throttled")
}

// hold holds every call of the account for d (at most MaxWait) after a throttled answer, and
// marks the account throttled from now on, unless it already was, until a call succeeds.
func (t *Throttle) hold(d time.Duration, reason string) time.Duration {
	t.mu.Lock()
	now := time.Now()
	d = t.holdLocked(now, d)
	if t.throttledSince.IsZero() {
		t.throttledSince = now
	}
	t.cooledAt = 0
	t.mu.Unlock()
	t.publish(context.Background(), d, reason)
	return d
}

// answered says a call of the account succeeded: it is no longer throttled.
func (t *Throttle) answered() {
	t.mu.Lock()
	t.throttledSince = time.Time{}
	t.mu.Unlock()
}

// ThrottledSince is when Meta began answering the account's calls with throttling errors, with
// no success since; zero when it is not throttled.
func (t *Throttle) ThrottledSince() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.throttledSince
}

// publish tells the fleet, if any, that the account is held for d. A store that does not
// answer is not a reason to stop: this process holds the account anyway.
func (t *Throttle) publish(ctx context.Context, d time.Duration, reason string) {
	if t.cfg.Fleet == nil || t.account == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = t.cfg.Fleet.Hold(ctx, t.account, d, reason)
}

// fleetHold asks the fleet how long the account is held, at most once every fleetCheckEvery;
// it returns the hold as last known, zero without a fleet.
func (t *Throttle) fleetHold(ctx context.Context, now time.Time) time.Time {
	if t.cfg.Fleet == nil || t.account == "" {
		return time.Time{}
	}
	t.mu.Lock()
	due := now.Sub(t.fleetAsked) >= fleetCheckEvery
	if due {
		t.fleetAsked = now
	}
	until := t.fleetUntil
	t.mu.Unlock()
	if !due {
		return until
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	held, err := t.cfg.Fleet.HeldFor(qctx, t.account)
	if err != nil {
		return until
	}
	until = now.Add(held)
	t.mu.Lock()
	t.fleetUntil = until
	t.mu.Unlock()
	return until
}

func (t *Throttle) holdLocked(now time.Time, d time.Duration) time.Duration {
	if d > t.cfg.MaxWait {
		d = t.cfg.MaxWait
	}
	if until := now.Add(d); until.After(t.until) {
		t.until = until
	}
	return d
}

// Wait blocks until a call may be made; submit says the call starts a new report run, which
// waits for usage below SubmitAbove. It returns how long it waited: the hold, and up to a fifth
// more at random, so that the calls one hold released do not all call at once.
func (t *Throttle) Wait(ctx context.Context, submit bool) (time.Duration, error) {
	var waited time.Duration
	for {
		fleet := t.fleetHold(ctx, time.Now())
		t.mu.Lock()
		now := time.Now()
		d := max(t.until.Sub(now), fleet.Sub(now))
		if d <= 0 {
			limit := t.cfg.PauseAbove
			if submit {
				limit = t.cfg.SubmitAbove
			}
			switch {
			case t.usage.Percent < limit:
			case t.cooledAt > 0 && t.usage.Percent <= t.cooledAt:
				// A cooldown was served for this reading or a higher one, and Meta has not
				// throttled since: one call per Pace.
				if d = t.nextPaced.Sub(now); d <= 0 {
					t.nextPaced = now.Add(t.cfg.Pace)
				}
			default:
				// Hold back for the cooldown, then forget the reading: the next response
				// tells the new usage. (Not published: the fleet's own calls tell it.)
				d = t.holdLocked(now, t.cfg.Cooldown)
				t.cooledAt = t.usage.Percent
				t.usage = Usage{}
			}
		}
		t.mu.Unlock()
		if d <= 0 {
			return waited, nil
		}
		if t.cfg.MaxInline > 0 && d > t.cfg.MaxInline {
			return waited, &WaitError{Until: now.Add(d)}
		}
		// The calls one hold released would otherwise call at once, and meet Meta's next
		// throttling together, in the same order each time: each sleeps up to a fifth
		// longer, at random.
		d += rand.N(d/5 + 1)
		if err := backoff.Sleep(ctx, d); err != nil {
			return waited, err
		}
		waited += d
	}
}
