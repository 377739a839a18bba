package graphsim

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DemoToken reads every account.
const DemoToken = "sim-demo-token"

// ExpiredToken always answers error 190, subcode 463 (session expired).
const ExpiredToken = "sim-expired-token"

// Config configures a Simulator. The zero value is usable; see the field comments for defaults.
type Config struct {
	Seed     int64         // data seed (default 1)
	Accounts int           // number of generated ad accounts (default 3)
	Latency  time.Duration // added to every request
	Jitter   time.Duration // ± uniform jitter on Latency
	// KindLatency replaces Latency ± Jitter for the request kinds it names (KindSync,
	// KindSubmit, KindPoll, KindResults, KindAccount): on Meta a synchronous Insights read
	// takes far longer than a poll.
	KindLatency map[string]Latency
	// SyncRowCost charges a synchronous Insights answer by its size, on top of its latency:
	// Meta computes a synchronous answer while the caller waits, so the first page of a read
	// waits this much more per row of the whole answer (every page's rows), and each later
	// page (a cursor) per row of its own. 0: a flat latency.
	SyncRowCost time.Duration
	// SyncMaxRows refuses a synchronous read whose answer would hold more than this many rows
	// with code 1 "Please reduce the amount of data you're asking for" (HTTP 500), as Meta
	// refuses a synchronous query it would take too long to compute; a report run of the same
	// range is accepted. 0: no limit.
	SyncMaxRows int
	JobDuration time.Duration // submit -> "Job Completed" (default 2s); percent rises linearly
	// JobJitter moves each report run's duration by up to ± this fraction of JobDuration (0.25:
	// 20 s ± 25 %), uniformly and reproducibly (a hash of the seed and the run's number).
	// Faults.JobDuration is not moved.
	JobJitter   float64
	MaxPageSize int // cap on `limit` (default 500; the limit is 25 when absent)
	Now         func() time.Time

	// AppSecret, when set, makes the simulator verify appsecret_proof where a request carries
	// one (hex HMAC-SHA256 of the token keyed with the secret). RequireProof rejects requests
	// without one.
	AppSecret    string
	RequireProof bool

	// CallBudget is the number of calls per account per UsageWindow that counts as 100 % in the
	// usage headers (default 600). AppCallBudget is the app-wide one, which every account's
	// calls fill (x-app-usage, app_id_util_pct; default CallBudget × Accounts).
	CallBudget    int
	AppCallBudget int
	UsageWindow   time.Duration // sliding window of the usage headers (default 60s)
	// EnforceBudget makes a request beyond the budget answer the throttle error (80000, Ads
	// Insights' code) as the real API does, besides the scripted ThrottleEvery fault.
	EnforceBudget bool

	// OldestVersion, when set ("v24.0"), makes a request for an older API version answer
	// (#2635) "You are calling a deprecated version of the Ads API. Please update to the
	// latest version: <NewestVersion>." (Meta's reference error tables; Meta blog
	// 2024-04-16). NewestVersion defaults to OldestVersion.
	OldestVersion string
	NewestVersion string

	// NumericReportRunID answers {"report_run_id": 6023920149050} (a bare number, as in one of
	// Meta's examples) instead of the documented string.
	NumericReportRunID bool
}

// Latency is the time a request of one kind takes: Base ± Jitter, uniform.
type Latency struct {
	Base, Jitter time.Duration
}

