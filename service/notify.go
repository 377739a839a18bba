package service

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/metapipe/metapipe/internal/backoff"
	"github.com/metapipe/metapipe/pipeline"
)

// NotifyConfig says where the service tells people what went wrong, and when. Every event is
// recorded in PostgreSQL first (notify_events, in the transaction that caused it where there is
// one) with a River job (metapipe_notify) that a worker delivers: an HTTP POST of the event to
// each webhook, signed, retried with backoff, once per webhook (notify_deliveries) whichever
// worker works the job. Every worker needs the same webhooks and secret.
type NotifyConfig struct {
	Webhooks []Webhook
	// Secret keys the signature of every body: X-Metapipe-Signature: sha256=<hex of
	// HMAC-SHA256(Secret, body)>. "" sends no signature (Open refuses a generic JSON webhook
	// without one).
	Secret string
	// FailuresInARow: a client failing its N-th service run in a row is an event; defaults to
	// DefaultFailuresInARow (3).
	FailuresInARow int
	// ThrottleBound: Meta holding a client's ad account for longer than this (its
	// estimated_time_to_regain_access, or the cooldown after a throttling error) is an event,
	// once per client and run; defaults to DefaultThrottleBound (15m).
	ThrottleBound time.Duration
	// Retry spaces the POSTs of one delivery attempt; defaults to DefaultWebhookRetry (1s
	// doubling up to 30s, 5 POSTs);
	// a webhook still failing then is tried again by River later (NextRetry), up to
	// notifyAttempts job attempts.
	Retry backoff.Policy
	// HTTP posts the bodies; defaults to DefaultWebhookTimeout (10 s) per POST on the default
	// transport.
	HTTP *http.Client
}

// Webhook is where events are posted: URL (https, or http on a loopback address) and Format,
// "json" (the generic body, Event) or "slack" (Slack's incoming-webhook body, {"text": …}).
type Webhook struct {
	URL    string
	Format string
}

// Webhook formats.
const (
	FormatJSON  = "json"
	FormatSlack = "slack"
)

// ID names the webhook in notify_deliveries and in logs: its format and the first 12 hex
// digits of the SHA-256 of its URL, never the URL (a Slack webhook's URL is its secret).
func (w Webhook) ID() string {
	sum := sha256.Sum256([]byte(w.URL))
	return w.Format + "-" + hex.EncodeToString(sum[:6])
}

// Check says what is wrong with the webhook: a URL that is not http(s), http to a host other
// than loopback, a format other than json or slack.
func (w Webhook) Check() error {
	u, err := url.Parse(w.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("webhook %s: not an http(s) URL", w.ID())
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("webhook %s: http:// only to a loopback address; use https", w.ID())
		}
	}
	if w.Format != FormatJSON && w.Format != FormatSlack {
		return fmt.Errorf("webhook %s: format %q, want json or slack", w.ID(), w.Format)
	}
	return nil
}

// DefaultWebhookRetry is NotifyConfig.Retry's default: 1 s doubling up to 30 s, ±20 %, 5 POSTs.
var DefaultWebhookRetry = backoff.Policy{Base: time.Second, Cap: 30 * time.Second, JitterPercent: 20, MaxAttempts: 5}

// WithDefaults fills the zero fields with their Default constants.
func (c NotifyConfig) WithDefaults() NotifyConfig {
	c.FailuresInARow = cmp.Or(c.FailuresInARow, DefaultFailuresInARow)
	c.ThrottleBound = cmp.Or(c.ThrottleBound, DefaultThrottleBound)
	if c.Retry.Base == 0 {
		c.Retry = DefaultWebhookRetry
	}
	c.HTTP = cmp.Or(c.HTTP, &http.Client{Timeout: DefaultWebhookTimeout})
	return c
}

