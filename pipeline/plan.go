package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

// ClientPlan is what one client's run fetches and, once loaded, what its sync state becomes.
// Dates are YYYY-MM-DD in the ad account's calendar.
type ClientPlan struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Account  string       `json:"ad_account_id"` // digits, without act_
	TimeZone string       `json:"time_zone"`     // the ad account's (IANA name)
	Currency string       `json:"currency"`      // the ad account's (ISO 4217)
	Since    records.Date `json:"since"`         // a Monday
	Until    records.Date `json:"until"`         // the client's as-of date: --as-of, or the account's today
	Weeks    int          `json:"weeks"`
	Reason   string       `json:"reason"`
	// Error, when set, is why the client cannot run (its ad account could not be read and is
	// not cached): it is not extracted and fails with this error. Permanent says retrying will
	// not help (a refused token, an ad account id that is not one, no token at all).
	// RefusedToken says the error is Meta refusing the token or a permission (RefusedToken);
	// Err gives the three as one typed error.
	Error        string `json:"error,omitempty"`
	Permanent    bool   `json:"error_permanent,omitempty"`
	RefusedToken bool   `json:"error_refused_token,omitempty"`

	// Read is how the range is read, ReadSync or ReadReportRuns (empty in a plan of an earlier
	// version: by the --sync-weeks rule alone); SyncChunks, for a long range read
	// synchronously, the weeks of each kind's chunks; ReadWhy why (chooseReads).
	Read       string               `json:"read,omitempty"`
	SyncChunks map[records.Kind]int `json:"sync_chunks,omitempty"`
	ReadWhy    string               `json:"read_why,omitempty"`

	// The client_sync_state written with the load.
	CoveredFrom  records.Date `json:"covered_from"`
	FinalThrough records.Date `json:"final_through,omitzero"`
	// StateSeen is the client_sync_state the plan was made from (syncStateSeen): a run resumed
	// for a client whose state has changed since (reset-state, another run loaded it) would
	// fetch by a stale plan and undo that change, so it is planned again instead.
	StateSeen string `json:"state_seen,omitempty"`
}

// Range returns the fetched dates.
func (c ClientPlan) Range() extract.Range {
	return extract.Range{Since: c.Since.Time(), Until: c.Until.Time()}
}

// Plan is plan.json: what a run fetches for whom.
type Plan struct {
	RunID   string    `json:"run_id"`
	Created time.Time `json:"created"`
	// AsOf is the as-of date asked for (--as-of), or today's UTC date when none was: what a
	// retry must ask again to resume the run. Each client's own as-of date is its Until.
	AsOf         records.Date `json:"as_of"`
	AsOfGiven    bool         `json:"as_of_given"` // --as-of was given
	Weeks        int          `json:"weeks"`
	Lookback     int          `json:"lookback"`
	Full         bool         `json:"full"`
	HorizonStart records.Date `json:"horizon_start"`
	Clients      []ClientPlan `json:"clients"`

	// cached names the clients whose ad account the plan took from a recent cache without
	// asking Meta: the run asks beside the reports (refreshAccounts).
	cached map[string]bool
}

// KPIRange is the span of the one KPI query: every client's range.
func (p *Plan) KPIRange() (from, to time.Time) {
	for i, c := range p.Clients {
		s, u := c.Since.Time(), c.Until.Time()
		if i == 0 || s.Before(from) {
			from = s
		}
		if i == 0 || u.After(to) {
			to = u
		}
	}
	return from, to
}

// ClientIDs lists the planned clients' ids, sorted.
func (p *Plan) ClientIDs() []string {
	ids := make([]string, len(p.Clients))
	for i, c := range p.Clients {
		ids[i] = c.ID
	}
	sort.Strings(ids)
	return ids
}

// Synchronous reports whether the client's range is read with synchronous requests (ReadSync,
// or in a plan of an earlier version a range of at most syncWeeks weeks, extract.SyncConfig.Weeks;
// 0: never), unless one falls back.
func (c ClientPlan) Synchronous(syncWeeks int) bool {
	if c.Read != "" {
		return c.Error == "" && c.Read == ReadSync
	}
	return c.Error == "" && syncWeeks > 0 && c.Weeks <= syncWeeks
}

