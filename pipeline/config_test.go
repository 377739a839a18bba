package pipeline_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/store"
)

// The zero Config is the command's defaults: the same synchronous reads as --sync-weeks'
// default (it read none before), the same pacing as the flags; "none" sentinels are kept.
func TestConfigDefaults(t *testing.T) {
	c := pipeline.Config{}.WithDefaults()
	if c.Sync.Weeks != extract.DefaultSyncWeeks || c.ReadPlanning.Budget != pipeline.DefaultSyncBudget ||
		c.PageSize != extract.DefaultPageSize || c.JobsPerAccount != extract.DefaultJobsPerAccount ||
		c.Poll.First != extract.DefaultPollFirst || c.Poll.Max != extract.DefaultPollMax ||
		c.LockTimeout != store.DefaultLockTimeout || c.LockLease != store.DefaultLeaseTTL ||
		c.StageDir != pipeline.DefaultStageDir || c.AccountMaxAge != pipeline.DefaultAccountMaxAge ||
		c.AutoConcurrency.Start != pipeline.DefaultAutoStart || c.Concurrency != pipeline.ConcurrencyAuto {
		t.Errorf("zero config with defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
	// A field given alone brings the defaults of its neighbours in step: a cap below the
	// default start starts at the cap; a High below the default Low has its Low below it.
	capped := pipeline.Config{AutoConcurrency: pipeline.AutoConcurrency{Max: 10}}.WithDefaults()
	low := pipeline.Config{AutoConcurrency: pipeline.AutoConcurrency{High: 50}}.WithDefaults()
	if capped.AutoConcurrency.Start != 10 || low.AutoConcurrency.Low != 40 || capped.Validate() != nil || low.Validate() != nil {
		t.Errorf("Max 10 alone: %+v (%v); High 50 alone: %+v (%v); want Start 10 and Low 40, both valid",
			capped.AutoConcurrency, capped.Validate(), low.AutoConcurrency, low.Validate())
	}
	never := pipeline.Config{Sync: extract.SyncConfig{Weeks: extract.SyncNever}, ReadPlanning: pipeline.ReadPlanning{Budget: -1},
		AccountMaxAge: -1, Concurrency: -3}.WithDefaults()
	if never.Sync.Weeks != extract.SyncNever || never.ReadPlanning.Budget != -1 || never.AccountMaxAge != -1 || never.Concurrency != pipeline.ConcurrencyAuto {
		t.Errorf("sentinels with defaults: sync weeks %d, budget %d, account max age %s, concurrency %d",
			never.Sync.Weeks, never.ReadPlanning.Budget, never.AccountMaxAge, never.Concurrency)
	}
}

// Validate's cross-field rules, each naming the field's flag, as usage errors.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  pipeline.Config
		says string
	}{
		{pipeline.Config{Poll: extract.PollConfig{First: 5 * time.Second, Max: 2 * time.Second}}, "--poll-max 2s is shorter than --poll-first 5s"},
		{pipeline.Config{Poll: extract.PollConfig{First: 5 * time.Minute}}, "--poll-max 2m0s is shorter than --poll-first 5m0s"},
		{pipeline.Config{PageSize: extract.MaxPageSize + 1}, "--page-size 501"},
		{pipeline.Config{JobsPerAccount: pipeline.MaxJobsPerAccount + 1}, "--jobs-per-account 101"},
		{pipeline.Config{Concurrency: pipeline.MaxConcurrency + 1}, "--concurrency 1001"},
		{pipeline.Config{Sync: extract.SyncConfig{Weeks: pipeline.MaxWeeks + 1}}, "--sync-weeks 161"},
		{pipeline.Config{AutoConcurrency: pipeline.AutoConcurrency{Low: 80}}, "Low 80 is not below High 75"},
		{pipeline.Config{AutoConcurrency: pipeline.AutoConcurrency{Start: 50, Max: 10}}, "Start 50 is more than Max 10"},
	} {
		err := tc.cfg.WithDefaults().Validate()
		if !errors.Is(err, pipeline.ErrUsage) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%+v: %v, want a usage error saying %q", tc.cfg, err, tc.says)
		}
	}
}
