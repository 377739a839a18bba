package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
)

// How a client's range is read (ClientPlan.Read).
const (
	// ReadSync: with synchronous Insights requests, one per kind for a short range, in
	// week-aligned chunks (ClientPlan.SyncChunks) for a long one, each falling back to a report
	// run of its range.
	ReadSync = "synchronous"
	// ReadReportRuns: one report run per kind (split when Meta finds it too large).
	ReadReportRuns = "report runs"
)

// ReadPlanning tunes how the planner chooses, for a range longer than --sync-weeks, between
// synchronous requests in week-aligned chunks and report runs (docs/DESIGN.md, "How a range is
// read"). The zero value takes the defaults.
type ReadPlanning struct {
	// Budget is the most synchronous chunk reads a run makes, every client together, when
	// Meta's app-wide usage is 0 %; defaults to DefaultSyncBudget (1,000); the budget shrinks with the usage the ad account
	// reads reported (at 50 %, half). A run that would make more reads reads its long ranges
	// by report runs: a large fleet gains nothing from synchronous reads (its report runs
	// overlap) and they would cost it more requests. A negative budget reads every long
	// range by report runs (--sync-budget 0).
	Budget int
	// ChunkRows is the most rows a chunk is planned to hold (250, half a page of 500), so
	// that a chunk is one page even when the account grew to twice its size; defaults to
	// DefaultChunkRows.
	ChunkRows int
	// UnknownRowsPerWeek is a kind's rows per week assumed for an account no run has loaded
	// yet (20; the account-level kind has one row a week whatever the account).
	UnknownRowsPerWeek int
	// HistoryWeeks is how many weeks before the run's as-of date campaign_summaries is read
	// for an account's rows per week (13).
	HistoryWeeks int
	// ReportRunPolls is the polls a report run is counted at when comparing requests (3).
	ReportRunPolls int
}

// accountSize is a client's rows per week and report kind: the most of any of its latest
// loaded weeks, or assumed.
type accountSize struct {
	perWeek map[records.Kind]int
	known   bool // from campaign_summaries, not assumed
}

// sizedKinds are the kinds whose rows a summary keeps in its JSON (records.KindSpec.InSummary),
// in the order of readSizesSQL's columns.
var sizedKinds, readSizesSQL = sizesQuery()

// sizesQuery builds readSizes' query: per client, one max per kind of sizedKinds of the length
// of the JSON array at its InSummary path. Its text comes only from the descriptors'
// constants, once; the values travel as $1 and $2.
func sizesQuery() ([]records.Kind, string) {
	var kinds []records.Kind
	var sel strings.Builder
	for _, s := range records.KindSpecs {
		if s.InSummary == "" {
			continue
		}
		col, members, _ := strings.Cut(s.InSummary, ".")
		path := col
		for m := range strings.SplitSeq(members, ".") {
			if m != "" {
				path += "->'" + m + "'"
			}
		}
		sel.WriteString(",\n       max(CASE WHEN jsonb_typeof(" + path + ") = 'array' THEN jsonb_array_length(" + path + ") END)")
		kinds = append(kinds, s.Kind)
	}
	return kinds, `
SELECT client_id::text` + sel.String() + `
FROM campaign_summaries
WHERE client_id = ANY($1::uuid[]) AND platform = 'meta' AND summary_type = 'weekly' AND summary_date >= $2
GROUP BY client_id`
}