// Validate refuses a configuration that would post unsigned generic bodies or to a bad URL,
// or count failures in a row from less than 1.
func (c NotifyConfig) Validate() error {
	for _, w := range c.Webhooks {
		if err := w.Check(); err != nil {
			return err
		}
		if w.Format == FormatJSON && c.Secret == "" {
			return fmt.Errorf("webhook %s: a generic JSON webhook needs a secret to sign its bodies (METAPIPE_WEBHOOK_SECRET)", w.ID())
		}
	}
	if c.FailuresInARow < 1 {
		return fmt.Errorf("failures in a row: %d, want 1 or more", c.FailuresInARow)
	}
	return nil
}

// The kinds of event.
const (
	EventRunFinished     = "run_finished"     // a run ended partial or failed
	EventClientFailing   = "client_failing"   // a client failed its N-th run in a row
	EventTokenRefused    = "token_refused"    // Meta refused the token a client ran with
	EventClientThrottled = "client_throttled" // Meta held a client's ad account longer than the bound
	EventTest            = "test"             // metapipe notify test
)

// Event is the generic JSON body posted to a webhook (README, "Notifications"). It never
// holds a token or a database URL: errors are Meta's messages with tokens scrubbed.
type Event struct {
	ID      int64     `json:"id"`    // notify_events.id: a receiver drops an id it has seen
	Event   string    `json:"event"` // run_finished, client_failing, token_refused, client_throttled, test
	At      time.Time `json:"at"`    // when it was recorded
	Summary string    `json:"summary"`
	RunID   string    `json:"run_id,omitempty"`
	// RunState is the run's end (run_finished): partial or failed.
	RunState RunState `json:"run_state,omitempty"`
	// ClientsTotal and ClientsLoaded count the run's clients (run_finished).
	ClientsTotal  int `json:"clients_total,omitempty"`
	ClientsLoaded int `json:"clients_loaded,omitempty"`
	// Clients are the run's clients not loaded (run_finished).
	Clients []EventClient `json:"clients,omitempty"`
	// Client is the client the event is about (client_failing, token_refused, client_throttled).
	Client *EventClient `json:"client,omitempty"`
	// Error is the client's error (client_failing, token_refused): Meta's message and code.
	Error string `json:"error,omitempty"`
	// FailuresInARow is how many runs in a row the client failed (client_failing).
	FailuresInARow int `json:"failures_in_a_row,omitempty"`
	// Token says which token Meta refused (token_refused): "client" (the client's own,
	// clients.meta_access_token) or "default" (META_ACCESS_TOKEN, shared by every client without
	// one). Never the token.
	Token string `json:"token,omitempty"`
	// AdAccountID and ThrottledSeconds: the account Meta held and for how long (client_throttled).
	AdAccountID      string  `json:"ad_account_id,omitempty"`
	ThrottledSeconds float64 `json:"throttled_seconds,omitempty"`
}

// EventClient is a client in an event: its id, name, state in the run and last error.
type EventClient struct {
	ID    string      `json:"id"`
	Name  string      `json:"name"`
	State ClientState `json:"state,omitempty"`
	Error string      `json:"error,omitempty"`
}

// NotifyArgs is the job that delivers one event to the webhooks. Unique by its event.
type NotifyArgs struct {
	EventID int64 `json:"event_id"`
}

// notifyQueue is the River queue of the deliveries: they do not wait behind the clients' jobs.
const notifyQueue = "metapipe_notify"

// notifyAttempts bounds River's attempts of a delivery job (about a day with NextRetry).
const notifyAttempts = 30

// Kind is River's name of the job.
func (NotifyArgs) Kind() string { return "metapipe_notify" }

