package service

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/metapipe/metapipe/pipeline"
)

// A client's health, as the clients' pages and GET /v1/clients show it.
const (
	HealthHealthy      = "healthy"       // its newest finished run loaded it
	HealthFailing      = "failing"       // its newest finished runs failed it (since the first of them)
	HealthTokenRefused = "token_refused" // Meta refused its token (Token says which: own or default)
	HealthThrottled    = "throttled"     // Meta holds its ad account (ad_account_throttle)
	HealthRunning      = "running"       // a run works it now, and none finished it before
	HealthNeverRun     = "never_run"     // no run in the history
)

// healthOrder sorts the unhealthy first.
var healthOrder = map[string]int{HealthTokenRefused: 0, HealthFailing: 1, HealthThrottled: 2, HealthNeverRun: 3, HealthRunning: 4, HealthHealthy: 5}

// A week of the horizon, in the strip of the client's page.
const (
	WeekFinal      = "final"       // loaded, and final (at or before the sync state's final_through)
	WeekNotFinal   = "not_final"   // loaded, not final yet: the next runs fetch it again
	WeekMissing    = "missing"     // not covered by any load (before covered_from, or after last_as_of)
	WeekNoDelivery = "no_delivery" // covered by a load, and no delivery in it: no row
)

// ClientHealth is one client as its page shows it.
type ClientHealth struct {
	ClientID  string `json:"client_id"`
	Name      string `json:"name"`
	AdAccount string `json:"ad_account_id"`
	Active    bool   `json:"active"`
	State     string `json:"state"` // healthy, failing, token_refused, throttled, running, never_run
	// FailingSince is when the first run of the current streak of failures was queued.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	FailedRuns   int        `json:"failed_runs_in_a_row,omitempty"`
	// Token is whose token the client runs with: own (clients.meta_access_token) or default
	// (META_ACCESS_TOKEN); with token_refused, the one Meta refused.
	Token          string      `json:"token"`
	ThrottledUntil *time.Time  `json:"throttled_until,omitempty"`
	LastAsOf       string      `json:"last_as_of,omitempty"`      // client_sync_state.last_as_of
	FinalThrough   string      `json:"final_through,omitempty"`   // the last final Sunday
	LastSuccess    *time.Time  `json:"last_success,omitempty"`    // when it was last loaded
	LastError      string      `json:"last_error,omitempty"`      // of its newest failed run
	LastErrorCode  int         `json:"last_error_code,omitempty"` // Meta's error code in it (190: token)
	LastErrorKind  string      `json:"last_error_report,omitempty"`
	Weeks          []Week      `json:"weeks,omitempty"` // GET /v1/clients/{id} only: the horizon, oldest first
	Runs           []ClientRun `json:"runs,omitempty"`  // GET /v1/clients/{id} only: the newest 20
}

// Week is one week of a client's horizon: its state and its figures when loaded.
type Week struct {
	Monday      string  `json:"week"` // YYYY-MM-DD, a Monday
	State       string  `json:"state"`
	Spend       float64 `json:"spend"` // in the ad account's currency
	Impressions int64   `json:"impressions"`
	Reach       int64   `json:"reach"`
	// Disagrees is set when the week's figures disagree with the ad account's totals (a check
	// issue 17 adds); always false until it is recorded.
	Disagrees bool `json:"disagrees_with_account"`
}

// ClientRun is one run of a client, newest first.
type ClientRun struct {
	RunID   string      `json:"run_id"`
	Source  string      `json:"source"`
	Created time.Time   `json:"created_at"`
	State   ClientState `json:"state"` // the client's in the run
	Weeks   int         `json:"weeks"` // the run's horizon
	Error   string      `json:"error,omitempty"`
}

// ErrNoClient is a client id the service does not know.
var ErrNoClient = errors.New("no such client")