// SyncReads counts the synchronous reads of a client read synchronously: one per kind, or its
// chunks (0 for a client read by report runs).
func (c ClientPlan) SyncReads(syncWeeks int) int {
	if !c.Synchronous(syncWeeks) {
		return 0
	}
	if len(c.SyncChunks) == 0 {
		return len(records.Kinds)
	}
	n := 0
	for _, k := range records.Kinds {
		n += len(c.Range().Chunks(c.SyncChunks[k]))
	}
	return n
}

// Reads counts the report runs the plan submits and the synchronous reads it makes when nothing
// needs splitting or falls back, under a threshold of syncWeeks (none for a client that cannot
// run).
func (p *Plan) Reads(syncWeeks int) (reportRuns, syncReads int) {
	for _, c := range p.Clients {
		switch {
		case c.Error != "":
		case c.Synchronous(syncWeeks):
			syncReads += c.SyncReads(syncWeeks)
		default:
			reportRuns += len(records.Kinds)
		}
	}
	return reportRuns, syncReads
}

// Monday returns the Monday of t's ISO week.
func Monday(t time.Time) time.Time {
	t = day(t)
	wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
	return t.AddDate(0, 0, -wd)
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// lastFinalSunday is the last Sunday more than lookback days before asOf: the Sunday on or
// before asOf - lookback - 1.
func lastFinalSunday(asOf time.Time, lookback int) time.Time {
	limit := day(asOf).AddDate(0, 0, -lookback-1)
	wd := (int(limit.Weekday()) + 6) % 7 // Monday = 0, Sunday = 6
	return limit.AddDate(0, 0, -((wd + 1) % 7))
}

// horizonStart is the first Monday of a horizon of weeks ISO weeks ending with asOf's, or the
// first Monday on or after oldest when that is later (clamped).
func horizonStart(asOf time.Time, weeks int, oldest time.Time) (start time.Time, clamped bool) {
	start = Monday(asOf).AddDate(0, 0, -7*(weeks-1))
	if first := Monday(oldest.AddDate(0, 0, 6)); !oldest.IsZero() && start.Before(first) {
		return first, true
	}
	return start, false
}

// planClient applies the week rules (docs/DESIGN.md, "Weeks") to one client whose as-of date
// is asOf (a date in the ad account's calendar, never after its today). The horizon starts no
// earlier than the first Monday on or after oldest (Meta's oldest day, retentionStart; zero: no
// limit), so that a backfill of an old date asks Meta only for what it keeps.
func planClient(c records.Client, st *store.SyncState, o Options, asOf, oldest time.Time) ClientPlan {
	horizon, clamped := horizonStart(asOf, o.Weeks, oldest)
	since, reason := horizon, "never covered: backfill the horizon"
	switch {
	case o.Full:
		reason = "--full: the whole horizon"
	case st == nil:
	case day(st.CoveredFrom).After(horizon):
		reason = "covered only from " + st.CoveredFrom.Format(time.DateOnly) + ": backfill the horizon"
	case st.FinalThrough == nil:
		reason = "no final week yet"
	case !day(*st.FinalThrough).Before(asOf):
		// Only a bad state (set by hand, or by a version that took future as-of dates) has a
		// final week that ends on or after the as-of date.
		since = Monday(asOf)
		reason = "final through " + st.FinalThrough.Format(time.DateOnly) + ", after the as-of date: the current week only (--full or reset-state repairs it)"
	case !day(*st.FinalThrough).Before(horizon):
		since = day(*st.FinalThrough).AddDate(0, 0, 1)
		reason = "final through " + st.FinalThrough.Format(time.DateOnly)
	default:
		reason = "final weeks older than the horizon"
	}
	if clamped && since.Equal(horizon) {
		reason += fmt.Sprintf(" (from %s: Meta keeps %d months of Insights)", horizon.Format(time.DateOnly), metaRetentionMonths)
	}
	// Coverage only widens, under --full too: the rows a run did not fetch are still stored. A
	// run whose range ends before the covered weeks begin (a backfill of an old date) leaves a
	// gap between them: covered_from stays, so that a later run still fills the gap.
	covered := since
	var final *time.Time
	if st != nil {
		if cf := day(st.CoveredFrom); cf.Before(covered) || asOf.AddDate(0, 0, 1).Before(cf) {
			covered = cf
		}
		if !o.Full {
			final = st.FinalThrough
		}
	}
	// A week is final once covered by a run more than lookback days after its Sunday. --full
	// recomputes final_through from what it fetches; when it fetches no final week (fewer
	// weeks than the lookback), the stored one stays, brought back to the last final Sunday if
	// it is later (a bad state).
	lf := lastFinalSunday(asOf, o.Lookback)
	switch {
	case !o.Full:
		if !lf.Before(covered) && (final == nil || lf.After(*final)) {
			final = &lf
		}
	case !lf.Before(since):
		final = &lf
	case st != nil && st.FinalThrough != nil:
		f := day(*st.FinalThrough)
		if f.After(lf) {
			f = lf
		}
		final = &f
	}
	cp := ClientPlan{
		ID: c.ID, Name: c.Name, Account: accountDigits(c),
		Since: records.DateOf(since), Until: records.DateOf(asOf),
		Weeks: extract.Range{Since: since, Until: asOf}.Weeks(), Reason: reason,
		CoveredFrom: records.DateOf(covered),
	}
	if final != nil {
		cp.FinalThrough = records.DateOf(*final)
	}
	return cp
}

// syncStateSeen is a client's sync state as text, "none" when it has none: covered_from,
// final_through ("-" when NULL), last_as_of and last_run_id. Every change of the state (a load,
// reset-state) changes it.
func syncStateSeen(st *store.SyncState) string {
	if st == nil {
		return "none"
	}
	final := "-"
	if st.FinalThrough != nil {
		final = st.FinalThrough.Format(time.DateOnly)
	}
	return strings.Join([]string{st.CoveredFrom.Format(time.DateOnly), final, st.LastAsOf.Format(time.DateOnly), st.LastRunID}, " ")
}

// accountDigits is the client's ad account id without act_.
func accountDigits(c records.Client) string {
	return strings.TrimPrefix(strings.TrimSpace(c.AdAccountID), "act_")
}

// Plan decides what a run with these options fetches, changing nothing.
func (r *Runner) Plan(ctx context.Context, o Options) (*Plan, error) {
	clients, err := r.selected(ctx, o)
	if err != nil {
		return nil, err
	}
	return r.plan(ctx, clients, o)
}

func (r *Runner) plan(ctx context.Context, clients []records.Client, o Options) (*Plan, error) {
	if o.Weeks < 1 || o.Weeks > MaxWeeks {
		return nil, fmt.Errorf("%w: --weeks %d: allowed range 1 to %d", ErrUsage, o.Weeks, MaxWeeks)
	}
	if o.Lookback < 0 || o.Lookback > MaxLookback {
		return nil, fmt.Errorf("%w: --lookback %d: allowed range 0 to %d", ErrUsage, o.Lookback, MaxLookback)
	}
	now := r.now()
	if err := checkNotFuture(o, now); err != nil {
		return nil, err
	}
	ids := make([]string, len(clients))
	for i, c := range clients {
		ids[i] = c.ID
	}
	states, err := store.ReadSyncStates(ctx, r.pool, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotStart, err)
	}
	accounts, err := r.adAccounts(ctx, clients)
	if err != nil {
		return nil, err
	}
	nominal := day(now.UTC())
	if !o.AsOf.IsZero() {
		nominal = day(o.AsOf)
	}
	horizon, _ := horizonStart(nominal, o.Weeks, retentionStart(now))
	p := &Plan{
		RunID: NewRunID(), Created: now.UTC(), AsOf: records.DateOf(nominal), AsOfGiven: !o.AsOf.IsZero(),
		Weeks: o.Weeks, Lookback: o.Lookback, Full: o.Full,
		HorizonStart: records.DateOf(horizon),
	}
	var future []AccountToday
	for _, c := range clients {
		acct := accounts[c.ID]
		today := acct.info.Today(now)
		asOf := today
		if !o.AsOf.IsZero() {
			asOf = day(o.AsOf)
			if acct.err == nil && asOf.After(today) {
				future = append(future, todayIn(c, acct.info, now))
			}
		}
		var st *store.SyncState
		if s, ok := states[c.ID]; ok {
			st = &s
		}
		cp := planClient(c, st, o, asOf, retentionStart(now))
		cp.StateSeen = syncStateSeen(st)
		cp.TimeZone, cp.Currency = acct.info.TimeZone, acct.info.Currency
		if acct.cached {
			if p.cached == nil {
				p.cached = map[string]bool{}
			}
			p.cached[c.ID] = true
		}
		if acct.err != nil {
			cp.Error, cp.Permanent, cp.RefusedToken = acct.err.Error(), acct.permanent, RefusedToken(acct.err)
		}
		p.Clients = append(p.Clients, cp)
	}
	if len(future) > 0 {
		return nil, &AsOfError{AsOf: nominal, Reason: AsOfAfterAccountToday, Accounts: future}
	}
	usage, app := map[string]extract.Usage{}, 0.0
	for id, a := range accounts {
		if a.hasUsage {
			usage[id] = a.usage
			if a.usage.HasApp {
				app = max(app, a.usage.App)
			}
		}
	}
	if err := r.chooseReads(ctx, p, usage, app, o.FleetSize); err != nil {
		return nil, err
	}
	return p, nil
}