// InsertOpts puts the job in the notify queue, once per event.
func (NotifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: notifyQueue, MaxAttempts: notifyAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

const insertEvent = `
INSERT INTO notify_events (kind, dedup_key, body) VALUES ($1, $2, $3)
ON CONFLICT (dedup_key) DO NOTHING RETURNING id`

// recordEvent records e under key, once whatever the number of callers (the key is unique),
// and queues its delivery, in tx.
func (s *Service) recordEvent(ctx context.Context, tx pgx.Tx, key string, e Event) error {
	e.At = time.Now().UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	var id int64
	switch err := tx.QueryRow(ctx, insertEvent, e.Event, key, string(b)).Scan(&id); { // jsonb as text: every exec mode
	case errors.Is(err, pgx.ErrNoRows):
		return nil // recorded already
	case err != nil:
		return fmt.Errorf("record event %s: %w", key, err)
	}
	if _, err := s.river.InsertTx(ctx, tx, NotifyArgs{EventID: id}, nil); err != nil {
		return fmt.Errorf("queue event %s: %w", key, err)
	}
	s.log.Info("event recorded", "event", e.Event, "id", id, "run", e.RunID)
	return nil
}

// inTx runs f in a transaction of its own, whatever ctx's state (an event must be recorded
// also when the attempt that caused it was cancelled), and logs a failure.
func (s *Service) inTx(ctx context.Context, what string, f func(context.Context, pgx.Tx) error) {
	ctx = context.WithoutCancel(ctx)
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return f(ctx, tx) }); err != nil {
		s.log.Warn("could not "+what, "err", err)
	}
}

// finishRunTx finishes the run once its clients are all over and, when this call finished it
// and it ended partial or failed, records the event, in tx: one caller finishes a run.
func (s *Service) finishRunTx(ctx context.Context, tx pgx.Tx, runID string) error {
	var id string
	switch err := tx.QueryRow(ctx, finishRun, overStates, runID).Scan(&id); {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	rows, err := tx.Query(ctx, selectRunEnd, runID)
	if err != nil {
		return err
	}
	clients, err := pgx.CollectRows(rows, pgx.RowToStructByPos[EventClient])
	if err != nil {
		return err
	}
	e := Event{Event: EventRunFinished, RunID: runID, ClientsTotal: len(clients)}
	n := map[ClientState]int{}
	var names []string
	for _, c := range clients {
		n[c.State]++
		if c.State == StateDone {
			e.ClientsLoaded++
		} else {
			e.Clients = append(e.Clients, c)
			names = append(names, c.Name)
		}
	}
	if e.RunState = runStateOf(n); e.RunState != RunPartial && e.RunState != RunFailed {
		return nil // done, or interrupted on purpose
	}
	e.Summary = fmt.Sprintf("Run %s ended %s: %d of %d clients loaded; not loaded: %s",
		runID, e.RunState, e.ClientsLoaded, e.ClientsTotal, strings.Join(names, ", "))
	return s.recordEvent(ctx, tx, EventRunFinished+":"+runID, e)
}

// clientFailedTx records the events of a client that failed for good in a run: Meta refused
// its token (which one), and its N-th failed run in a row. msg is its error as recorded.
func (s *Service) clientFailedTx(ctx context.Context, tx pgx.Tx, a ClientRunArgs, err error, msg string) error {
	var c EventClient
	var own bool
	if err := tx.QueryRow(ctx, `SELECT id::text, name, coalesce(meta_access_token, '') <> '' FROM clients WHERE id = $1`,
		a.ClientID).Scan(&c.ID, &c.Name, &own); err != nil {
		return err
	}
	c.State, c.Error = StateFailed, msg
	if pipeline.RefusedToken(err) {
		e := Event{Event: EventTokenRefused, RunID: a.RunID, Client: &c, Token: "default", Error: msg}
		e.Summary = fmt.Sprintf("Meta refused the default token (META_ACCESS_TOKEN) for %s: every client without a token of its own fails with it", c.Name)
		if own {
			e.Token = "client"
			e.Summary = fmt.Sprintf("Meta refused %s's own token (clients.meta_access_token)", c.Name)
		}
		if err := s.recordEvent(ctx, tx, EventTokenRefused+":"+a.RunID+":"+a.ClientID, e); err != nil {
			return err
		}
	}
	n := s.cfg.Notify.FailuresInARow
	rows, err := tx.Query(ctx, selectClientStates, a.ClientID, n+1)
	if err != nil {
		return err
	}
	states, err := pgx.CollectRows(rows, pgx.RowTo[ClientState])
	if err != nil {
		return err
	}
	streak := 0
	for _, st := range states {
		if st != StateFailed {
			break
		}
		streak++
	}
	if streak != n { // once, at the N-th
		return nil
	}
	e := Event{Event: EventClientFailing, RunID: a.RunID, Client: &c, FailuresInARow: n, Error: msg,
		Summary: fmt.Sprintf("%s failed %d runs in a row: %s", c.Name, n, msg)}
	return s.recordEvent(ctx, tx, EventClientFailing+":"+a.ClientID+":"+a.RunID, e)
}

// notifyingFleet is the fleet's throttle of one client's attempt that records the event of
// Meta holding the client's ad account longer than the bound.
type notifyingFleet struct {
	fleetThrottle
	s *Service
	a ClientRunArgs
}

func (f notifyingFleet) Hold(ctx context.Context, account string, d time.Duration, reason string) error {
	err := f.fleetThrottle.Hold(ctx, account, d, reason)
	if d > f.s.cfg.Notify.ThrottleBound {
		f.s.inTx(ctx, "record a throttling event", func(ctx context.Context, tx pgx.Tx) error {
			var c EventClient
			if err := tx.QueryRow(ctx, `SELECT id::text, name FROM clients WHERE id = $1`, f.a.ClientID).Scan(&c.ID, &c.Name); err != nil {
				return err
			}
			e := Event{Event: EventClientThrottled, RunID: f.a.RunID, Client: &c, AdAccountID: account, ThrottledSeconds: d.Seconds(),
				Summary: fmt.Sprintf("Meta holds %s's ad account %s for %s (%s), longer than %s", c.Name, account,
					d.Round(time.Second), reason, f.s.cfg.Notify.ThrottleBound)}
			return f.s.recordEvent(ctx, tx, EventClientThrottled+":"+f.a.RunID+":"+f.a.ClientID, e)
		})
	}
	return err
}

// notifyWorker delivers an event to every webhook it was not delivered to yet.
type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	s *Service
}