const (
	selectHealthClients = `
SELECT cl.id::text, cl.name, coalesce(cl.meta_ad_account_id, ''), cl.active, cl.meta_access_token IS NOT NULL,
       s.covered_from, s.final_through, s.last_as_of, s.updated_at, t.until
FROM clients cl
LEFT JOIN client_sync_state s ON s.client_id = cl.id AND s.platform = 'meta'
LEFT JOIN ad_account_throttle t ON t.ad_account_id = regexp_replace(coalesce(cl.meta_ad_account_id, ''), '^act_', '') AND t.until > now()
WHERE $1::text IS NULL OR cl.id::text = $1
ORDER BY cl.name, cl.id`
	selectHealthWeeks = `
SELECT summary_date, coalesce(total_spend, 0)::float8, coalesce(total_impressions, 0), coalesce(reach, 0)
FROM campaign_summaries
WHERE client_id = $1 AND summary_type = 'weekly' AND platform = 'meta' AND summary_date >= $2
ORDER BY summary_date`
)

var reportKind = regexp.MustCompile(`report (\w+):`)

// ClientsHealth reads every client's health, the unhealthy first (then by name).
func (s *Service) ClientsHealth(ctx context.Context) ([]ClientHealth, error) {
	list, err := s.health(ctx, nil, 12)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].Runs = nil
	}
	slices.SortStableFunc(list, func(a, b ClientHealth) int { return healthOrder[a.State] - healthOrder[b.State] })
	return list, nil
}

// ClientHealth reads one client's health with its horizon's weeks and its newest 20 runs; an
// unknown id is ErrNoClient. The horizon is weeks long (0: as long as the client's newest
// run's, else pipeline.DefaultWeeks) and ends with the week of the client's last as-of date (the
// current UTC week when it was never loaded).
func (s *Service) ClientHealth(ctx context.Context, id string, weeks int) (*ClientHealth, error) {
	list, err := s.health(ctx, &id, 20)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNoClient
	}
	c := &list[0]
	if weeks == 0 {
		weeks = pipeline.DefaultWeeks
		if len(c.Runs) > 0 {
			weeks = c.Runs[0].Weeks
		}
	}
	if c.Weeks, err = s.clientWeeks(ctx, c, weeks, time.Now().UTC()); err != nil {
		return nil, err
	}
	return c, nil
}

type syncRow struct {
	covered, final, last *time.Time
}

