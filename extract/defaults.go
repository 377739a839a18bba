package extract

import (
	"cmp"
	"fmt"
	"time"
)

// The defaults of the extractor's configs: what a zero field of SyncConfig, PollConfig,
// ThrottleConfig, RetryConfig and Extractor stands for (their WithDefaults), and what the
// command's flags show. Each field's doc names its constant.
const (
	// DefaultSyncWeeks is SyncConfig.Weeks: a daily run fetches five or six weeks (four whole
	// weeks and the current one, with the default lookback), and a run missed for a day or
	// two a week more.
	DefaultSyncWeeks = 8
	// SyncNever is the SyncConfig.Weeks that reads every range by report runs (--sync-weeks 0).
	SyncNever = -1
	// DefaultSyncMaxPages is SyncConfig.MaxPages: 5,000 rows at pages of 500.
	DefaultSyncMaxPages = 10
	// DefaultSyncTimeout is SyncConfig.Timeout.
	DefaultSyncTimeout = 30 * time.Second
	// DefaultSyncParallel is SyncConfig.Parallel: the old collector's planned 10 weeks × 4 calls.
	DefaultSyncParallel = 40

	// MinPollWait and MaxPollWait bound PollConfig.First and Max (--poll-first, --poll-max):
	// polls no closer than 100 ms, no further apart than 10 minutes.
	MinPollWait = 100 * time.Millisecond
	MaxPollWait = 10 * time.Minute
	// MinRunWait and MaxRunWait bound PollConfig.StallTimeout and MaxRunTime (--job-timeout,
	// --job-max): Meta documents report runs of up to an hour and keeps results 30 days.
	MinRunWait = time.Second
	MaxRunWait = 24 * time.Hour

	DefaultPollFirst    = 2 * time.Second  // PollConfig.First
	DefaultPollMax      = 2 * time.Minute  // PollConfig.Max
	DefaultStallTimeout = 10 * time.Minute // PollConfig.StallTimeout
	DefaultMaxRunTime   = 60 * time.Minute // PollConfig.MaxRunTime

	DefaultSubmitAbove = 75.0             // ThrottleConfig.SubmitAbove, percent
	DefaultPauseAbove  = 95.0             // ThrottleConfig.PauseAbove, percent
	DefaultCooldown    = 5 * time.Second  // ThrottleConfig.Cooldown
	DefaultRegainUnit  = time.Minute      // ThrottleConfig.RegainUnit
	DefaultMaxWait     = 10 * time.Minute // ThrottleConfig.MaxWait

	DefaultRetryBase      = 500 * time.Millisecond // RetryConfig.Base
	DefaultRetryCap       = 30 * time.Second       // RetryConfig.Cap
	DefaultMaxAttempts    = 6                      // RetryConfig.MaxAttempts
	DefaultAttemptTimeout = 60 * time.Second       // RetryConfig.Timeout
	DefaultRunLag         = 2 * time.Minute        // RetryConfig.RunLag
	DefaultThrottled      = 60 * time.Minute       // RetryConfig.Throttled: Meta's quotas count calls over a rolling hour
	DefaultNotReady       = 10 * time.Minute       // RetryConfig.NotReady
	DefaultPageFloor      = 10                     // RetryConfig.PageFloor

	// DefaultPageSize is Extractor.PageSize, and MaxPageSize the most: the `limit` Meta pages by.
	DefaultPageSize = 500
	MaxPageSize     = 500
	// DefaultJobsPerAccount is Extractor.JobsPerAccount: known extractors keep 10 to 100 report
	// runs in flight (docs/META_API.md, section 6).
	DefaultJobsPerAccount = 10
	DefaultReaders        = 32 // Extractor.Readers
)

// WithDefaults fills the zero bounds with their Default constants. Weeks is left as it is:
// an Extractor reads synchronously only what its Sync.Weeks allows (0 or SyncNever: nothing);
// pipeline.Config.WithDefaults makes a run's zero Weeks DefaultSyncWeeks.
func (c SyncConfig) WithDefaults() SyncConfig {
	c.MaxPages, c.Timeout = cmp.Or(c.MaxPages, DefaultSyncMaxPages), cmp.Or(c.Timeout, DefaultSyncTimeout)
	c.Parallel = cmp.Or(max(c.Parallel, 0), DefaultSyncParallel)
	return c
}

// WithDefaults fills the zero fields with their Default constants (NotReadyWait: First).
func (c PollConfig) WithDefaults() PollConfig {
	c.First, c.Max = cmp.Or(c.First, DefaultPollFirst), cmp.Or(c.Max, DefaultPollMax)
	c.StallTimeout, c.MaxRunTime = cmp.Or(c.StallTimeout, DefaultStallTimeout), cmp.Or(c.MaxRunTime, DefaultMaxRunTime)
	c.NotReadyWait = cmp.Or(c.NotReadyWait, c.First)
	return c
}

// Validate checks the cross-field rule of a config with its defaults: Max is at least First.
// The error names both fields with their flags (--poll-max, --poll-first).
func (c PollConfig) Validate() error {
	if c.Max < c.First {
		return fmt.Errorf("--poll-max %s is shorter than --poll-first %s", c.Max, c.First)
	}
	return nil
}

// WithDefaults fills the zero fields with their Default constants (Pace: a fifth of Cooldown).
func (c ThrottleConfig) WithDefaults() ThrottleConfig {
	c.SubmitAbove, c.PauseAbove = cmp.Or(c.SubmitAbove, DefaultSubmitAbove), cmp.Or(c.PauseAbove, DefaultPauseAbove)
	c.Cooldown = cmp.Or(c.Cooldown, DefaultCooldown)
	c.Pace, c.RegainUnit, c.MaxWait = cmp.Or(c.Pace, c.Cooldown/5), cmp.Or(c.RegainUnit, DefaultRegainUnit), cmp.Or(c.MaxWait, DefaultMaxWait)
	return c
}

// WithDefaults fills the zero fields with their Default constants.
func (c RetryConfig) WithDefaults() RetryConfig {
	c.Base, c.Cap = cmp.Or(c.Base, DefaultRetryBase), cmp.Or(c.Cap, DefaultRetryCap)
	c.MaxAttempts, c.Timeout = cmp.Or(c.MaxAttempts, DefaultMaxAttempts), cmp.Or(c.Timeout, DefaultAttemptTimeout)
	c.RunLag, c.Throttled, c.NotReady = cmp.Or(c.RunLag, DefaultRunLag), cmp.Or(c.Throttled, DefaultThrottled), cmp.Or(c.NotReady, DefaultNotReady)
	c.PageFloor = cmp.Or(max(c.PageFloor, 0), DefaultPageFloor)
	return c
}