// todayIn is a client's today in its ad account's time zone, for an as-of error.
func todayIn(c records.Client, a records.AdAccount, now time.Time) AccountToday {
	return AccountToday{Client: c.Name, AccountID: a.ID, Zone: a.TimeZone, Today: a.Today(now)}
}

// CheckAsOf refuses with an *AsOfError (ErrUsage) an as-of date after today anywhere (UTC+14) or after today in
// the time zone of one of the clients' ad accounts as cached in ad_accounts, without asking
// Meta: what a job queue checks before it queues a run. An account not cached yet is checked
// when its run asks Meta for it (Plan). A database error is ErrCannotStart.
func (r *Runner) CheckAsOf(ctx context.Context, clients []records.Client, asOf time.Time) error {
	if asOf.IsZero() {
		return nil
	}
	now := r.now()
	if err := checkNotFuture(Options{AsOf: asOf}, now); err != nil {
		return err
	}
	ids := make([]string, 0, len(clients))
	for _, c := range clients {
		ids = append(ids, accountDigits(c))
	}
	cached, err := store.ReadAdAccounts(ctx, r.pool, ids)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCannotStart, err)
	}
	var future []AccountToday
	for _, c := range clients {
		if a, ok := cached[accountDigits(c)]; ok && day(asOf).After(a.Today(now)) {
			future = append(future, todayIn(c, a, now))
		}
	}
	if len(future) > 0 {
		return &AsOfError{AsOf: day(asOf), Reason: AsOfAfterAccountToday, Accounts: future}
	}
	return nil
}