func (s *Service) health(ctx context.Context, id *string, runs int) ([]ClientHealth, error) {
	rows, err := s.pool.Query(ctx, selectHealthClients, id)
	if err != nil {
		return nil, fmt.Errorf("read the clients' health: %w", err)
	}
	var list []ClientHealth
	var c ClientHealth
	var own bool
	var sr syncRow
	var success, throttled *time.Time
	_, err = pgx.ForEachRow(rows, []any{&c.ClientID, &c.Name, &c.AdAccount, &c.Active, &own, &sr.covered, &sr.final, &sr.last, &success, &throttled}, func() error {
		h := c
		h.Token = "default"
		if own {
			h.Token = "own"
		}
		h.LastSuccess, h.ThrottledUntil = success, throttled
		if sr.last != nil {
			h.LastAsOf = sr.last.Format(time.DateOnly)
		}
		if sr.final != nil {
			h.FinalThrough = sr.final.Format(time.DateOnly)
		}
		list = append(list, h)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the clients' health: %w", err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	if _, err := s.reconcile(ctx, nil); err != nil { // the runs as River ended them
		return nil, err
	}
	rrows, err := s.pool.Query(ctx, selectHealthRuns, id, runs)
	if err != nil {
		return nil, fmt.Errorf("read the clients' runs: %w", err)
	}
	byClient := map[string][]ClientRun{}
	var cid string
	var r ClientRun
	if _, err := pgx.ForEachRow(rrows, []any{&cid, &r.RunID, &r.Source, &r.Created, &r.State, &r.Weeks, &r.Error}, func() error {
		byClient[cid] = append(byClient[cid], r)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read the clients' runs: %w", err)
	}
	for i := range list {
		list[i].Runs = byClient[list[i].ClientID]
		judge(&list[i])
	}
	return list, nil
}

// judge sets a client's state from its newest runs (newest first) and its throttle.
func judge(c *ClientHealth) {
	var finished []ClientRun
	running := false
	for _, r := range c.Runs {
		if r.State.Over() {
			finished = append(finished, r)
		} else {
			running = running || len(finished) == 0
		}
	}
	for _, r := range finished {
		if r.State == StateFailed {
			c.LastError = r.Error
			if m := graphCode.FindStringSubmatch(r.Error); m != nil {
				c.LastErrorCode, _ = strconv.Atoi(m[1])
			}
			if m := reportKind.FindStringSubmatch(r.Error); m != nil {
				c.LastErrorKind = m[1]
			}
			break
		}
	}
	streak := 0
	for _, r := range finished {
		if r.State != StateFailed {
			break
		}
		streak++
		t := r.Created
		c.FailingSince = &t
	}
	c.FailedRuns = streak
	switch {
	case streak > 0 && refusedText(c.LastError):
		c.State = HealthTokenRefused
	case streak > 0:
		c.State = HealthFailing
	case c.ThrottledUntil != nil:
		c.State = HealthThrottled
	case len(finished) > 0 && finished[0].State == StateDone:
		c.State = HealthHealthy
	case running:
		c.State = HealthRunning
	case len(finished) > 0:
		c.State = HealthFailing // interrupted last
		t := finished[0].Created
		c.FailingSince = &t
	default:
		c.State = HealthNeverRun
	}
}

// clientWeeks is the client's horizon: weeks weeks, the week of its last as-of date (or of
// now) the last, each with its state and figures.
func (s *Service) clientWeeks(ctx context.Context, c *ClientHealth, weeks int, now time.Time) ([]Week, error) {
	end := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if t, err := time.Parse(time.DateOnly, c.LastAsOf); err == nil {
		end = t
	}
	monday := end.AddDate(0, 0, -((int(end.Weekday()) + 6) % 7))
	first := monday.AddDate(0, 0, -7*(weeks-1))
	rows, err := s.pool.Query(ctx, selectHealthWeeks, c.ClientID, first)
	if err != nil {
		return nil, fmt.Errorf("read client %s's weeks: %w", c.Name, err)
	}
	loaded := map[string]Week{}
	var d time.Time
	var w Week
	if _, err := pgx.ForEachRow(rows, []any{&d, &w.Spend, &w.Impressions, &w.Reach}, func() error {
		w.Monday = d.Format(time.DateOnly)
		loaded[w.Monday] = w
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read client %s's weeks: %w", c.Name, err)
	}
	var covered, last, final time.Time
	var sync syncRow
	if err := s.pool.QueryRow(ctx, `SELECT covered_from, final_through, last_as_of FROM client_sync_state WHERE client_id = $1 AND platform = 'meta'`,
		c.ClientID).Scan(&sync.covered, &sync.final, &sync.last); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("read client %s's sync state: %w", c.Name, err)
	}
	if sync.covered != nil {
		covered, last = *sync.covered, *sync.last
	}
	if sync.final != nil {
		final = *sync.final
	}
	out := make([]Week, 0, weeks)
	for m := first; !m.After(monday); m = m.AddDate(0, 0, 7) {
		key := m.Format(time.DateOnly)
		sunday := m.AddDate(0, 0, 6)
		w, ok := loaded[key]
		w.Monday = key
		switch {
		case ok && !final.IsZero() && !sunday.After(final):
			w.State = WeekFinal
		case ok:
			w.State = WeekNotFinal
		case sync.covered != nil && !m.Before(covered) && !m.After(last):
			w.State = WeekNoDelivery
		default:
			w.State = WeekMissing
		}
		out = append(out, w)
	}
	return out, nil
}

// graphCode finds Meta's code in an error kept as text ("graph api error 190/460: …"): the
// error column of a run's client, the one record of a run long over (its typed error is gone
// with the process; a live failure is judged by type, pipeline.RefusedToken).
var graphCode = regexp.MustCompile(`graph api error (\d+)(?:/(\d+))?`)

// refusedText says whether an error kept as text is Meta refusing the token or a permission
// (extract.ClassAuth: 190, 102, 10, 200-299).
func refusedText(msg string) bool {
	m := graphCode.FindStringSubmatch(msg)
	if m == nil {
		return false
	}
	code, _ := strconv.Atoi(m[1])
	sub, _ := strconv.Atoi(m[2])
	return pipeline.RefusedCode(code, sub)
}