// NextRetry waits a minute after the first failed attempt, doubling up to an hour.
func (w *notifyWorker) NextRetry(job *river.Job[NotifyArgs]) time.Time {
	d := time.Minute << min(job.Attempt-1, 6)
	return time.Now().Add(min(d, time.Hour))
}

func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	s := w.s
	var b []byte
	if err := s.pool.QueryRow(ctx, `SELECT body FROM notify_events WHERE id = $1`, job.Args.EventID).Scan(&b); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return river.JobCancel(fmt.Errorf("event %d is no longer recorded", job.Args.EventID))
		}
		return err
	}
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return river.JobCancel(fmt.Errorf("event %d: %w", job.Args.EventID, err))
	}
	e.ID = job.Args.EventID
	var failed []error
	for _, wh := range s.cfg.Notify.Webhooks {
		var delivered bool
		err := s.pool.QueryRow(ctx, `
INSERT INTO notify_deliveries (event_id, webhook) VALUES ($1, $2)
ON CONFLICT (event_id, webhook) DO UPDATE SET updated_at = now()
RETURNING delivered_at IS NOT NULL OR last_error LIKE 'refused:%'`, e.ID, wh.ID()).Scan(&delivered)
		if err != nil {
			return err
		}
		if delivered { // or refused for good
			continue
		}
		status, err := deliver(ctx, s.cfg.Notify, wh, e, func(err error) {
			_, _ = s.pool.Exec(context.WithoutCancel(ctx), `UPDATE notify_deliveries SET attempts = attempts + 1, last_error = $3, updated_at = now()
				WHERE event_id = $1 AND webhook = $2`, e.ID, wh.ID(), errText(err))
		})
		if errors.Is(err, errPermanent) {
			// The receiver refuses the body: asking again would not change it. Its row keeps
			// the error and no delivered_at.
			s.log.Error("event refused by the webhook: not retried", "event", e.Event, "id", e.ID, "webhook", wh.ID(), "err", err)
			continue
		}
		if err != nil {
			s.log.Warn("event not delivered", "event", e.Event, "id", e.ID, "webhook", wh.ID(), "err", err)
			failed = append(failed, fmt.Errorf("webhook %s: %w", wh.ID(), err))
			continue
		}
		if _, err := s.pool.Exec(context.WithoutCancel(ctx), `UPDATE notify_deliveries SET delivered_at = now(), last_error = '', updated_at = now()
			WHERE event_id = $1 AND webhook = $2`, e.ID, wh.ID()); err != nil {
			return err
		}
		s.log.Info("event delivered", "event", e.Event, "id", e.ID, "webhook", wh.ID(), "status", status)
	}
	return errors.Join(failed...)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// errPermanent marks an answer that asking again will not change (a 4xx other than 408 and 429).
