package service

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/metapipe/metapipe/pipeline"
)

// The actions of the clients' pages and the API (POST /v1/clients/{id}/run, /refetch,
// /backfill): each is a run of one client, queued as POST /v1/runs queues one.

// Action is what an action would do, for its confirmation: the run it queues and, for a
// re-fetch, the stored weeks it replaces.
type Action struct {
	Kind     string       `json:"action"` // run, refetch, backfill
	ClientID string       `json:"client_id"`
	Name     string       `json:"name"`
	AsOf     string       `json:"as_of,omitempty"` // "" : the ad account's today
	Weeks    int          `json:"weeks"`
	Full     bool         `json:"full"`
	Replace  bool         `json:"replace"`
	From     string       `json:"from,omitempty"` // the re-fetch's first Monday
	To       string       `json:"to,omitempty"`   // its last day (the run's as-of)
	Replaces []StoredWeek `json:"replaces,omitempty"`
	request  RunRequest
}

// StoredWeek is a stored week a re-fetch replaces: its Monday, its figures' as-of and spend.
type StoredWeek struct {
	Week  string  `json:"week"`
	AsOf  string  `json:"as_of"`
	Spend float64 `json:"spend"`
}

const selectStoredWeeks = `
SELECT summary_date::text, coalesce(as_of::text, ''), coalesce(total_spend, 0)::float8
FROM campaign_summaries
WHERE client_id = $1 AND summary_type = 'weekly' AND platform = 'meta' AND summary_date BETWEEN $2 AND $3
ORDER BY summary_date`

func monday(t time.Time) time.Time { return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)) }

// PlanAction says what an action on a client would do, without doing it. kind is run (the
// client now, as a daily run would), backfill (weeks weeks, what is not loaded yet) or refetch
// (the weeks from the Monday of from to the Sunday of to, or today when that is later: fetched
// again and replacing the stored figures whatever their as-of). A bad field is a *FieldError;
// an unknown client ErrNoClient.
func (s *Service) PlanAction(ctx context.Context, clientID, kind string, from, to time.Time, weeks int) (*Action, error) {
	var name string
	switch err := s.pool.QueryRow(ctx, `SELECT name FROM clients WHERE id::text = $1`, clientID).Scan(&name); {
	case err == pgx.ErrNoRows:
		return nil, ErrNoClient
	case err != nil:
		return nil, fmt.Errorf("read client %s: %w", clientID, err)
	}
	a := &Action{Kind: kind, ClientID: clientID, Name: name}
	req := RunRequest{Clients: []string{clientID}, Source: "page"}
	switch kind {
	case "run":
		a.Weeks = pipeline.DefaultWeeks
	case "backfill":
		if weeks == 0 {
			weeks = pipeline.DefaultWeeks
		}
		if weeks < 1 || weeks > pipeline.MaxWeeks {
			return nil, &FieldError{"weeks", fmt.Sprintf("%d is outside 1..%d", weeks, pipeline.MaxWeeks)}
		}
		a.Weeks, req.Weeks = weeks, weeks
	case "refetch":
		if from.IsZero() || to.IsZero() {
			return nil, &FieldError{"from", "a re-fetch wants from and to (YYYY-MM-DD)"}
		}
		if to.Before(from) {
			return nil, &FieldError{"to", "before from"}
		}
		today := time.Now().UTC()
		today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
		end := monday(to).AddDate(0, 0, 6)
		if end.After(today) {
			end = today
		}
		start := monday(from)
		n := int(end.Sub(start).Hours()/24)/7 + 1
		if n > pipeline.MaxWeeks {
			return nil, &FieldError{"from", fmt.Sprintf("%d weeks: at most %d", n, pipeline.MaxWeeks)}
		}
		a.AsOf, a.From, a.To, a.Weeks, a.Full, a.Replace = end.Format(time.DateOnly), start.Format(time.DateOnly), end.Format(time.DateOnly), n, true, true
		req.AsOf, req.Weeks, req.Full, req.Replace = end, n, true, true
		rows, err := s.pool.Query(ctx, selectStoredWeeks, clientID, start, end)
		if err != nil {
			return nil, fmt.Errorf("read client %s's stored weeks: %w", name, err)
		}
		if a.Replaces, err = pgx.CollectRows(rows, pgx.RowToStructByPos[StoredWeek]); err != nil {
			return nil, fmt.Errorf("read client %s's stored weeks: %w", name, err)
		}
	default:
		return nil, &FieldError{"action", "unknown action " + kind + " (run, refetch, backfill)"}
	}
	a.request = req
	return a, nil
}

// Do queues the action's run (as Enqueue: a *FieldError, a *ConflictError) and returns its id.
func (s *Service) Do(ctx context.Context, a *Action, source string) (string, error) {
	req := a.request
	req.Source = source
	return s.Enqueue(ctx, req)
}
