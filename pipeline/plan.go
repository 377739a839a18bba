package pipeline

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/load"
)

// Options are the planning inputs shared by every command.
type Options struct {
	AsOf     time.Time // the last day included (default today, UTC)
	Weeks    int       // horizon in weeks, the current week included (54)
	Lookback int       // days after a week's Sunday before the week is final (28)
	Full     bool      // refetch the whole horizon
	Clients  []string  // names or ids; empty means every active client
	Shard    Shard     // a stable share of the clients
}

// Shard is the i-th of n stable shares of the clients (0-based), for fanning a run out over
// several processes; the zero value takes every client.
type Shard struct{ Index, Count int }

// ParseShard reads "i/n" with 0 <= i < n.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.Index, &sh.Count); err != nil || sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return Shard{}, fmt.Errorf("%w: --shard %q: want i/n with 0 <= i < n", ErrUsage, s)
	}
	return sh, nil
}

// Has reports whether the client belongs to this shard (FNV-1a of its id, modulo n).
func (s Shard) Has(clientID string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(clientID))
	return int(h.Sum32()%uint32(s.Count)) == s.Index
}

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
func (p *Plan) ReportRuns() int { return len(p.Clients) * len(extract.Kinds) }

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

// planClient applies the week rules of DESIGN.md to one client.
func planClient(c load.Client, st *load.SyncState, o Options) ClientPlan {
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

// SelectClients picks the clients a run is for: the named ones (by name or id, active or
// not: naming one is asking for it), or every active client, then the shard's share. An
// unknown name is a usage error.
func SelectClients(all []load.Client, names []string, shard Shard) ([]load.Client, error) {
	var out []load.Client
	if len(names) == 0 {
		for _, c := range all {
			if c.Active {
				out = append(out, c)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, n := range names {
			found := false
			for _, c := range all {
				if c.Name == n || strings.EqualFold(c.ID, n) {
					if !seen[c.ID] {
						out = append(out, c)
						seen[c.ID] = true
					}
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("%w: unknown client %q", ErrUsage, n)
			}
		}
	}
	var sharded []load.Client
	for _, c := range out {
		if shard.Has(c.ID) {
			sharded = append(sharded, c)
		}
	}
	return sharded, nil
}

// ValidateAccount checks an ad account id: digits, with or without act_.
func ValidateAccount(c load.Client) error {
	a := strings.TrimPrefix(strings.TrimSpace(c.AdAccountID), "act_")
	if a == "" {
		return fmt.Errorf("client %s: no meta_ad_account_id", c.Name)
	}
	for _, r := range a {
		if r < '0' || r > '9' {
			return fmt.Errorf("client %s: meta_ad_account_id %q is not act_<digits> or <digits>", c.Name, c.AdAccountID)
		}
	}
	return nil
}
