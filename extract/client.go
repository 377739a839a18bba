package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/backoff"
)

// DefaultGraphURL and DefaultAPIVersion are used when META_GRAPH_URL / META_API_VERSION are unset.
const (
	DefaultGraphURL   = "https://graph.facebook.com"
	DefaultAPIVersion = "v25.0"
)

// RetryConfig bounds the retries of one call.
type RetryConfig struct {
	Base        time.Duration // first backoff (500ms)
	Cap         time.Duration // longest backoff (30s)
	MaxAttempts int           // attempts for transient errors (6)
	MaxThrottle int           // throttled answers tolerated for one call (20)
	Timeout     time.Duration // each attempt's own timeout (60s)
	// RunLag bounds, per request, how long a report run's own endpoints may deny the run
	// (Meta's lag after creating it: docs/META_API.md, "Errors") before it counts as unknown
	// (2m). The same request is retried meanwhile, with the backoff above.
	RunLag time.Duration
}

func (c RetryConfig) withDefaults() RetryConfig {
	if c.Base == 0 {
		c.Base = 500 * time.Millisecond
	}
	if c.Cap == 0 {
		c.Cap = 30 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 6
	}
	if c.MaxThrottle == 0 {
		c.MaxThrottle = 20
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.RunLag == 0 {
		c.RunLag = 2 * time.Minute
	}
	return c
}

// Client calls the Graph API. It is safe for concurrent use.
type Client struct {
	BaseURL   string // e.g. https://graph.facebook.com, no trailing slash
	Version   string // e.g. v25.0
	AppSecret string // optional: adds appsecret_proof
	HTTP      *http.Client
	Retry     RetryConfig
	// OnUsage, when set, is told the usage headers of every response (of every session, at
	// once from many goroutines): what pipeline's adaptive concurrency follows.
	OnUsage func(Usage)
	// OnAnswer, when set, is told every attempt's outcome (at once from many goroutines): the
	// request's kind and its error (nil: a decoded answer). An attempt ended by the caller's
	// context is not told. What the service's metapipe_graph_requests_total counts.
	OnAnswer func(kind CallKind, err error)
}

// NewClient returns a client with TLS verification on (the default transport) and sane defaults.
func NewClient(baseURL, version, appSecret string) *Client {
	if baseURL == "" {
		baseURL = DefaultGraphURL
	}
	if version == "" {
		version = DefaultAPIVersion
	}
	// The default transport (TLS verified, proxies from the environment), keeping enough idle
	// connections for every report run in flight: the default 2 per host would reconnect for
	// almost every poll when dozens of clients run at once.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 512
	tr.MaxIdleConnsPerHost = 256
	return &Client{
		BaseURL:   strings.TrimRight(baseURL, "/"),
		Version:   version,
		AppSecret: appSecret,
		HTTP:      &http.Client{Transport: tr},
	}
}

// Session is one ad account's view of the client: its token, its throttle and its counters.
type Session struct {
	c        *Client
	Account  string // digits, without act_
	token    Token
	Throttle *Throttle
	Stats    *Stats
}

// Session binds a token and an ad account (with or without the act_ prefix).
func (c *Client) Session(account string, token Token, th *Throttle) *Session {
	if th == nil {
		th = NewThrottle(ThrottleConfig{})
	}
	account = strings.TrimPrefix(account, "act_")
	if th.account == "" {
		th.account = account
	}
	return &Session{c: c, Account: account, token: token, Throttle: th, Stats: &Stats{}}
}

// call makes one Graph API request with retries: transient errors back off exponentially with
// jitter and a cap (internal/backoff), throttled answers wait what the account's [Throttle]
// says and do not count as attempts. path is relative to the version ("act_1/insights") or an
// absolute URL on the Graph host (a paging.next link). The decoded JSON body goes into out.
func (s *Session) call(ctx context.Context, kind CallKind, method, path string, params url.Values, out any) error {
	return s.callWith(ctx, callOptions{}, kind, method, path, params, out)
}

// callOptions change how one call is made.
type callOptions struct {
	timeout      time.Duration // each attempt's own timeout instead of RetryConfig.Timeout
	timeoutFinal bool          // an attempt that times out is not retried: the error is returned
}

// callWith is call with options.
func (s *Session) callWith(ctx context.Context, o callOptions, kind CallKind, method, path string, params url.Values, out any) error {
	cfg := s.c.Retry.withDefaults()
	if o.timeout > 0 {
		cfg.Timeout = o.timeout
	}
	policy := backoff.Policy{Base: cfg.Base, Cap: cfg.Cap, JitterPercent: 20, MaxAttempts: cfg.MaxAttempts}
	attempts, throttled := 0, 0
	err := backoff.Do(ctx, policy, func(ctx context.Context) error {
		for {
			waited, err := s.Throttle.Wait(ctx, kind == CallSubmit || kind == CallSync)
			s.Stats.ThrottleWait.Add(int64(waited))
			if err != nil {
				return err
			}
			hdr, err := s.once(ctx, cfg.Timeout, kind, method, path, params, out)
			if s.c.OnAnswer != nil && ctx.Err() == nil {
				s.c.OnAnswer(kind, err)
			}
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			switch ClassOf(err) {
			case ClassThrottled:
				throttled++
				s.Stats.Throttled.Add(1)
				if throttled > cfg.MaxThrottle {
					return fmt.Errorf("still throttled after %d waits: %w", throttled-1, err)
				}
				s.Throttle.Throttled(hdr)
				continue // the throttle holds the next attempt back as long as Meta said
			case ClassTransient:
				attempts++
				if o.timeoutFinal && errors.Is(err, ErrAttemptTimeout) {
					return err
				}
				if attempts < cfg.MaxAttempts {
					s.Stats.Retries.Add(1)
				}
				return backoff.Retryable(err)
			default:
				return err
			}
		}
	})
	if err != nil && ctx.Err() == nil && ClassOf(err) == ClassTransient {
		return fmt.Errorf("gave up after %d attempts: %w", attempts, err)
	}
	return err
}

// callRun is call for a GET on a report run's own endpoints (its poll, its result pages):
// besides call's retries, an answer that denies the run ([ClassRunLag]) is retried on the same
// request with backoff (not counted as an attempt) for up to RetryConfig.RunLag; past that it
// returns [ErrRunUnknown] wrapping Meta's last answer.
func (s *Session) callRun(ctx context.Context, kind CallKind, runID, path string, params url.Values, out any) error {
	cfg := s.c.Retry.withDefaults()
	lag := backoff.Policy{Base: cfg.Base, Cap: cfg.Cap, JitterPercent: 20, MaxElapsed: cfg.RunLag}.Backoff()
	start := time.Now()
	for {
		err := s.call(ctx, kind, http.MethodGet, path, params, out)
		if err == nil || classOnRun(err, runID) != ClassRunLag {
			return err
		}
		d, stop := lag.Next()
		if stop {
			return fmt.Errorf("%w: denied for %s: %w", ErrRunUnknown, roundDuration(time.Since(start)), err)
		}
		s.Stats.Lagged.Add(1)
		if err := backoff.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// roundDuration rounds d for a message: to the millisecond under a second, else to the second.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// once makes a single attempt with its own timeout.
func (s *Session) once(ctx context.Context, timeout time.Duration, kind CallKind, method, path string, params url.Values, out any) (http.Header, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	u, err := s.url(path)
	if err != nil {
		return nil, err
	}
	if err := refuseSimulatorToken(u, s.token); err != nil {
		return nil, err
	}
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	if s.c.AppSecret != "" {
		q.Set("appsecret_proof", appSecretProof(s.c.AppSecret, s.token))
	}
	var body io.Reader
	if method == http.MethodPost {
		// The token travels in the form body, never in the URL.
		q.Set("access_token", s.token.Reveal())
		body = strings.NewReader(q.Encode())
	} else {
		uq := u.Query()
		for k, v := range q {
			uq[k] = v
		}
		u.RawQuery = uq.Encode()
	}
	req, err := http.NewRequestWithContext(actx, method, u.String(), body)
	if err != nil {
		return nil, scrubError(err, s.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req.Header.Set("Authorization", "OAuth "+s.token.Reveal())
	}
	req.Header.Set("Accept", "application/json")

	s.Stats.Requests.Add(1)
	switch kind {
	case CallSubmit:
		s.Stats.Submits.Add(1)
	case CallPoll:
		s.Stats.Polls.Add(1)
	case CallResults:
		s.Stats.Pages.Add(1)
	case CallSync:
		s.Stats.Syncs.Add(1)
	}
	resp, err := s.c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if actx.Err() != nil {
			return nil, fmt.Errorf("%w after %s", ErrAttemptTimeout, timeout)
		}
		return nil, &netError{err: scrubError(stripURL(err), s.token)}
	}
	defer resp.Body.Close()
	if u, ok := s.Throttle.Observe(resp.Header); ok && s.c.OnUsage != nil {
		s.c.OnUsage(u)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		if ctx.Err() != nil {
			return resp.Header, ctx.Err()
		}
		if actx.Err() != nil {
			return resp.Header, fmt.Errorf("%w after %s reading the body (HTTP %d)", ErrAttemptTimeout, timeout, resp.StatusCode)
		}
		return resp.Header, &netError{err: fmt.Errorf("read body (HTTP %d): %w", resp.StatusCode, scrubError(err, s.token))}
	}
	if ge := parseGraphError(resp.StatusCode, raw); ge != nil {
		ge.Message = Scrub(ge.Message, s.token)
		return resp.Header, ge
	}
	if resp.StatusCode >= 300 {
		return resp.Header, fmt.Errorf("%w: HTTP %d with %s", ErrBadResponse, resp.StatusCode, Scrub(describeBody(resp.Header, raw), s.token))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return resp.Header, fmt.Errorf("%w: %w in %s", ErrBadResponse, scrubError(err, s.token), Scrub(describeBody(resp.Header, raw), s.token))
	}
	return resp.Header, nil
}

// url resolves path against the Graph URL; absolute links must stay on the Graph host and lose
// any access_token Meta put in them.
func (s *Session) url(path string) (*url.URL, error) {
	base, err := url.Parse(s.c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("graph url: %w", err)
	}
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		u, err := url.Parse(path)
		if err != nil {
			return nil, fmt.Errorf("%w: paging link: %w", ErrBadResponse, scrubError(err, s.token))
		}
		if u.Host != base.Host {
			return nil, fmt.Errorf("%w: paging link to another host %q", ErrBadResponse, u.Host)
		}
		q := u.Query()
		q.Del("access_token")
		q.Del("appsecret_proof")
		u.RawQuery = q.Encode()
		return u, nil
	}
	return base.JoinPath(s.c.Version, path), nil
}

// stripURL drops the URL from a *url.Error: it says nothing useful and may carry secrets.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// parseGraphError returns the error envelope if the body is one.
func parseGraphError(status int, raw []byte) *GraphError {
	var env struct {
		Error *struct {
			Message   string          `json:"message"`
			Type      string          `json:"type"`
			Code      json.Number     `json:"code"`
			Subcode   json.Number     `json:"error_subcode"`
			Transient json.RawMessage `json:"is_transient"`
			TraceID   string          `json:"fbtrace_id"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Error == nil {
		return nil
	}
	e := env.Error
	code, _ := e.Code.Int64()
	sub, _ := e.Subcode.Int64()
	return &GraphError{
		HTTPStatus: status, Code: int(code), Subcode: int(sub), Type: e.Type, Message: e.Message,
		Transient: strings.TrimSpace(string(e.Transient)) == "true", TraceID: e.TraceID,
	}
}

// describeBody names what came back instead of JSON, without echoing much of it.
func describeBody(h http.Header, raw []byte) string {
	ct := h.Get("Content-Type")
	n := len(raw)
	snippet := strings.Join(strings.Fields(string(raw[:min(n, 80)])), " ")
	return fmt.Sprintf("%d bytes of %q starting %q", n, ct, snippet)
}