var errPermanent = errors.New("refused")

// deliver posts e to wh with cfg's retries; attempted is told each failed POST's error. It
// returns the last HTTP status.
func deliver(ctx context.Context, cfg NotifyConfig, wh Webhook, e Event, attempted func(error)) (int, error) {
	body, err := Body(wh.Format, e)
	if err != nil {
		return 0, err
	}
	status := 0
	err = backoff.Do(ctx, cfg.Retry, func(ctx context.Context) error {
		var err error
		status, err = post(ctx, cfg, wh, e, body)
		if err == nil {
			return nil
		}
		if attempted != nil {
			attempted(err)
		}
		if errors.Is(err, errPermanent) {
			return err
		}
		return backoff.Retryable(err)
	})
	return status, err
}

// post makes one POST of body to wh, signed. Errors never hold the URL.
func post(ctx context.Context, cfg NotifyConfig, wh Webhook, e Event, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "metapipe")
	req.Header.Set("X-Metapipe-Event", e.Event)
	req.Header.Set("X-Metapipe-Event-Id", strconv.FormatInt(e.ID, 10))
	if cfg.Secret != "" {
		req.Header.Set("X-Metapipe-Signature", Sign(cfg.Secret, body))
	}
	res, err := cfg.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold the webhook's secret
		}
		return 0, fmt.Errorf("POST: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return res.StatusCode, nil
	case res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != 408 && res.StatusCode != 429:
		return res.StatusCode, fmt.Errorf("%w: HTTP %d", errPermanent, res.StatusCode)
	}
	return res.StatusCode, fmt.Errorf("HTTP %d", res.StatusCode)
}

// Sign is the X-Metapipe-Signature of body: "sha256=" and the hex HMAC-SHA256 of the body
// keyed by secret. A receiver computes the same over the raw body and compares in constant time.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Body is what is posted for e in a format: the generic JSON (Event), or Slack's
// incoming-webhook body ({"text": …}, mrkdwn).
func Body(format string, e Event) ([]byte, error) {
	if format != FormatSlack {
		return json.Marshal(e)
	}
	var b strings.Builder
	b.WriteString(":rotating_light: *metapipe*: " + slackEscape(e.Summary))
	for _, c := range e.Clients {
		fmt.Fprintf(&b, "\n• *%s*: %s", slackEscape(c.Name), slackEscape(firstOf(c.Error, string(c.State))))
	}
	if e.Client != nil && e.Error != "" && e.Event != EventClientFailing {
		fmt.Fprintf(&b, "\n> %s", slackEscape(e.Error))
	}
	if e.RunID != "" {
		fmt.Fprintf(&b, "\nRun `%s`", e.RunID)
	}
	return json.Marshal(map[string]string{"text": b.String()})
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// slackEscape escapes what Slack's mrkdwn reads as markup (&, <, >).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// NotifyResult is one webhook's answer to a test event.
type NotifyResult struct {
	Webhook string // its ID
	Status  int    // the last HTTP status (0: none)
	Err     error
}

// NotifyTest posts a sample event (event "test") to every webhook of cfg, with its retries,
// without a database: what `metapipe notify test` does.
func NotifyTest(ctx context.Context, cfg NotifyConfig) ([]NotifyResult, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := Event{Event: EventTest, At: time.Now().UTC(),
		Summary: "metapipe notify test: this webhook will be told of runs that end partial or failed, clients failing run after run, tokens Meta refuses and long throttling"}
	var out []NotifyResult
	for _, wh := range cfg.Webhooks {
		status, err := deliver(ctx, cfg, wh, e, nil)
		out = append(out, NotifyResult{Webhook: wh.ID(), Status: status, Err: err})
	}
	return out, nil
}