// readSizes reads each client's rows per week and kind from its latest weeks in
// campaign_summaries: campaign_data holds one entry per campaign with delivery, meta_tables one
// per placement, demographic and ad, as the report rows did. The account-level kind has one
// row a week. A client without a loaded week is absent.
func (r *Runner) readSizes(ctx context.Context, ids []string, since time.Time) (map[string]accountSize, error) {
	rows, err := r.pool.Query(ctx, readSizesSQL, ids, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]accountSize{}
	for rows.Next() {
		var id string
		counts := make([]*int32, len(sizedKinds))
		dest := []any{&id}
		for i := range counts {
			dest = append(dest, &counts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		size := accountSize{known: true, perWeek: map[records.Kind]int{}}
		for _, s := range records.KindSpecs {
			if s.InSummary == "" {
				size.perWeek[s.Kind] = 1 // the one account row a week
			}
		}
		for i, n := range counts {
			size.perWeek[sizedKinds[i]] = 0
			if n != nil {
				size.perWeek[sizedKinds[i]] = int(*n)
			}
		}
		out[id] = size
	}
	return out, rows.Err()
}

// readChoice is one long-range client's synchronous plan before the run's budget is applied.
type readChoice struct {
	i      int // index in Plan.Clients
	chunks map[records.Kind]int
	reads  int // synchronous reads: Σ chunks
	why    string
}

// chooseReads decides, for every client that can run, how its range is read (ClientPlan.Read,
// SyncChunks, ReadWhy), from what the planner knows (docs/DESIGN.md, "How a range is read"):
//
//   - --sync-weeks 0 reads everything by report runs.
//   - A range of at most --sync-weeks weeks is one synchronous read per kind, as before.
//   - A longer range (a first run, a backfill) is cut per kind into week-aligned chunks of at
//     most ReadPlanning.ChunkRows rows by the account's rows per week (campaign_summaries'
//     latest weeks, or UnknownRowsPerWeek), all read at once. It is read by report runs
//     instead when one week of a kind would not fit a page, when the chunks would cost more
//     requests than the report runs (a submit, ReportRunPolls polls and the pages per kind),
//     when the account's own usage is at 75 % or more, or when the run's chunk reads, every
//     long-range client together (fleet clients when planned one at a time), exceed the
//     budget left by Meta's app-wide usage: a large fleet.
//
// usage is the account reads' usage headers by client id (absent: no reading); app the
// highest app-wide figure among them (percent). fleet is how many clients the whole run holds
// (0: those planned).
func (r *Runner) chooseReads(ctx context.Context, p *Plan, usage map[string]extract.Usage, app float64, fleet int) error {
	cfg := r.cfg.ReadPlanning
	syncWeeks := r.cfg.Sync.Weeks
	pageSize := r.cfg.PageSize
	var long []int
	for i := range p.Clients {
		c := &p.Clients[i]
		switch {
		case c.Error != "":
		case syncWeeks <= 0:
			c.Read, c.ReadWhy = ReadReportRuns, "--sync-weeks 0: report runs only"
		case c.Weeks <= syncWeeks:
			c.Read, c.ReadWhy = ReadSync, fmt.Sprintf("%d weeks, at most --sync-weeks %d: one synchronous read per kind", c.Weeks, syncWeeks)
		default:
			long = append(long, i)
		}
	}
	if len(long) == 0 {
		return nil
	}
	if r.cfg.ReadPlanning.Budget < 0 {
		for _, i := range long {
			p.Clients[i].Read, p.Clients[i].ReadWhy = ReadReportRuns, "--sync-budget 0: long ranges by report runs"
		}
		return nil
	}
	n := max(fleet, len(long))
	budget := int(float64(cfg.Budget) * max(0, 100-app) / 100)
	headroom := fmt.Sprintf("app usage %.0f %%", app)
	if app <= 0 {
		headroom = "app usage 0 %"
	}
	// Even at one read per kind a run of more clients than this exceeds the budget: a large
	// fleet, read by report runs without weighing each account.
	if n*len(records.Kinds) > budget {
		for _, i := range long {
			p.Clients[i].Read = ReadReportRuns
			p.Clients[i].ReadWhy = fmt.Sprintf("%s, %s: synchronous chunks would exceed the run's budget of %d reads", Counted(n, "client", "clients"), headroom, budget)
		}
		return nil
	}
	ids := make([]string, len(long))
	for k, i := range long {
		ids[k] = p.Clients[i].ID
	}
	sizes, err := r.readSizes(ctx, ids, p.AsOf.Time().AddDate(0, 0, -7*cfg.HistoryWeeks))
	if err != nil {
		return fmt.Errorf("%w: read the accounts' sizes: %w", ErrCannotStart, err)
	}
	var choices []readChoice
	total := 0
	for _, i := range long {
		c := &p.Clients[i]
		ch, ok := chooseClientRead(c, i, sizes, usage, cfg, pageSize)
		if !ok {
			continue
		}
		choices = append(choices, ch)
		total += ch.reads
	}
	// The run's reads: those of the clients planned, scaled to the fleet when planned alone.
	if fleet > len(long) && len(long) > 0 {
		total = total * fleet / len(long)
	}
	for _, ch := range choices {
		c := &p.Clients[ch.i]
		if total > budget {
			c.Read = ReadReportRuns
			c.ReadWhy = fmt.Sprintf("%s, %s: %d synchronous chunk reads would exceed the run's budget of %d", Counted(n, "client", "clients"), headroom, total, budget)
			continue
		}
		c.Read, c.SyncChunks = ReadSync, ch.chunks
		c.ReadWhy = fmt.Sprintf("%s, %s: %s", Counted(n, "client", "clients"), headroom, ch.why)
	}
	return nil
}

// chooseClientRead weighs one long-range client (index i of the plan, c): report runs (its
// Read set, false) or synchronous chunks (the choice, true, left for the run's budget).
func chooseClientRead(c *ClientPlan, i int, sizes map[string]accountSize, usage map[string]extract.Usage, cfg ReadPlanning, pageSize int) (readChoice, bool) {
	size, ok := sizes[c.ID]
	source := "rows a week from the latest loaded weeks"
	if !ok {
		size = accountSize{perWeek: map[records.Kind]int{}}
		for _, k := range records.Kinds {
			size.perWeek[k] = cfg.UnknownRowsPerWeek
		}
		size.perWeek[records.KindAccount] = 1
		source = fmt.Sprintf("no week loaded yet: %d rows a week assumed", cfg.UnknownRowsPerWeek)
	}
	if u, ok := usage[c.ID]; ok && u.Percent >= 75 {
		c.Read, c.ReadWhy = ReadReportRuns, fmt.Sprintf("the ad account's usage is at %.0f %%: report runs", u.Percent)
		return readChoice{}, false
	}
	ch := readChoice{i: i, chunks: map[records.Kind]int{}}
	rrRequests := 0
	largest, largestKind := 0, records.Kind("")
	for _, k := range records.Kinds {
		perWeek := max(1, size.perWeek[k])
		if perWeek > largest {
			largest, largestKind = perWeek, k
		}
		w := min(c.Weeks, max(1, cfg.ChunkRows/perWeek))
		ch.chunks[k] = w
		ch.reads += (c.Weeks + w - 1) / w
		rrRequests += 1 + cfg.ReportRunPolls + max(1, (perWeek*c.Weeks+pageSize-1)/pageSize)
	}
	switch {
	case largest > pageSize:
		c.Read, c.ReadWhy = ReadReportRuns, fmt.Sprintf("%s has %d rows a week, more than a page: report runs", largestKind, largest)
		return readChoice{}, false
	case ch.reads > rrRequests:
		c.Read, c.ReadWhy = ReadReportRuns, fmt.Sprintf("%d synchronous chunks would cost more requests than report runs (%d; %s)", ch.reads, rrRequests, source)
		return readChoice{}, false
	}
	ch.why = fmt.Sprintf("%d synchronous reads at once, chunks of %s weeks (%s)", ch.reads, chunkList(ch.chunks), source)
	return ch, true
}

// chunkList names the chunk weeks of each kind, in the kinds' order: "54/25/16/16/8".
func chunkList(m map[records.Kind]int) string {
	parts := make([]string, 0, len(records.Kinds))
	for _, k := range records.Kinds {
		parts = append(parts, fmt.Sprint(m[k]))
	}
	return strings.Join(parts, "/")
}

// Counted is n with the noun in its number: "1 client", "2 clients".
func Counted(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
