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
	"github.com/metapipe/metapipe/load"
)

// ClientPlan is what one client's run fetches and, once loaded, what its sync state becomes.
type ClientPlan struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Account string `json:"ad_account_id"` // digits, without act_
	Since   string `json:"since"`         // a Monday
	Until   string `json:"until"`         // the as-of date
	Weeks   int    `json:"weeks"`
	Reason  string `json:"reason"`

	// The client_sync_state written with the load.
	CoveredFrom  string `json:"covered_from"`
	FinalThrough string `json:"final_through,omitempty"`
}

// Range returns the fetched dates.
func (c ClientPlan) Range() extract.Range {
	return extract.Range{Since: mustDate(c.Since), Until: mustDate(c.Until)}
}

// Plan is plan.json: what a run fetches for whom.
type Plan struct {
	RunID        string       `json:"run_id"`
	Created      time.Time    `json:"created"`
	AsOf         string       `json:"as_of"`
	Weeks        int          `json:"weeks"`
	Lookback     int          `json:"lookback"`
	Full         bool         `json:"full"`
	HorizonStart string       `json:"horizon_start"`
	Clients      []ClientPlan `json:"clients"`
}

// KPIRange is the span of the one KPI query: every client's range.
func (p *Plan) KPIRange() (from, to time.Time) {
	for i, c := range p.Clients {
		s := mustDate(c.Since)
		if i == 0 || s.Before(from) {
			from = s
		}
	}
	return from, mustDate(p.AsOf)
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

// ReportRuns counts the report runs the plan submits when nothing needs splitting.
func (p *Plan) ReportRuns() int { return len(p.Clients) * len(records.Kinds) }

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

func mustDate(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(fmt.Sprintf("pipeline: bad date %q in plan", s))
	}
	return t
}

// lastFinalSunday is the last Sunday more than lookback days before asOf: the Sunday on or
// before asOf - lookback - 1.
func lastFinalSunday(asOf time.Time, lookback int) time.Time {
	limit := day(asOf).AddDate(0, 0, -lookback-1)
	wd := (int(limit.Weekday()) + 6) % 7 // Monday = 0, Sunday = 6
	return limit.AddDate(0, 0, -((wd + 1) % 7))
}

// planClient applies the week rules (docs/DESIGN.md, "Weeks") to one client.
func planClient(c records.Client, st *load.SyncState, o Options) ClientPlan {
	asOf := day(o.AsOf)
	horizon := Monday(asOf).AddDate(0, 0, -7*(o.Weeks-1))
	since, reason := horizon, "never covered: backfill the horizon"
	switch {
	case o.Full:
		reason = "--full: the whole horizon"
	case st == nil:
	case day(st.CoveredFrom).After(horizon):
		reason = "covered only from " + st.CoveredFrom.Format(time.DateOnly) + ": backfill the horizon"
	case st.FinalThrough == nil:
		reason = "no final week yet"
	case !day(*st.FinalThrough).Before(horizon):
		since = day(*st.FinalThrough).AddDate(0, 0, 1)
		reason = "final through " + st.FinalThrough.Format(time.DateOnly)
	default:
		reason = "final weeks older than the horizon"
	}
	if since.After(asOf) { // cannot happen with lookback >= 0, but never plan an empty range
		since = Monday(asOf)
	}
	covered := since
	var final *time.Time
	if st != nil {
		if cf := day(st.CoveredFrom); cf.Before(covered) && !o.Full {
			covered = cf
		}
		final = st.FinalThrough
	}
	if lf := lastFinalSunday(asOf, o.Lookback); !lf.Before(covered) && (final == nil || lf.After(*final)) {
		final = &lf
	}
	cp := ClientPlan{
		ID: c.ID, Name: c.Name, Account: strings.TrimPrefix(strings.TrimSpace(c.AdAccountID), "act_"),
		Since: since.Format(time.DateOnly), Until: asOf.Format(time.DateOnly),
		Weeks: extract.Range{Since: since, Until: asOf}.Weeks(), Reason: reason,
		CoveredFrom: covered.Format(time.DateOnly),
	}
	if final != nil {
		cp.FinalThrough = final.Format(time.DateOnly)
	}
	return cp
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
	if o.Weeks < 1 {
		return nil, fmt.Errorf("%w: --weeks must be at least 1", ErrUsage)
	}
	if o.Lookback < 0 {
		return nil, fmt.Errorf("%w: --lookback must not be negative", ErrUsage)
	}
	ids := make([]string, len(clients))
	for i, c := range clients {
		ids[i] = c.ID
	}
	states, err := load.ReadSyncStates(ctx, r.pool, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotStart, err)
	}
	asOf := day(o.AsOf)
	p := &Plan{
		RunID: newRunID(), Created: time.Now().UTC(), AsOf: asOf.Format(time.DateOnly),
		Weeks: o.Weeks, Lookback: o.Lookback, Full: o.Full,
		HorizonStart: Monday(asOf).AddDate(0, 0, -7*(o.Weeks-1)).Format(time.DateOnly),
	}
	for _, c := range clients {
		var st *load.SyncState
		if s, ok := states[c.ID]; ok {
			st = &s
		}
		p.Clients = append(p.Clients, planClient(c, st, o))
	}
	return p, nil
}

// newRunID is a run id: the UTC time and 6 random hex digits, so ids sort by creation.
func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
