package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/backoff"
)

// DefaultGraphURL and DefaultAPIVersion are used when META_GRAPH_URL / META_API_VERSION are
// unset. DefaultAPIVersion is the newest Marketing API version Meta serves (v27.0, released
// 2026-11-04, expiry not yet set; v25.0 expires 2027-02-23, v26.0's expiry is not set either:
// developers.facebook.com/documentation/ads-commerce/marketing-api/marketing-api-changelog/versions,
// read 2026-12-07).
const (
	DefaultGraphURL   = "https://graph.facebook.com"
	DefaultAPIVersion = "v27.0"
)

// RetryConfig bounds what one request puts up with, each budget one number (docs/META_API.md,
// "Budgets", has their sources and the worst cases they make).
type RetryConfig struct {
	Base        time.Duration // first backoff after a transient answer or a run lag; defaults to DefaultRetryBase (500ms)
	Cap         time.Duration // longest such backoff; defaults to DefaultRetryCap (30s)
	MaxAttempts int           // transient answers tolerated for one request, the last included; defaults to DefaultMaxAttempts (6)
	Timeout     time.Duration // each attempt's own timeout; defaults to DefaultAttemptTimeout (60s)
	// RunLag bounds, per request, how long a report run's own endpoints may deny the run
	// (Meta's lag after creating it: docs/META_API.md, "Errors") before it counts as unknown
	// (defaults to DefaultRunLag, 2m). The same request is retried meanwhile, with the backoff above.
	RunLag time.Duration
	// Throttled bounds, per request, how long Meta may keep answering it with throttling
	// errors; defaults to DefaultThrottled (60m: Meta's quotas count calls over a rolling hour). Meanwhile the ad account
	// is held for Meta's regain time, or for ThrottleConfig.Cooldown doubling with each
	// throttled answer in a row, up to ThrottleConfig.MaxWait.
	Throttled time.Duration
	// NotReady bounds how long a completed report run's results may answer "not ready"
	// (2601/1815107) before the read gives up; defaults to DefaultNotReady (10m;
	// facebookarchive/php-graph-sdk#915, #1094).
	// The waits start at PollConfig.NotReadyWait and double, up to Cap.
	NotReady time.Duration
	// PageFloor is the smallest page size asked for: a result page Meta refuses as too much
	// data is asked for again from the same cursor at half the size, down to this; defaults to
	// DefaultPageFloor (10).
	PageFloor int
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
	poll     PollConfig // the waits after a "not ready" (NotReadyWait)
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

// call makes one Graph API request as [decide] says: transient errors back off exponentially,
// throttled answers hold the account's [Throttle], Meta's lag on a report run is waited out.
// path is relative to the version ("act_1/insights") or an absolute URL on the Graph host (a
// paging.next link). The decoded JSON body goes into out.
func (s *Session) call(ctx context.Context, kind CallKind, method, path string, params url.Values, out any) error {
	_, err := s.do(ctx, ask{kind: kind}, method, path, params, out)
	return err
}

// callRun is call for a GET on a report run's own endpoints (its poll, its result pages): an
// answer that denies the run ([ClassRunLag]) is retried on the same request for up to
// RetryConfig.RunLag; past that it returns [ErrRunUnknown] wrapping Meta's last answer.
func (s *Session) callRun(ctx context.Context, kind CallKind, runID, path string, params url.Values, out any) error {
	_, err := s.do(ctx, ask{kind: kind, runID: runID}, http.MethodGet, path, params, out)
	return err
}

// do carries out [decide]'s decisions for one request: it asks, and asks again as long as the
// decision says so, each attempt with its own timeout (timeout, or RetryConfig.Timeout when 0).
// A page (a.limit > 0) is asked with limit=a.limit, which overrides the limit of a paging.next
// link; the page size it ended with is returned, so that a read goes on at the size Meta
// accepted. The loop ends: every class of answer has its budget (decide).
func (s *Session) do(ctx context.Context, a ask, method, path string, params url.Values, out any) (limit int, err error) {
	return s.doWith(ctx, 0, a, method, path, params, out)
}

func (s *Session) doWith(ctx context.Context, timeout time.Duration, a ask, method, path string, params url.Values, out any) (int, error) {
	cfg := s.c.Retry.WithDefaults()
	if timeout <= 0 {
		timeout = cfg.Timeout
	}
	p := policyOf(cfg, s.Throttle.cfg, s.poll)
	var h history
	start := time.Now()
	for {
		waited, err := s.Throttle.Wait(ctx, a.kind == CallSubmit || a.kind == CallSync)
		s.Stats.ThrottleWait.Add(int64(waited))
		if err != nil {
			return a.limit, err
		}
		q := params
		if a.limit > 0 {
			q = withParam(params, "limit", strconv.Itoa(a.limit))
		}
		hdr, err := s.once(ctx, timeout, a.kind, method, path, q, out)
		if s.c.OnAnswer != nil && ctx.Err() == nil {
			s.c.OnAnswer(a.kind, err)
		}
		if err != nil && ctx.Err() != nil {
			return a.limit, ctx.Err()
		}
		var regain time.Duration
		if err != nil {
			u, _ := ParseUsage(hdr, s.Throttle.cfg.RegainUnit)
			regain = u.Regain
		}
		var c Class
		if err != nil {
			c = classify(a, err)
			h.at(c, time.Since(start))
		}
		d := decide(a, answer{err: err, regain: regain}, h, p)
		if err != nil && d.verb != verbSmaller { // a smaller page is a new question, not an attempt
			h.counted(c)
		}
		switch d.verb {
		case verbDone:
			s.Throttle.answered()
			return a.limit, nil
		case verbRetry:
			switch c {
			case ClassRunLag:
				s.Stats.Lagged.Add(1)
			case ClassNotReady:
				s.Stats.NotReady.Add(1)
			default:
				s.Stats.Retries.Add(1)
			}
			if err := backoff.Sleep(ctx, jitter(d.wait)); err != nil {
				return a.limit, err
			}
		case verbHold:
			s.Stats.Throttled.Add(1)
			s.Throttle.hold(d.wait, "throttled")
			if held := heldHook(ctx); held != nil {
				held()
			}
		case verbSmaller:
			s.Stats.SmallerPages.Add(1)
			a.limit = d.limit
		default:
			return a.limit, d.err
		}
	}
}

// jitter moves d by up to ±20 %, so that requests that failed together do not retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d - d/5 + rand.N(2*d/5+1)
}