// Faults scripts misbehaviour for one account. The zero value means no fault. Sequences
// ("the first N", "every Nth") count from the SetFaults call.
type Faults struct {
	// FailJobs: the first N report runs end "Job Failed"; -1 = every one fails. The run carries
	// FailCode/FailSubcode/FailMessage (default 1, 99, "An unknown error occurred").
	FailJobs    int
	FailCode    int
	FailSubcode int
	FailMessage string
	// StuckJobs: the next N report runs (after the failing ones) stall: their percent rises
	// as usual, then stops, and they stay "Job Running" forever: odd ones at 100 %, even ones
	// at a lower percent; -1 = every one.
	StuckJobs int
	// JobDuration, when > 0, is how long this account's report runs take from the submit to
	// "Job Completed", instead of Config.JobDuration: a run that progresses slowly but
	// steadily (its percent rises linearly all the way).
	JobDuration time.Duration
	// ThrottleEvery: every Nth request for the account answers the throttle error ThrottleCode
	// (default 80000, Ads Insights' code: airbytehq/airbyte unit_tests/test_errors.py has the
	// real 80000/2446079; 17 also possible), subcode 2446079, with
	// estimated_time_to_regain_access = RegainMinutes in x-business-use-case-usage and usage at
	// 100 %. Other throttle codes (4, 32, 613, 80001..80014) answer with their own message.
	ThrottleEvery int
	ThrottleCode  int
	RegainMinutes int
	// ThrottleFor: every request for the account answers the throttle error (ThrottleCode,
	// without a regain time: Meta does not always give one, facebook/facebook-php-business-sdk
	// #483) for this long after the first request following SetFaults.
	ThrottleFor time.Duration
	// BigPageLimit: a result page (of a report run, or of a synchronous read after its first
	// page) asked with a limit above this answers BigPageError: HTTP 500 code 1 "Please reduce
	// the amount of data you're asking for, then retry your request" ("reduce", the default;
	// singer-io/tap-facebook#65), HTTP 500 1/99 "An unknown error occurred" ("unknown";
	// airbytehq/airbyte test_errors.py), or 100/1487534 ("1487534"; Meta's Insights best
	// practices). BigPageOverWeeks > 0 limits it to reports spanning more than that many weeks.
	BigPageLimit     int
	BigPageOverWeeks int
	BigPageError     string
	// EndlessPaging: 1, the last page of every read has a next link to an empty page that has
	// one too, and so on (facebook/facebook-php-business-sdk#333); 2, the last page's next link
	// repeats its own cursor. Either stops after 50 extra pages, so that a client that follows
	// them ends.
	EndlessPaging int
	// SyncErrors: every synchronous read answers HTTP 500 code 1 subcode 99 "An unknown error
	// occurred" (1), or HTTP 400 code 2 subcode 1504044 "Unknown Error Occurred" (2: Ads
	// Insights error codes, source Sync), while report runs of the same range work.
	SyncErrors int
	// NotReadyReads: the first N result requests of each completed report run answer 2601 /
	// 1815107 (facebookarchive/php-graph-sdk#915, #1094: seen long after "Job Completed").
	NotReadyReads int
	// QueuedFor: report runs stay "Job Not Started" at 0 % this long before their JobDuration
	// begins (Airbyte#3115: runs often take more than 2 minutes to start).
	QueuedFor time.Duration
	// AccountTooLarge: the first N reads of the ad account (GET act_<id>) answer HTTP 500 code 1
	// "Please reduce the amount of data…" (airbytehq/airbyte test_errors.py: seen on the
	// one-record ad_account read, gone on the next attempt).
	AccountTooLarge int
	// InsightsUsageAt: x-fb-ads-insights-throttle's acc_id_util_pct reads at least this while
	// Meta answers normally (Airbyte, async_job_manager.py: it "still says 100 despite no jobs
	// running").
	InsightsUsageAt float64
	// OtherUsageAt: the figures that do not gate Insights calls read at least this —
	// x-app-usage (the Marketing API is excluded from the Graph API's app limits),
	// x-ad-account-usage, and an ads_management entry in x-business-use-case-usage (Meta's
	// Rate Limiting example has one at 95) — while Meta answers normally.
	OtherUsageAt float64
	// LastBucketStop moves the date_stop of the last bucket of a report with time_increment
	// N > 1 by this many days (kept within the bucket: date_start .. date_start + N − 1), its
	// figures still those up to `until`: Meta does not document whether, or where, it cuts
	// the last bucket (docs/META_API.md, "Buckets").
	LastBucketStop int
	// BucketShift: the buckets of a report with time_increment N > 1 are anchored this many
	// days after `since` (the first covers since .. since+shift−1), not at `since`, as Meta might
	// if it anchored N-day buckets elsewhere (no source says where it anchors them).
	BucketShift int
	// GoneCampaigns: the account's first N campaigns are no longer live — even ones DELETED,
	// odd ones ARCHIVED — and, as Meta documents, act_<id>/insights below the account level
	// leaves them out unless `filtering` asks for their effective_status
	// ({"field":"campaign.effective_status" or "ad.effective_status","operator":"IN","value":
	// [… "ARCHIVED", "DELETED"]}); the account level still counts them ("Manage your ad object's
	// status": "act_<AD_ACCOUNT_ID>/insights?level=ad does not return stats for the deleted
	// object").
	GoneCampaigns int
	// ShortCampaigns: the campaign-level reports leave out the account's first campaign (as
	// if Meta lost it), so that their sums disagree with the account's totals in every week it
	// delivered.
	ShortCampaigns bool
	// ShortCampaignsFirstRead: as ShortCampaigns, but only in the first campaign-level report
	// (a synchronous read or a report run) that covers a day: a later report covering the same
	// day has the campaign, so that asking again clears the disagreement (as a figure Meta was
	// still processing would).
	ShortCampaignsFirstRead bool
	// ServerErrorEvery: every Nth request answers HTTP 500, code 2, is_transient true.
	ServerErrorEvery int
	// TooLargeOverWeeks: a submit (or synchronous read) spanning more than N weeks answers
	// code 100, subcode 1487534.
	TooLargeOverWeeks int
	// SyncTooLargeOverWeeks: a synchronous read spanning more than N weeks answers code 1
	// "Please reduce the amount of data you're asking for, then retry your request" (the form
	// Meta gives synchronous reads that would take too long), while a report run of the same
	// range is accepted.
	SyncTooLargeOverWeeks int
	// SlowSync is added to the latency of every synchronous read (a query Meta is slow to
	// answer), to exercise a client's own timeout.
	SlowSync time.Duration
	// ResetEvery: every Nth results page, asynchronous or synchronous, is cut mid-body
	// (connection closed).
	ResetEvery int
	// RunningAt100: jobs report "Job Running" at 100 % for half a JobDuration before
	// "Job Completed".
	RunningAt100 bool
	// Meta's lag on a report run's own endpoints (docs/META_API.md, "Errors"): for a while after
	// a run is created, and now and then in the middle of its pages, Meta answers as if the run
	// did not exist, with codes that otherwise mean a permanent error; the same request
	// succeeds a little later. Counted per report run:
	//
	// LagPolls: the first N polls of each report run answer HTTP 400, code 100, subcode 33,
	// "Unsupported get request. Object with ID '<run id>' does not exist, …".
	LagPolls int
	// LagPages: the first N requests of each report run for a page after the first (those
	// with a cursor) answer the same 100/33 naming the run.
	LagPages int
	// MissingFieldPages: the first N requests of each report run for a page after the first
	// answer code 100 "(#100) Cannot include <fields> in summary param because they weren't
	// there while creating the report run. All available values are: ".
	MissingFieldPages int
	// LostRuns: the first N report runs submitted are never found again (-1 = every one):
	// every poll and result request for them answers 100/33 naming them.
	LostRuns int
	// Revision > 0 raises the figures of the 28 days up to Now by 5 % per step (attribution
	// still moving); 0 = stable.
	Revision int
}