// latestToday is the latest calendar date anywhere at now (UTC+14, where each date begins
// first): an as-of after it is after today in every time zone.
func latestToday(now time.Time) time.Time { return day(now.In(time.FixedZone("UTC+14", 14*3600))) }

// metaRetentionMonths is how far back Meta keeps Insights: a range may start at most 37 months
// before today (docs/META_API.md, "How far back"; older is error 3018).
const metaRetentionMonths = 37

// retentionStart is the oldest day Meta keeps Insights for at now in every ad account: 37
// months before the latest today anywhere (UTC+14), so that no account finds it too old.
func retentionStart(now time.Time) time.Time {
	return latestToday(now).AddDate(0, -metaRetentionMonths, 0)
}

// CheckAsOfDate refuses with an *AsOfError (ErrUsage) an as-of date that Meta keeps no Insights for: more than
// 37 months before now (the zero date, 0001-01-01, included, so that it is never mistaken for
// "not given"). A range that starts earlier but ends later is Meta's to refuse, per client.
func CheckAsOfDate(asOf, now time.Time) error {
	if oldest := retentionStart(now); day(asOf).Before(oldest) {
		return &AsOfError{AsOf: day(asOf), Reason: AsOfTooOld, Oldest: oldest, Months: metaRetentionMonths}
	}
	return nil
}

// checkNotFuture refuses an as-of date after today in every time zone, or one Meta keeps no
// Insights for (CheckAsOfDate), before anything is read or asked; the exact check, per ad
// account, comes once the accounts are known.
func checkNotFuture(o Options, now time.Time) error {
	if !o.AsOf.IsZero() {
		if err := CheckAsOfDate(o.AsOf, now); err != nil {
			return err
		}
	}
	if latest := latestToday(now); !o.AsOf.IsZero() && day(o.AsOf).After(latest) {
		return &AsOfError{AsOf: day(o.AsOf), Reason: AsOfFuture, Today: latest}
	}
	return nil
}

// NewRunID is a run id: the UTC time and 6 random hex digits, so ids sort by creation.
func NewRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