// withParam is params with key set to value, params unchanged.
func withParam(params url.Values, key, value string) url.Values {
	q := make(url.Values, len(params)+1)
	for k, v := range params {
		q[k] = v
	}
	q.Set(key, value)
	return q
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

	req, err := s.newRequest(actx, method, path, params)
	if err != nil {
		return nil, err
	}
	s.count(kind)
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
	return resp.Header, s.decodeAnswer(resp, raw, out)
}

// newRequest builds one call: the token in the form body of a POST, in the Authorization
// header otherwise, never in the URL.
func (s *Session) newRequest(ctx context.Context, method, path string, params url.Values) (*http.Request, error) {
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
		q.Set("access_token", s.token.Reveal())
		body = strings.NewReader(q.Encode())
	} else {
		uq := u.Query()
		for k, v := range q {
			uq[k] = v
		}
		u.RawQuery = uq.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, scrubError(err, s.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req.Header.Set("Authorization", "OAuth "+s.token.Reveal())
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// count adds a call of the kind to the session's figures.
func (s *Session) count(kind CallKind) {
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
}

// decodeAnswer decodes an answer's body into out, or returns the Graph error it holds.
func (s *Session) decodeAnswer(resp *http.Response, raw []byte, out any) error {
	if ge := parseGraphError(resp.StatusCode, raw); ge != nil {
		ge.Message = Scrub(ge.Message, s.token)
		if ge.Code == 2635 {
			return &APIVersionError{Version: s.c.Version, Latest: latestVersion.FindString(ge.Message), Graph: ge}
		}
		return ge
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%w: HTTP %d with %s", ErrBadResponse, resp.StatusCode, Scrub(describeBody(resp.Header, raw), s.token))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: %w in %s", ErrBadResponse, scrubError(err, s.token), Scrub(describeBody(resp.Header, raw), s.token))
	}
	return nil
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
