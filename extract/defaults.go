package extract

import (
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
	if c.MaxPages == 0 {
		c.MaxPages = DefaultSyncMaxPages
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultSyncTimeout
	}
	if c.Parallel <= 0 {
		c.Parallel = DefaultSyncParallel
	}
	return c
}

// WithDefaults fills the zero fields with their Default constants (NotReadyWait: First).
func (c PollConfig) WithDefaults() PollConfig {
	if c.First == 0 {
		c.First = DefaultPollFirst
	}
	if c.Max == 0 {
		c.Max = DefaultPollMax
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.MaxRunTime == 0 {
		c.MaxRunTime = DefaultMaxRunTime
	}
	if c.NotReadyWait == 0 {
		c.NotReadyWait = c.First
	}
	return c
}

// Validate checks the cross-field rule of a config with its defaults: Max is at least First.
// The error names both fields with their flags (--poll-max, --poll-first).
func (c PollConfig) Validate() error {
	if c.Max < c.First {
		return fmt.Errorf("--poll-max %s is shorter than --poll-first %s (PollConfig.Max, First)", c.Max, c.First)
	}
	return nil
}

// WithDefaults fills the zero fields with their Default constants (Pace: a fifth of Cooldown).
func (c ThrottleConfig) WithDefaults() ThrottleConfig {
	if c.SubmitAbove == 0 {
		c.SubmitAbove = DefaultSubmitAbove
	}
	if c.PauseAbove == 0 {
		c.PauseAbove = DefaultPauseAbove
	}
	if c.Cooldown == 0 {
		c.Cooldown = DefaultCooldown
	}
	if c.Pace == 0 {
		c.Pace = c.Cooldown / 5
	}
	if c.RegainUnit == 0 {
		c.RegainUnit = DefaultRegainUnit
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	return c
}

// WithDefaults fills the zero fields with their Default constants.
func (c RetryConfig) WithDefaults() RetryConfig {
	if c.Base == 0 {
		c.Base = DefaultRetryBase
	}
	if c.Cap == 0 {
		c.Cap = DefaultRetryCap
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultAttemptTimeout
	}
	if c.RunLag == 0 {
		c.RunLag = DefaultRunLag
	}
	if c.Throttled == 0 {
		c.Throttled = DefaultThrottled
	}
	if c.NotReady == 0 {
		c.NotReady = DefaultNotReady
	}
	if c.PageFloor <= 0 {
		c.PageFloor = DefaultPageFloor
	}
	return c
}