// Request kinds counted by Counters.
const (
	KindSubmit  = "submit"
	KindPoll    = "poll"
	KindResults = "results"
	KindSync    = "sync"
	KindAccount = "account" // GET act_<id>: the ad account's fields
	KindOther   = "other"
)

// Counters is a snapshot of what the simulator has served since New or ResetCounters.
type Counters struct {
	Requests     map[string]int64 // by kind
	PeakInFlight int64            // most requests being served at once
	PeakRunning  int64            // most report runs submitted and not yet finished, all accounts
	Throttled    int64            // throttle errors answered
	ServerErrors int64            // HTTP 500 answered
	Errors       int64            // every error answer, throttles and 500s included
	Resets       int64            // result pages cut mid-body
	Lagged       int64            // answers that denied a report run (LagPolls, LagPages, MissingFieldPages, LostRuns)
	ByAccount    map[string]AccountCounters
}

// AccountCounters are the Counters of one account (keyed by id without act_).
type AccountCounters struct {
	Requests     map[string]int64 // by kind
	ReportRuns   int64            // report runs submitted
	Pages        int64            // result pages served whole (async results and sync reads)
	Rows         int64            // rows in those pages
	PeakRunning  int64
	Throttled    int64
	ServerErrors int64
	Errors       int64
	Resets       int64
	Lagged       int64
}

// ReportRunInfo is what the simulator knows of one report run, for benchmarks: how long it
// took and how soon its client saw it end.
type ReportRunInfo struct {
	ID         string
	Account    string // id without act_
	Level      string // account, campaign, adset or ad
	Breakdowns string // "", "publisher_platform,platform_position" or "age,gender"
	Submitted  time.Time
	Duration   time.Duration // from the submit to its final status; 0 for a run that never ends
	Polls      int           // polls answered (lag answers included)
	// SeenDone is the time from the submit to the first poll that answered the run's final
	// status (Job Completed or Job Failed); 0 while no poll has.
	SeenDone time.Duration
}

// Simulator is an in-process fake of the asynchronous Insights endpoints. It is an
// http.Handler; all methods are safe for concurrent use.
type Simulator struct {
	cfg   Config
	world *world

	inFlight atomic.Int64

	mu        sync.Mutex
	accounts  map[string]*account // by id
	faults    map[string]*faultState
	runs      map[string]*run
	runSeq    uint64
	traceSeq  uint64
	counters  Counters
	usage     map[string][]time.Time // call times per account in the usage window
	appUsage  []time.Time
	syncCache map[string][][]byte
	warm      map[string][][]byte // reports computed ahead by Warm
}

type world struct {
	seed     int64
	accounts []*account
}

type faultState struct {
	f        Faults
	runs     int // report runs submitted since SetFaults
	requests int // requests since SetFaults
	pages    int // result pages since SetFaults

	throttleFrom time.Time      // the first request throttled by ThrottleFor
	accountReads int            // ad account reads refused by AccountTooLarge
	endless      int            // extra pages served by EndlessPaging
	campaignDays map[int64]bool // days covered by a campaign-level report (ShortCampaignsFirstRead)
}

// New builds a simulator; the data depend only on cfg.Seed and cfg.Accounts.
func New(cfg Config) *Simulator {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Accounts <= 0 {
		cfg.Accounts = 3
	}
	if cfg.JobDuration <= 0 {
		cfg.JobDuration = 2 * time.Second
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = 500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CallBudget <= 0 {
		cfg.CallBudget = 600
	}
	if cfg.UsageWindow <= 0 {
		cfg.UsageWindow = time.Minute
	}
	if cfg.AppCallBudget <= 0 {
		cfg.AppCallBudget = cfg.CallBudget * cfg.Accounts
	}
	s := &Simulator{
		cfg:       cfg,
		world:     &world{seed: cfg.Seed, accounts: generate(cfg.Seed, cfg.Accounts)},
		accounts:  map[string]*account{},
		faults:    map[string]*faultState{},
		runs:      map[string]*run{},
		usage:     map[string][]time.Time{},
		syncCache: map[string][][]byte{},
		warm:      map[string][][]byte{},
	}
	for _, a := range s.world.accounts {
		s.accounts[a.ID] = a
		s.faults[a.ID] = &faultState{}
	}
	s.counters = newCounters()
	return s
}

func newCounters() Counters {
	return Counters{Requests: map[string]int64{}, ByAccount: map[string]AccountCounters{}}
}

// Accounts lists the generated accounts in a fixed order.
func (s *Simulator) Accounts() []Account {
	out := make([]Account, len(s.world.accounts))
	for i, a := range s.world.accounts {
		out[i] = a.Account
	}
	return out
}

// SetFaults replaces the faults of an account (id without act_) and restarts its fault
// sequences. Unknown accounts are ignored. The synchronous reads' cache is emptied: faults
// that change rows (ShortCampaigns, …) apply to the next read of a range already read.
func (s *Simulator) SetFaults(accountID string, f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fs, ok := s.faults[trimAct(accountID)]; ok {
		*fs = faultState{f: f}
		clear(s.syncCache)
	}
}

// ReportRuns lists every report run submitted since New, in the order they were submitted.
func (s *Simulator) ReportRuns() []ReportRunInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	runs := make([]*run, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b *run) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]ReportRunInfo, 0, len(runs))
	for _, r := range runs {
		info := ReportRunInfo{ID: r.id, Account: r.acct.ID, Level: r.spec.level.String(), Breakdowns: r.spec.bd.String(),
			Submitted: r.submitted, Polls: r.polls}
		if t, ok := r.finish(); ok {
			info.Duration = t.Sub(r.submitted)
		}
		if !r.seenDone.IsZero() {
			info.SeenDone = r.seenDone.Sub(r.submitted)
		}
		out = append(out, info)
	}
	return out
}

// Counters returns a snapshot of the counters.
func (s *Simulator) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters
	c.Requests = cloneMap(c.Requests)
	c.ByAccount = make(map[string]AccountCounters, len(s.counters.ByAccount))
	for id, ac := range s.counters.ByAccount {
		ac.Requests = cloneMap(ac.Requests)
		c.ByAccount[id] = ac
	}
	return c
}

// ResetCounters zeroes the counters (fault sequences are not affected).
func (s *Simulator) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = newCounters()
	s.counters.PeakInFlight = s.inFlight.Load()
}

func cloneMap(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// acct returns the account's counters for update; call with s.mu held and store it back.
func (s *Simulator) acctCounters(id string) AccountCounters {
	ac := s.counters.ByAccount[id]
	if ac.Requests == nil {
		ac.Requests = map[string]int64{}
	}
	return ac
}

func trimAct(id string) string {
	if len(id) > 4 && id[:4] == "act_" {
		return id[4:]
	}
	return id
}

// today is the account's calendar date now: the simulator has no data for later days.
func (s *Simulator) today(a *account) int64 { return dayOf(s.cfg.Now().In(a.loc)) }

func (s *Simulator) revision(accountID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fs, ok := s.faults[accountID]; ok {
		return fs.f.Revision
	}
	return 0
}
